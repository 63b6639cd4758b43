"""Anchoring (存证): stored snapshots -> ``SnapshotAnchored`` logs of the Anchor contract.

``Anchorer.anchor`` sends the store's unanchored snapshots in batches (``BATCH`` per
transaction), then records each one's anchoring transaction, block and log index in the index.
``reconcile`` reads the contract's logs after the newest recorded anchor and records the ones a
killed run sent but did not record, so a re-run never anchors a snapshot twice.

``read_anchors`` is the regulator's side: every anchor of the contract, by (object_id, version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from eth_abi import decode as abi_decode
from eth_utils import keccak

from regchain.supervise import SuperviseError

EVENT_SIGNATURE = "SnapshotAnchored(bytes32,string,uint256,bytes32,bytes32)"
TOPIC = "0x" + keccak(text=EVENT_SIGNATURE).hex()
BATCH = 256  # Anchor.vy MAX_BATCH
ZERO32 = b"\x00" * 32


@dataclass(frozen=True)
class Anchor:
    object_id: str
    version: int
    digest: str       # 64 hex, no 0x
    business_tx: str  # 0x + 64 hex
    tx: str
    block: int
    log_index: int


def decode_log(log: dict) -> Anchor:
    object_id, version, digest, business_tx = abi_decode(
        ["string", "uint256", "bytes32", "bytes32"], bytes.fromhex(log["data"][2:]))
    return Anchor(object_id, version, digest.hex(), "0x" + business_tx.hex(), log["transactionHash"],
                  int(log["blockNumber"], 16), int(log["logIndex"], 16))


def read_anchors(rpc, address: str, first_block: int = 0, last_block: int | None = None,
                 chunk: int = 5000) -> list[Anchor]:
    """Every SnapshotAnchored of the contract at ``address`` in [first_block, last_block], in log order."""
    last = int(rpc.call("eth_blockNumber", []), 16) if last_block is None else last_block
    out = []
    start = first_block
    while start <= last:
        end = min(last, start + chunk - 1)
        logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": hex(start), "toBlock": hex(end),
                                         "topics": [TOPIC]}])
        out += [decode_log(log) for log in logs]
        start = end + 1
    return out


class Anchorer:
    """Sends anchors through an ape contract instance of Anchor, signed by ``sender``."""

    def __init__(self, contract, sender, rpc, *, batch: int = BATCH, first_block: int = 0, tx_params=None,
                 echo: Callable[[str], None] | None = None):
        self.contract, self.sender, self.rpc = contract, sender, rpc
        self.address = str(contract.address)
        self.batch = batch
        self.first_block = first_block
        self.tx_params = tx_params or {}
        self.echo = echo or (lambda s: None)
        self.gas_used = 0
        self.sent = 0

    def reconcile(self, store) -> int:
        """Record anchors on chain that the store does not know yet (a run killed after sending)."""
        unanchored = {(r.object_id, r.version): r for r in store.unanchored()}
        if not unanchored:
            return 0
        newest = store.db.execute("SELECT MAX(anchor_block) FROM snapshots").fetchone()[0]
        found = []
        for a in read_anchors(self.rpc, self.address, max(self.first_block, (newest or 0))):
            row = unanchored.get((a.object_id, a.version))
            if row is not None and row.digest == a.digest:
                found.append((a.object_id, a.version, a.tx, a.block, a.log_index))
                del unanchored[(a.object_id, a.version)]
        if found:
            store.begin()
            store.mark_anchored(found)
            store.commit()
            self.echo(f"recorded {len(found)} anchors a previous run sent")
        return len(found)

    def anchor(self, store, rows, crash: Callable[[str], None] = lambda point: None) -> None:
        for i in range(0, len(rows), self.batch):
            part = rows[i:i + self.batch]
            items = [(r.object_id, r.version, bytes.fromhex(r.digest),
                      bytes.fromhex(r.business_tx[2:]) if r.business_tx else ZERO32) for r in part]
            try:
                receipt = self.send(items)
            except SuperviseError:
                raise
            except Exception as exc:  # ape's errors: revert, node refused, connection
                raise SuperviseError(f"anchoring {len(items)} snapshots failed: "
                                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            crash("anchor_sent")
            logs = [log for log in receipt["logs"] if log["topics"] and log["topics"][0] == TOPIC]
            if len(logs) != len(part):
                raise SuperviseError(f"anchoring transaction {receipt['transactionHash']} logged {len(logs)} "
                                     f"anchors for {len(part)} snapshots")
            marks = []
            for r, log in zip(part, logs):
                a = decode_log(log)
                if (a.object_id, a.version, a.digest) != (r.object_id, r.version, r.digest):
                    raise SuperviseError(f"anchor log {a.object_id}/{a.version} does not match {r.object_id}/{r.version}")
                marks.append((r.object_id, r.version, a.tx, a.block, a.log_index))
            store.begin()
            store.mark_anchored(marks)
            store.commit()
            self.gas_used += int(receipt["gasUsed"], 16)
            self.sent += len(part)

    def send(self, items: list) -> dict:
        """Send one anchor transaction; its receipt as the node returns it (JSON-RPC)."""
        tx = self.contract.anchor(items, sender=self.sender, **self.tx_params)
        return self.rpc.call("eth_getTransactionReceipt", [tx.txn_hash])


class RpcAnchorer(Anchorer):
    """Sends anchors as plain JSON-RPC transactions from an account the node holds unlocked
    (anvil's dev accounts, a node-managed key): no ape round trips; the benchmark's path."""

    SELECTOR = keccak(text="anchor((string,uint256,bytes32,bytes32)[])")[:4]

    def __init__(self, address: str, sender: str, rpc, **kwargs):
        self.contract = None
        super().__init__(_Address(address), sender, rpc, **kwargs)

    def send(self, items: list) -> dict:
        from eth_abi import encode as abi_encode

        data = "0x" + (self.SELECTOR + abi_encode(["(string,uint256,bytes32,bytes32)[]"], [items])).hex()
        tx = {"from": self.sender, "to": self.address, "data": data, "gas": hex(30_000_000), "gasPrice": "0x0"}
        receipt = self.rpc.call("eth_sendTransactionSync", [tx])
        if int(receipt["status"], 16) != 1:
            raise SuperviseError(f"anchoring transaction {receipt['transactionHash']} reverted")
        return receipt


@dataclass(frozen=True)
class _Address:
    address: str
