"""Anchoring (存证): stored snapshots -> ``SnapshotAnchored`` logs of the Anchor contract.

``Anchorer.send_rows`` sends the store's unanchored snapshots in batches (``BATCH`` per
transaction), a writer's window of transactions before reading their receipts (on an anvil: one
block), and yields each one's anchoring transaction, block and log index; ``Beside`` runs it on a
thread beside the generation and records those in the index.
``reconcile`` reads the contract's logs after the newest recorded anchor and records the ones a
killed run sent but did not record, so a re-run never anchors a snapshot twice.

``read_anchors`` is the regulator's side: every anchor of the contract, by (object_id, version).
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterator

from eth_abi import decode as abi_decode
from eth_utils import keccak

from regchain.supervise import SuperviseError

EVENT_SIGNATURE = "SnapshotAnchored(bytes32,string,uint256,bytes32,bytes32)"
TOPIC = "0x" + keccak(text=EVENT_SIGNATURE).hex()
BATCH = 256  # Anchor.vy MAX_BATCH
ZERO32 = b"\x00" * 32
# gas limit of one anchor transaction (never eth_estimateGas): 256 snapshots with 128-character
# object ids (String[128], the longest) measured 2.09 M on london; a margin on top
ANCHOR_GAS = 3_000_000
SELECTOR = keccak(text="anchor((string,uint256,bytes32,bytes32)[])")[:4]


@dataclass(frozen=True)
class Anchor:
    object_id: str
    version: int
    digest: str       # 64 hex, no 0x
    business_tx: str  # 0x + 64 hex
    tx: str
    block: int
    log_index: int


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def anchor_item(object_id: str, version: int, digest: bytes, business_tx: bytes) -> bytes:
    """The ABI encoding of one ``(string, uint256, bytes32, bytes32)``: an element of ``anchor``'s
    argument and, the same bytes, the data of its ``SnapshotAnchored`` log (object_key is a topic).
    Written out here (the head's offset to the string, the three words, the string's length and
    padded bytes): eth_abi's generic encoder cost more CPU than the rest of anchoring together;
    a test checks it against eth_abi."""
    oid = object_id.encode("utf-8")
    return (b"\x00" * 31 + b"\x80" + _word(version) + digest + business_tx + _word(len(oid))
            + oid + b"\x00" * (-len(oid) % 32))


def anchor_calldata(items: list) -> bytes:
    """``anchor((string,uint256,bytes32,bytes32)[])`` calldata for (object_id, version, digest, business_tx) items."""
    encoded = [anchor_item(*item) for item in items]
    offsets, at = [], 32 * len(encoded)
    for e in encoded:
        offsets.append(_word(at))
        at += len(e)
    return SELECTOR + _word(32) + _word(len(encoded)) + b"".join(offsets) + b"".join(encoded)


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
    """Sends anchors to the Anchor contract at ``contract.address`` through regchain.writer
    (``writer``, else one for ``sender``: an ape account on ape's connected network, or an
    address whose key the node at ``rpc`` holds), signed by ``sender``: the network
    profile's gas price, ANCHOR_GAS, nonces counted here."""

    def __init__(self, contract, sender, rpc, *, batch: int = BATCH, first_block: int = 0,
                 echo: Callable[[str], None] | None = None, writer=None):
        self.contract, self.sender, self.rpc = contract, sender, rpc
        self.address = str(contract.address)
        self.batch = batch
        self.first_block = first_block
        self.echo = echo or (lambda s: None)
        self.gas_used = 0
        self.sent = 0
        self._writer = writer

    @property
    def writer(self):
        if self._writer is None:
            from regchain.networks import ProfileError, profile_for
            from regchain.rpc import Rpc
            from regchain.writer import WriteError, Writer, signer_for_account, writer_for

            try:
                if isinstance(self.sender, str):  # a key the node holds
                    rpc = Rpc(self.rpc.uri)
                    self._writer = Writer(rpc, signer_for_account(self.sender, rpc=rpc), profile_for(None),
                                          again="run the anchoring again")
                else:
                    self._writer = writer_for(self.sender, again="run the anchoring again")
                self._writer.settle()
            except (WriteError, ProfileError) as exc:
                raise SuperviseError(f"anchoring: {exc}") from None
        return self._writer

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

    def send_rows(self, rows, crash: Callable[[str], None] = lambda point: None) -> Iterator[list[tuple]]:
        """Send the anchors of ``rows``: batches of ``self.batch`` sent together, up to the
        writer's window at a time (on an anvil the writer mines them in one block; a chain that
        mines by itself takes them as its blocks fill), then each batch's receipt checked against
        what it sent; yields each window's index marks (object_id, version, tx, block, log index)
        for the caller to record. Touches no store (the generator's anchoring thread runs it). A
        kill after the send and before the record is what ``reconcile`` finds."""
        batches = []
        for i in range(0, len(rows), self.batch):
            part = rows[i:i + self.batch]
            batches.append((part, [(r.object_id, r.version, bytes.fromhex(r.digest),
                                    bytes.fromhex(r.business_tx[2:]) if r.business_tx else ZERO32) for r in part]))
        window = max(1, self.window())
        for w in range(0, len(batches), window):
            group = batches[w:w + window]
            try:
                receipts = self.send_all([items for _, items in group])
            except SuperviseError:
                raise
            except Exception as exc:  # ape's errors: revert, node refused, connection
                raise SuperviseError(f"anchoring {sum(len(items) for _, items in group)} snapshots failed: "
                                     f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
            crash("anchor_sent")
            marks, gas = [], 0
            for (part, items), receipt in zip(group, receipts):
                marks += self._checked(part, items, receipt)
                gas += int(receipt["gasUsed"], 16)
            self.gas_used += gas
            self.sent += len(marks)
            yield marks

    @staticmethod
    def _checked(part, items, receipt) -> list[tuple]:
        """The index marks of one batch from its receipt, each log compared with the item sent."""
        logs = [log for log in receipt["logs"] if log["topics"] and log["topics"][0] == TOPIC]
        if len(logs) != len(part):
            raise SuperviseError(f"anchoring transaction {receipt['transactionHash']} logged {len(logs)} "
                                 f"anchors for {len(part)} snapshots")
        marks = []
        for r, item, log in zip(part, items, logs):
            if log["data"][2:].lower() != anchor_item(*item).hex():  # the log's data is the item's encoding
                a = decode_log(log)
                raise SuperviseError(f"anchor log {a.object_id}/{a.version} does not match {r.object_id}/{r.version}")
            marks.append((r.object_id, r.version, log["transactionHash"], int(log["blockNumber"], 16),
                          int(log["logIndex"], 16)))
        return marks

    def window(self) -> int:
        """Anchor transactions sent before their receipts are read: the writer's window."""
        return self.writer.window

    def send(self, items: list) -> dict:
        """Send one anchor transaction; its receipt as the node returns it (JSON-RPC)."""
        return self.send_all([items])[0]

    def send_all(self, batches: list[list]) -> list[dict]:
        """Send one anchor transaction per batch, all before reading a receipt; their receipts
        (JSON-RPC), in order. The first batch is tried with eth_call first: a refusal (a signer
        without the role, a paused register) is told before anything is sent."""
        from regchain.writer import WriteError

        calldata = [anchor_calldata(items) for items in batches]
        n = sum(len(items) for items in batches)
        try:
            self.writer.check(self.address, calldata[0])
            self.writer.flush()  # nothing of another caller's in our receipts
            for data in calldata:
                self.writer.enqueue(self.address, data, ANCHOR_GAS, "anchor")
            return self.writer.flush()
        except WriteError as exc:
            raise SuperviseError(f"anchoring {n} snapshots: {exc}") from None


class Beside:
    """Anchoring beside the generation: the snapshots a checkpoint commit made durable are sent by
    a thread of its own (``Anchorer.send_rows``) while the generator goes on with the next ones;
    the anchors that came back are recorded in the index by the caller's thread (``record``: in
    the transaction of its next checkpoint; ``finish``: in one of their own). The store is used
    from the caller's thread only; the thread uses the anchorer's writer (its own connection).

    A kill loses nothing: committed snapshots not yet sent are found by the next run
    (``Store.unanchored_after``), anchors sent and not yet recorded by ``Anchorer.reconcile``."""

    def __init__(self, store, anchorer: Anchorer, crash: Callable[[str], None] = lambda point: None):
        self.store, self.anchorer, self.crash = store, anchorer, crash
        self.after = 0           # rowid of the newest snapshot handed to the thread
        self.pool: ThreadPoolExecutor | None = None
        self.futures: deque = deque()
        self.stopping = threading.Event()

    def submit(self) -> None:
        """Hand the thread the committed snapshots that are not anchored and not handed to it yet."""
        rows, self.after = self.store.unanchored_after(self.after)
        if not rows:
            return
        self.anchorer.window()  # the writer is made on this thread (a keystore's passphrase, a refusal)
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="anchoring")
        self.futures.append(self.pool.submit(self._send, rows))

    def _send(self, rows) -> list[tuple]:
        out = []
        for marks in self.anchorer.send_rows(rows, self.crash):
            out += marks
            if self.stopping.is_set():  # the generation failed or was interrupted: this window was the last
                break
        return out

    def _taken(self, wait: bool) -> list[tuple]:
        """The marks of the hand-overs the thread has finished (all of them, waiting, with ``wait``),
        in order; an anchoring failure is raised here."""
        marks = []
        while self.futures and (wait or self.futures[0].done()):
            marks += self.futures.popleft().result()
        return marks

    def record(self) -> None:
        """Record, in the caller's open transaction, the anchors of every hand-over the thread has finished."""
        self.store.mark_anchored(self._taken(wait=False))

    def finish(self) -> None:
        """Wait for the thread to send everything handed to it; record its anchors (one transaction)."""
        marks = self._taken(wait=True)
        if marks:
            self.store.begin()
            self.store.mark_anchored(marks)
            self.store.commit()

    def close(self) -> None:
        """Stop the thread: the hand-over on its way ends its window, the rest is not sent (the
        next run finds those snapshots unanchored)."""
        self.stopping.set()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class RpcAnchorer(Anchorer):
    """An Anchorer by the contract's address (no ape contract instance), for a sender whose
    key the node holds (anvil's dev accounts) or a given ``writer``: the benchmark's path."""

    def __init__(self, address: str, sender: str, rpc, **kwargs):
        super().__init__(_Address(address), sender, rpc, **kwargs)


@dataclass(frozen=True)
class _Address:
    address: str
