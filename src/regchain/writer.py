"""One write path for every signer: signed, pipelined transactions with their receipts.

    writer = Writer(rpc, signer, profile)      # rpc: regchain.rpc.Rpc; profile: regchain.networks
    writer.send(to, data, gas, label="open_accounts")   # queued; goes out when the window is full
    receipts = writer.flush()                  # everything queued, mined; receipts in order

Signers (`signer_for_account`, `key_file_signer`):

* `LocalSigner`: a private key held here (an ape keystore account unlocked unattended with
  APE_ACCOUNTS_<alias>_PASSPHRASE, a key file the operator names, ape's test accounts). It
  signs legacy type-0 EIP-155 transactions with coincurve (libsecp256k1) and sends them
  with eth_sendRawTransaction.
* `NodeSigner`: a key the node holds (anvil's dev accounts): eth_sendTransaction with every
  field given (nonce, gas, gas price), so the node signs what we would have.

Every transaction carries the profile's gas price (0 on our chains, never eth_gasPrice's
answer) and the gas limit its caller gives (measured worst case plus margin; never
eth_estimateGas). Nonces are counted here from the sender's pending nonce. A window of
transactions (the node's per-sender pool limit) is in flight; their receipts are read
together (one batch, or pipelined requests where the node takes no batches).

Mining: on an anvil (profile.devnet and the node answers anvil_getAutomine) the writer
drives it as the migration always has: automining off, transactions grouped to fill a
block raised to DRIVE_BLOCK_GAS, evm_mine per group. Elsewhere the chain mines at its
own pace: no transaction gets more gas than a block holds, and at most BLOCKS_AHEAD
block's worth of gas is in flight, so the pool never holds more than the chain can mine
soon.

Faults, the same for every signer: a nonce below what we have seen mined means the node
lost blocks (WriteError: run again, the caller resumes from the chain); a transaction
without receipt whose nonce the node no longer has pending (dropped by the pool, the node
restarted without its pool) is sent again, the same signed bytes for a local signer (it
cannot apply twice: same nonce), the same fields for a node signer; a send whose reply was
lost (the node stopped answering) is settled by reading the sender's nonce once the node
answers again, never by sending blindly.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from eth_utils import keccak, to_checksum_address

from regchain.networks import Profile
from regchain.rpc import Rpc, RpcError

SEND_BATCH = 200              # send requests per batch (or pipelined run) ...
SEND_BATCH_BYTES = 512 * 1024  # ... and calldata bytes per batch (anvil refuses bodies over a few MB)
READ_BATCH = 300
RECEIPT_TIMEOUT_S = 120.0     # no new receipt for this long: the chain is not producing blocks
LOST_AFTER_S = 3.0            # no receipt for this long: look whether the node still has it
NUDGE_AFTER_S = 2.0
DRIVE_BLOCK_GAS = 600_000_000   # block gas limit while the writer mines an anvil
DEFAULT_BLOCK_GAS = 30_000_000  # anvil's default, restored after a killed run
# blocks' worth of gas in flight on a chain that mines by itself, counted at the gas each
# transaction is expected to use (`_expected`: the highest share of its limit a transaction
# of its label has used, 10 % more). A node that mines one block of a sender's transactions
# and cannot fit the next drops the sender's later ones (anvil under the FISCO/Besu-like
# proxy does: "nonce too high"); they are sent again as soon as a block of ours comes
# (`_slide_on`), not LOST_AFTER_S later. Measured on the FISCO-like node, 240 securities
# (588 transactions): 8 blocks ahead by limits, re-sent after 3 s: 39.8 s, 21 of 39 blocks
# empty; 1 ahead by expected use: 20.1 s; 2 ahead, re-sent at once: 16.2 s (docs/benchmarks.md).
BLOCKS_AHEAD = 2
RESENDS = 5                   # times one transaction is sent again before the writer gives up
# a node's refusal that means "too many of this sender's transactions in the pool now"
POOL_FULL = ("too distant from current sender nonce", "txpool is full", "transaction pool is full",
             "pool is full", "exceeds the limit")
KNOWN = ("already known", "known transaction", "already imported", "alreadyknown", "already in")


JOURNAL_ENV = "REGCHAIN_WRITER_JOURNAL_DIR"  # where writers keep what they have in flight


def journal_dir() -> Path:
    """$REGCHAIN_WRITER_JOURNAL_DIR, else $XDG_STATE_HOME/regchain/writer (~/.local/state/...)."""
    env = os.environ.get(JOURNAL_ENV, "").strip()
    if env:
        return Path(env)
    state = os.environ.get("XDG_STATE_HOME", "").strip() or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(state) / "regchain" / "writer"


def _nonce_list(nonces) -> str:
    """'7, 9..12': nonces as ranges."""
    nonces = sorted(set(nonces))
    out, start = [], None
    for i, n in enumerate(nonces):
        if start is None:
            start = n
        if i + 1 == len(nonces) or nonces[i + 1] != n + 1:
            out.append(str(start) if start == n else f"{start}..{n}")
            start = None
    return ", ".join(out)


class WriteError(Exception):
    """The writes cannot go on; the message is one line."""


class Refused(WriteError):
    """eth_call says the transaction would revert; the message is its reason, one line."""


# ---------------------------------------------------------------- signers


def _rlp(item) -> bytes:
    """RLP of bytes / non-negative ints / lists of them (what a legacy transaction needs)."""
    if isinstance(item, list):
        body = b"".join(_rlp(i) for i in item)
        return _rlp_head(len(body), 0xC0) + body
    if isinstance(item, int):
        item = item.to_bytes((item.bit_length() + 7) // 8, "big") if item else b""
    if len(item) == 1 and item[0] < 0x80:
        return item
    return _rlp_head(len(item), 0x80) + item


def _rlp_head(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes([offset + n])
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(size)]) + size


class Signer:
    address: str
    node_held = False

    def sign(self, nonce: int, gas_price: int, gas: int, to: str | None, data: bytes, chain_id: int) -> bytes:
        raise NotImplementedError


class LocalSigner(Signer):
    """A private key held in this process (coincurve signs)."""

    def __init__(self, key: bytes | str):
        import coincurve

        if isinstance(key, str):
            key = bytes.fromhex(key[2:] if key.startswith("0x") else key)
        self._key = coincurve.PrivateKey(bytes(key))
        public = self._key.public_key.format(compressed=False)[1:]
        self.address = to_checksum_address(keccak(public)[12:])

    def sign(self, nonce, gas_price, gas, to, data, chain_id):
        target = bytes.fromhex(to[2:]) if to else b""
        fields = [nonce, gas_price, gas, target, 0, bytes(data)]
        digest = keccak(_rlp(fields + [chain_id, 0, 0]))
        sig = self._key.sign_recoverable(digest, hasher=None)  # r || s || recovery id, low s
        return _rlp(fields + [sig[64] + 35 + 2 * chain_id, int.from_bytes(sig[:32], "big"),
                              int.from_bytes(sig[32:64], "big")])

    def __repr__(self):
        return f"LocalSigner({self.address})"


class NodeSigner(Signer):
    """A key the node holds (anvil's unlocked dev accounts): it signs what we send."""

    node_held = True

    def __init__(self, address: str):
        self.address = to_checksum_address(address)

    def __repr__(self):
        return f"NodeSigner({self.address})"


def key_file_signer(path) -> LocalSigner:
    """The operator's raw private key (64 hex digits, 0x optional) from a file."""
    try:
        text = open(path, encoding="ascii").read().strip()
        return LocalSigner(text)
    except OSError as exc:
        raise WriteError(f"key file {path}: {exc.strerror or exc}") from None
    except (ValueError, TypeError, UnicodeDecodeError):
        raise WriteError(f"key file {path}: not a private key (64 hex digits)") from None


_DECRYPTED: dict[str, bytes] = {}  # keystore file -> its key, once unlocked in this process


def passphrase_env(alias: str) -> str:
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def signer_for_account(account, *, rpc: Rpc | None = None, prompt: bool = False) -> Signer:
    """The signer of an ape account: ape's test accounts and keystore accounts sign here
    (a keystore is decrypted with APE_ACCOUNTS_<alias>_PASSPHRASE, ape's own variable, or
    at a prompt when `prompt`); an address the node lists in eth_accounts is a NodeSigner."""
    key = getattr(account, "private_key", None)
    if key and not callable(key):
        return LocalSigner(str(key))
    keyfile = getattr(account, "keyfile_path", None)
    if keyfile is not None:
        import json

        from eth_account import Account as EthAccount

        alias = getattr(account, "alias", "?")
        cached = _DECRYPTED.get(str(keyfile))
        if cached is not None:
            return LocalSigner(cached)
        passphrase = os.environ.get(passphrase_env(alias))
        if passphrase is None and prompt:
            import click

            passphrase = click.prompt(f"Passphrase of account '{alias}'", hide_input=True)
        if passphrase is None:
            raise WriteError(f"account '{alias}' is locked: set {passphrase_env(alias)} to sign unattended")
        try:
            key = bytes(EthAccount.decrypt(json.loads(open(keyfile).read()), passphrase))
        except ValueError:
            raise WriteError(f"account '{alias}': wrong passphrase in {passphrase_env(alias)}") from None
        _DECRYPTED[str(keyfile)] = key  # decrypted once a process (scrypt takes a second)
        return LocalSigner(key)
    address = str(getattr(account, "address", account))
    if rpc is not None and address.lower() in {a.lower() for a in rpc.call("eth_accounts") or []}:
        return NodeSigner(address)
    raise WriteError(f"no key for {address}: use a keystore account (ape accounts import), "
                     "a key file, or an account the node holds")


# ---------------------------------------------------------------- the writer


@dataclass
class Tx:
    label: str
    to: str | None
    data: bytes
    gas: int
    nonce: int = -1
    raw: bytes | None = None  # signed bytes (local signer)
    hash: str | None = None
    sent_at: float = 0.0
    resent: int = 0
    extra: dict = field(default_factory=dict)


@dataclass
class _Slide:
    """The sliding window of a chain that mines by itself, kept between send() and flush():
    every transaction since the last flush (`txs`), the next to send (`nxt`) and its nonce,
    those in flight, the receipts found."""
    block_gas: int
    nonce: int
    txs: list = field(default_factory=list)
    nxt: int = 0
    inflight: list = field(default_factory=list)
    found: dict = field(default_factory=dict)
    failed: bool = False
    started: float = field(default_factory=time.perf_counter)
    last_progress: float = 0.0
    last_nudge: float = 0.0
    last_check: float = 0.0


class Writer:
    """See the module docstring. `gas[label]`/`seconds[label]`: gas used and time spent
    per label; `sent`: transactions mined."""

    def __init__(self, rpc: Rpc, signer: Signer, profile: Profile, *, window: int | None = None,
                 drive: bool | None = None, again: str = "run again", journal: str | Path | bool | None = None):
        self.rpc = rpc
        # the journal of what is in flight (see resume): a folder, False for none
        self._journal_dir = None if journal is False else Path(journal) if journal not in (None, True) \
            else journal_dir()
        self._journal_path: Path | None = None
        self._journal_fh = None
        self.signer = signer
        self.address = signer.address
        self.profile = profile
        if rpc.batches is None and profile.batches is not None:
            rpc.batches = profile.batches
        self.window = max(1, window or profile.pool_per_sender)
        self._chain_id: int | None = None
        self._anvil: bool | None = None if profile.devnet else False
        self.drive_allowed = drive if drive is not None else os.environ.get("REGCHAIN_MIGRATION_MINE", "1") != "0"
        self.again = again  # what a WriteError tells the operator to do when it cannot go on
        self.queue: list[Tx] = []
        self._slide: _Slide | None = None  # transactions send() left in flight (a chain that mines by itself)
        self.nonce_floor = 0  # the sender's nonce after our last mined transaction
        self.sent = 0
        self.gas: dict[str, int] = {}
        self.seconds: dict[str, float] = {}
        self.used_share: dict[str, float] = {}  # label -> highest gasUsed / gas limit seen

    # -------------------------------------------------------------- node facts

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.rpc.call("eth_chainId"), 16)
        return self._chain_id

    def automine(self) -> bool | None:
        """anvil's automine flag; None where the node is not known to be an anvil (the
        profile says no, or the node does not answer anvil_getAutomine)."""
        if self._anvil is False:
            return None
        try:
            value = bool(self.rpc.call("anvil_getAutomine"))
        except RpcError:
            self._anvil = False
            return None
        self._anvil = True
        return value

    @property
    def is_anvil(self) -> bool:
        if self._anvil is None:
            self.automine()
        return bool(self._anvil)

    def block_gas_limit(self) -> int:
        try:
            return int(self.rpc.call("eth_getBlockByNumber", ["latest", False])["gasLimit"], 16)
        except (RpcError, KeyError, TypeError):
            return self.profile.block_gas_limit

    def nonce(self, tag: str = "pending") -> int:
        return int(self.rpc.call("eth_getTransactionCount", [self.address, tag]), 16)

    # -------------------------------------------------------------- sending

    def send(self, to: str | None, data: bytes, gas: int, label: str = "tx") -> None:
        """Queue a transaction (to None: a contract creation); the queue goes out when the
        window is full, or at flush()."""
        self.queue.append(Tx(label, to, bytes(data), int(gas)))
        if len(self.queue) >= self.window:
            if self.automine() is None:  # a chain that mines by itself: keep its pool fed
                queue, self.queue = self.queue, []
                self._flush_sliding(queue, drain=False)
                if self._slide is None or self._slide.failed:
                    self.flush()  # raises for the transaction that reverted
            else:
                self.flush()

    def enqueue(self, to: str | None, data: bytes, gas: int, label: str = "tx") -> None:
        """Queue a transaction for the next flush(), sending nothing now, whatever the window:
        the caller flushes and takes every receipt (send() would flush a full window itself and
        keep those receipts from it)."""
        self.queue.append(Tx(label, to, bytes(data), int(gas)))

    def flush(self) -> list[dict]:
        """Send what is queued and return the receipts, in order. A transaction that
        reverted raises WriteError with its reason (after every receipt is in)."""
        if not self.queue and self._slide is None:
            return []
        queue, self.queue = self.queue, []
        started = time.perf_counter()
        automine = self.automine()
        if automine is not None and self.drive_allowed:
            receipts = self._flush_driven(queue, automine)
        else:
            slide = self._slide  # what send() left in flight comes first
            if slide is not None:
                started, queue = slide.started, slide.txs + queue
            receipts = self._flush_sliding(queue[len(slide.txs):] if slide else queue, nudge=automine is True)
        self._journal_clear()  # every receipt is in: nothing of ours is in flight
        elapsed = time.perf_counter() - started
        failed = None
        for tx, receipt in zip(queue, receipts):
            self.gas[tx.label] = self.gas.get(tx.label, 0) + int(receipt["gasUsed"], 16)
            self.seconds[tx.label] = self.seconds.get(tx.label, 0.0) + elapsed / len(queue)
            self.sent += 1
            if failed is None and int(receipt["status"], 16) != 1:
                failed = (tx, receipt)
        if failed is not None:
            tx, receipt = failed
            reason = self.revert_reason(tx.to, tx.data)
            raise WriteError(f"{tx.label} reverted: {reason or 'no reason given'} "
                             f"(transaction {receipt.get('transactionHash')})")
        return receipts

    def transact(self, to: str | None, data: bytes, gas: int, label: str = "tx", *, check: bool = False) -> dict:
        """One transaction now (after what is queued); its receipt. With check, it is first
        tried with eth_call: a refusal raises Refused with the rule's reason before
        anything is sent."""
        if check:
            self.check(to, data)
        self.flush()
        self.send(to, data, gas, label)
        return self.flush()[0]

    def check(self, to: str | None, data: bytes) -> None:
        """Raise Refused with its reason (one line) if eth_call says the transaction would revert now."""
        reason = self.revert_reason(to, data)
        if reason is not None:
            raise Refused(reason.strip().splitlines()[0] if reason.strip() else "no reason given")

    def revert_reason(self, to: str | None, data: bytes) -> str | None:
        """What eth_call says the transaction would do now: None (passes) or its reason."""
        from regchain.abi import decode_revert

        call = {"from": self.address, "data": "0x" + bytes(data).hex(), "gasPrice": hex(self.profile.gas_price)}
        if to:
            call["to"] = to
        try:
            self.rpc.call("eth_call", [call, "latest"])
        except RpcError as exc:
            return decode_revert(exc.revert_data) if exc.revert_data is not None else str(exc)
        return None

    def _first_nonce(self) -> int:
        nonce = self.nonce("pending")
        if nonce < self.nonce_floor:
            # transactions of ours that were mined are gone: the node restarted from an
            # older state. Going on would write the rest over the gap; a re-run starts
            # from what is on chain.
            raise WriteError(f"the node lost {self.nonce_floor - nonce} mined transactions "
                             f"(restarted from an older state?); {self.again}")
        return nonce

    def _request(self, tx: Tx) -> tuple[str, list]:
        if self.signer.node_held:
            fields = {"from": self.address, "data": "0x" + tx.data.hex(), "gas": hex(tx.gas),
                      "gasPrice": hex(self.profile.gas_price), "nonce": hex(tx.nonce)}
            if tx.to:
                fields["to"] = tx.to
            return "eth_sendTransaction", [fields]
        if tx.raw is None:
            tx.raw = self.signer.sign(tx.nonce, self.profile.gas_price, tx.gas, tx.to, tx.data, self.chain_id)
            tx.hash = "0x" + keccak(tx.raw).hex()
        return "eth_sendRawTransaction", ["0x" + tx.raw.hex()]

    def _submit(self, txs: list[Tx], nonce: int) -> int:
        """Send `txs` with nonces from `nonce` on, in batches; return how many the node took
        (those have their hash; the rest go again later). Another sender using our nonces
        makes the node refuse one: the rest get nonces from the node's pending nonce again."""
        done = 0
        retries = 0
        while done < len(txs):
            chunk, size = [], 0
            for tx in txs[done:done + SEND_BATCH]:
                if chunk and size + len(tx.data) > SEND_BATCH_BYTES:
                    break
                chunk.append(tx)
                size += len(tx.data)
            for i, tx in enumerate(chunk):
                if tx.nonce != nonce + i:
                    tx.nonce, tx.raw, tx.hash = nonce + i, None, None
            requests = [self._request(tx) for tx in chunk]
            self._journal_write(chunk, requests)
            try:
                replies = self.rpc.batch(requests)
            except OSError:
                # the node stopped answering while it read our sends: their fate is unknown.
                # Read the nonce once it answers (the transport retries reads) and take as
                # sent what it counts; the rest go again (the same signed bytes).
                pending = self._first_nonce()
                taken = [tx for tx in chunk if tx.nonce < pending and tx.hash]
                if len(taken) < sum(1 for tx in chunk if tx.nonce < pending):
                    raise WriteError("the node stopped answering while it took transactions signed by it; "
                                     f"{self.again}") from None
                for tx in taken:
                    tx.sent_at = time.monotonic()
                return done + len(taken)
            accepted = 0
            for tx, reply in zip(chunk, replies):
                if isinstance(reply, RpcError):
                    message = str(reply.error.get("message", reply.error))
                    low = message.lower()
                    if tx.hash and any(k in low for k in KNOWN):
                        reply = tx.hash  # sent before (a reply we lost): the node has it
                    elif any(k in low for k in POOL_FULL):
                        self.window = max(1, min(self.window, done + accepted))
                        return done + accepted  # the rest when the pool has room
                    elif retries < 5 and ("nonce" in low or "underpriced" in low):
                        if tx.hash and self._receipt(tx.hash) is not None:
                            reply = tx.hash  # ours, mined already
                        else:
                            retries += 1
                            break  # send the rest from the pending nonce again
                    else:
                        raise WriteError(f"{tx.label}: the node refused the transaction: {message}")
                tx.hash = reply
                tx.sent_at = time.monotonic()
                accepted += 1
            done += accepted
            nonce = nonce + accepted if accepted == len(chunk) else self._first_nonce()
        return done

    def _expected(self, tx: Tx) -> int:
        """The gas `tx` is expected to use: its limit until a transaction of its label was
        mined, then the highest share of the limit one used, 10 % more."""
        share = self.used_share.get(tx.label)
        return tx.gas if share is None else min(tx.gas, int(tx.gas * share * 1.1))

    def _receipt(self, tx_hash: str):
        try:
            return self.rpc.call("eth_getTransactionReceipt", [tx_hash])
        except RpcError:
            return None

    def _poll(self, txs: list[Tx], found: dict) -> int:
        """Read the receipts of `txs` not in `found` yet; the number found now."""
        missing = [tx for tx in txs if tx.hash not in found]
        n = 0
        for start in range(0, len(missing), READ_BATCH):
            chunk = missing[start:start + READ_BATCH]
            for tx, receipt in zip(chunk, self.rpc.batch([("eth_getTransactionReceipt", [tx.hash])
                                                          for tx in chunk])):
                if isinstance(receipt, dict):
                    found[tx.hash] = receipt
                    n += 1
        return n

    def _poll_mined(self, txs: list[Tx], found: dict) -> int:
        """`_poll` once the first of `txs` (lowest nonce) is mined: a sender's transactions
        are mined in nonce order, so while it has no receipt none of the others has one
        (one request a look instead of one per transaction in flight)."""
        head = min(txs, key=lambda tx: tx.nonce)
        if head.hash not in found:
            receipt = self._receipt(head.hash)
            if receipt is None:
                return 0
            found[head.hash] = receipt
        return 1 + self._poll(txs, found)

    def _flush_sliding(self, queue: list[Tx], nudge: bool = False, drain: bool = True) -> list[dict] | None:
        """A chain that mines by itself: keep up to `window` transactions (and BLOCKS_AHEAD
        blocks' worth of gas) in flight; as receipts come in, send more. With `drain`
        False (send() filled the window) it returns as soon as all of `queue` is in flight
        and leaves those in flight to the next call (self._slide), so the node's pool never
        runs dry between windows; flush() drains and returns the receipts of everything
        sent since the last flush, in order."""
        slide = self._slide
        if slide is None:
            block_gas = self.block_gas_limit()
            slide = self._slide = _Slide(block_gas=block_gas, nonce=self._first_nonce())
            slide.last_progress = slide.last_nudge = slide.last_check = time.monotonic()
        for tx in queue:
            tx.gas = min(tx.gas, slide.block_gas)
        slide.txs += queue
        try:
            self._slide_on(slide, nudge, drain)
        except BaseException:
            self._slide = None  # the next write starts from the node's nonce
            raise
        if not drain:
            return None
        self._slide = None
        return [slide.found[tx.hash] for tx in slide.txs]

    def _slide_on(self, slide: "_Slide", nudge: bool, drain: bool) -> None:
        found, txs = slide.found, slide.txs
        budget = max(slide.block_gas * BLOCKS_AHEAD, max(tx.gas for tx in txs[slide.nxt:] or txs))
        pause = 0.002
        while slide.nxt < len(txs) or drain and slide.inflight:
            inflight = slide.inflight
            room = self.window - len(inflight)
            # a block takes a transaction while the gas its earlier ones used plus this one's
            # limit fit: what is in flight counts with the gas it is expected to use
            planned = sum(self._expected(tx) for tx in inflight)
            batch, taken, nxt = [], 0, slide.nxt
            while nxt + len(batch) < len(txs) and len(batch) < room and (
                    not batch and not inflight or planned + txs[nxt + len(batch)].gas <= budget):
                planned += self._expected(txs[nxt + len(batch)])
                batch.append(txs[nxt + len(batch)])
            if batch:
                taken = self._submit(batch, slide.nonce)
                inflight += batch[:taken]
                slide.nxt += taken
                slide.nonce = (batch[taken - 1].nonce + 1) if taken else self._first_nonce()
            if not inflight:
                if not batch or taken == 0:
                    time.sleep(max(self.profile.block_time_s / 4, 0.01))  # pool full: wait for a block
                continue
            if self._poll_mined(inflight, found):
                slide.last_progress = time.monotonic()
                pause = 0.002
                done = [tx for tx in inflight if tx.hash in found]
                self.nonce_floor = max([self.nonce_floor] + [tx.nonce + 1 for tx in done])
                for tx in done:
                    share = int(found[tx.hash]["gasUsed"], 16) / tx.gas
                    self.used_share[tx.label] = max(self.used_share.get(tx.label, 0.0), share)
                slide.failed = slide.failed or any(int(found[tx.hash]["status"], 16) != 1 for tx in done)
                inflight = slide.inflight = [tx for tx in inflight if tx.hash not in found]
                if inflight and not nudge:
                    # a block came: a pool that drops what did not fit it (anvil drops a
                    # sender's transactions behind one the block had no room for) has the
                    # rest sent again now, not LOST_AFTER_S later. Dropped again while
                    # blocks of ours come is no fault: the RESENDS count starts over.
                    for tx in inflight:
                        tx.resent = 0
                    self._recover(inflight)
                if slide.failed and not drain:
                    drain = True  # a transaction reverted: the rest mined, then flush() raises
                continue
            now = time.monotonic()
            if now - max(slide.last_progress, slide.last_check) > LOST_AFTER_S:
                slide.last_check = now
                self._recover(inflight)
            if now - slide.last_progress > RECEIPT_TIMEOUT_S:
                raise WriteError(f"{len(inflight)} transactions were not mined within "
                                 f"{RECEIPT_TIMEOUT_S:.0f}s: the node is not producing blocks")
            if nudge and now - max(slide.last_progress, slide.last_nudge) > NUDGE_AFTER_S and self.automine():
                self.rpc.call("evm_mine")  # an automining anvil someone did not pause
                slide.last_nudge = now
            else:
                time.sleep(pause)
                # a look is one receipt request: look often, so the pool is fed (and what it
                # dropped sent again) early in the next block's interval
                pause = min(pause * 2, 0.05 if nudge or not self.profile.block_time_s
                            else self.profile.block_time_s / 20)

    def _recover(self, inflight: list[Tx]) -> None:
        """Transactions without receipt for LOST_AFTER_S: does the node still have them?
        Below the nonce the node has mined: another transaction took the nonce, or the
        node lost blocks (WriteError either way). At or above the node's pending nonce:
        not in its pool any more (dropped, or the node restarted without its pool): sent
        again, in nonce order; the node's own pool otherwise mines them in time."""
        pending = self.nonce("pending")
        lost = sorted((tx for tx in inflight if tx.nonce >= pending), key=lambda tx: tx.nonce)
        if lost and lost[0].nonce > pending:
            # ours wait behind a nonce nobody of ours fills: the node restarted from an
            # older state between our reading the nonce and sending. Going on would write
            # the rest over the gap; a re-run starts from the chain.
            self.clear_stranded()
            raise WriteError(f"the node lost {len(lost)} accepted transactions "
                             f"(restarted from an older state?); {self.again}")
        latest = self.nonce("latest")
        if latest < self.nonce_floor:
            raise WriteError(f"the node lost {self.nonce_floor - latest} mined transactions "
                             f"(restarted from an older state?); {self.again}")
        if not lost:
            stale = [tx for tx in inflight if tx.nonce < latest]
            if stale and self._receipt(stale[0].hash) is None:
                raise WriteError(f"nonce {stale[0].nonce} of {self.address} was used by another transaction; "
                                 f"{self.again}")
            return
        for tx in lost:
            tx.resent += 1
            if tx.resent > RESENDS:
                raise WriteError(f"{tx.label}: the node dropped the transaction {RESENDS} times (nonce {tx.nonce})")
        replies = self.rpc.batch([self._request(tx) for tx in lost])
        for tx, reply in zip(lost, replies):
            if isinstance(reply, RpcError):
                low = str(reply).lower()
                if any(k in low for k in KNOWN) or "nonce too low" in low:
                    continue
                raise WriteError(f"{tx.label}: the node refused the transaction sent again: {reply}")
            if self.signer.node_held:
                tx.hash = reply  # the same fields: the same hash

    # -------------------------------------------------------------- an anvil we drive

    def _flush_driven(self, queue: list[Tx], automine: bool) -> list[dict]:
        """On an anvil: automining off, each group of transactions whose gas limits fit a
        block sent and mined as one block (evm_mine) under a block gas limit raised to
        DRIVE_BLOCK_GAS (anvil's cost per block, not per gas, is what grows), then the
        limit and automining as they were (also when a killed run left them changed). An
        anvil is never given more than fits a block: its miner defers what does not fit
        and then drops the sender's following transactions as "nonce too high".

        anvil's evm_setBlockGasLimit applies to the blocks mined after it: the latest block
        keeps the limit it was mined under, and clients that size transactions by it (ape)
        would ask for the raised limit. So the last group, when it fits the restored limit,
        is mined under it; otherwise (or after an error) one empty block is mined under the
        restored limit, so the latest block reports it as soon as the flush returns."""
        rpc = self.rpc
        restore = self.block_gas_limit()
        if restore == DRIVE_BLOCK_GAS:  # a killed run left it raised
            restore = DEFAULT_BLOCK_GAS
        # a few transactions that fit one block as it is (setup, calendar, anchors) leave
        # the limit alone; ape takes the latest block's limit as a transaction's "max" gas
        limit = restore if sum(tx.gas for tx in queue) <= restore else DRIVE_BLOCK_GAS
        if limit != restore:
            rpc.call("evm_setBlockGasLimit", [hex(limit)])
        if automine:
            rpc.call("evm_setAutomine", [False])
        receipts: list[dict] = []
        try:
            groups = list(_fill_blocks(queue, limit))
            for i, group in enumerate(groups):
                nonce = self._first_nonce()
                taken = self._submit(group, nonce)
                if taken < len(group):
                    raise WriteError(f"the node took {taken} of {len(group)} transactions")
                if i == len(groups) - 1 and sum(tx.gas for tx in group) <= restore:
                    rpc.call("evm_setBlockGasLimit", [hex(restore)])  # submitted: mined under the restored limit
                rpc.call("evm_mine")
                receipts += self._mined(group)
                self.nonce_floor = max([self.nonce_floor] + [tx.nonce + 1 for tx in group])
        finally:
            self.mine_pending()
            if limit != restore:
                rpc.call("evm_setBlockGasLimit", [hex(restore)])
                if self.block_gas_limit() != restore:
                    rpc.call("evm_mine")  # the latest block shows the limit as it was (ape reads it there)
            rpc.call("evm_setAutomine", [True])
        return receipts

    def _mined(self, group: list[Tx]) -> list[dict]:
        """The receipts of a group we mined: mine until every one is in; receipts that
        cannot come (the node lost them) raise."""
        found: dict[str, dict] = {}
        started = time.monotonic()
        while self._poll(group, found) + len(found) < len(group) or len(found) < len(group):
            missing = [tx for tx in group if tx.hash not in found]
            if self.pool_empty() or min(tx.nonce for tx in missing) >= self.nonce("pending"):
                self.clear_stranded()
                raise WriteError(f"the node lost {len(missing)} accepted transactions "
                                 f"(restarted from an older state?); {self.again}")
            if time.monotonic() - started > RECEIPT_TIMEOUT_S:
                raise WriteError(f"{len(missing)} transactions were not mined within {RECEIPT_TIMEOUT_S:.0f}s")
            self.rpc.call("evm_mine")
        return [found[tx.hash] for tx in group]

    # -------------------------------------------------------------- what a killed run left

    # -------------------------------------------------------------- the journal

    def _journal_file(self) -> Path:
        """<journal dir>/<chain id>-<genesis hash>-<sender>.jsonl: one sender on one chain."""
        if self._journal_path is None:
            genesis = self.rpc.call("eth_getBlockByNumber", ["0x0", False]) or {}
            tag = str(genesis.get("hash") or "0x")[2:14]
            self._journal_path = self._journal_dir / f"{self.chain_id}-{tag}-{self.address}.jsonl"
        return self._journal_path

    def _journal_write(self, txs: list[Tx], requests: list) -> None:
        """Before they go out: each transaction's nonce, hash (local signer) and request,
        so that a run killed with them in flight can be resumed by the next (resume)."""
        if self._journal_dir is None:
            return
        if self._journal_fh is None:
            path = self._journal_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not path.exists() or path.stat().st_size == 0
            self._journal_fh = open(path, "a", encoding="ascii")
            if fresh:  # the chain's head: a journal of a history the chain no longer has is void
                head = self.rpc.call("eth_getBlockByNumber", ["latest", False])
                self._journal_fh.write(json.dumps({"base": int(head["number"], 16), "hash": head["hash"]}) + "\n")
        self._journal_fh.write("".join(json.dumps({"nonce": tx.nonce, "hash": tx.hash, "label": tx.label,
                                                   "method": m, "params": p}, separators=(",", ":")) + "\n"
                                       for tx, (m, p) in zip(txs, requests)))
        self._journal_fh.flush()  # in the kernel's hands before the node has them

    def _journal_clear(self) -> None:
        if self._journal_dir is None:
            return
        if self._journal_fh is not None:
            self._journal_fh.close()
            self._journal_fh = None
        if self._journal_path is not None or self._journal_dir.is_dir():
            self._journal_file().unlink(missing_ok=True)

    def _journal_entries(self) -> dict[int, dict]:
        if self._journal_dir is None or not self._journal_dir.is_dir():
            return {}
        try:
            lines = self._journal_file().read_text(encoding="ascii").splitlines()
        except FileNotFoundError:
            return {}
        entries = {}
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # the line a kill cut short: its transaction never went out
            if "base" in entry:
                block = self.rpc.call("eth_getBlockByNumber", [hex(entry["base"]), False])
                if not block or block.get("hash") != entry["hash"]:
                    return {}  # written on a history the chain no longer has (reverted, reset)
                continue
            entries[int(entry["nonce"])] = entry  # the last request of a nonce is the one sent
        return entries

    def _in_pool(self, tx_hash: str | None) -> bool:
        if not tx_hash:
            return False
        try:
            tx = self.rpc.call("eth_getTransactionByHash", [tx_hash])
        except RpcError:
            return False
        return isinstance(tx, dict) and tx.get("blockNumber") is None

    def resume(self) -> int:
        """What an earlier run of this sender left in flight (killed mid-window, or stopped):
        its journal's transactions at and above the sender's mined nonce, in nonce order.

        Those that follow the mined nonce without a gap are sent again (the same signed
        bytes, or the same fields for a key the node holds: the node answers "known" for
        what it still has, and takes back what its pool lost), so the earlier window is
        mined as that run sent it, whatever node or signer; the caller then reads the
        chain and writes only what is missing. Transactions of the journal behind a nonce
        nobody can fill (the node lost mined blocks) that the node still holds would be
        mined inside this run's own sequence: WriteError naming the nonces. Works with
        eth_getTransactionCount, eth_send*Transaction and eth_getTransactionByHash only
        (no txpool_/anvil_ methods). Returns the number sent again."""
        entries = self._journal_entries()
        if not entries:
            return 0
        latest = self.nonce("latest")
        left = [entries[n] for n in sorted(entries) if n >= latest]
        fill: list[dict] = []
        for entry in left:
            if int(entry["nonce"]) != latest + len(fill):
                break
            fill.append(entry)
        behind = left[len(fill):]
        held = [int(e["nonce"]) for e in behind if self._in_pool(e.get("hash"))]
        if held:
            gap = [n for n in range(latest + len(fill), held[0]) if n not in entries]
            raise WriteError(f"{len(held)} transactions of {self.address} wait in the node's pool behind a nonce gap "
                             f"(nonces {_nonce_list(held)}; missing {_nonce_list(gap)}); this run would let them "
                             "be mined in its own sequence: remove them from the node's pool first")
        if not fill:
            return 0
        replies = self.rpc.batch([(e["method"], e["params"]) for e in fill])
        for entry, reply in zip(fill, replies):
            if isinstance(reply, RpcError):
                low = str(reply).lower()
                if any(k in low for k in KNOWN) or "nonce too low" in low or "underpriced" in low:
                    continue  # the node has it (or mined it meanwhile)
                raise WriteError(f"{entry['label']} (nonce {entry['nonce']}) left in flight by an earlier run: "
                                 f"the node refused it sent again: {reply}")
        return len(fill)

    def settle(self) -> None:
        """Before a run reads the chain: what an earlier run of this sender left in flight is
        resumed (resume: its journal, for every node and signer) and waited for until it
        is mined (on an anvil we drive, mined), so that reads see it; on an anvil, what
        waits behind a nonce gap of no journal goes (clear_stranded)."""
        self.resume()
        started = time.monotonic()
        drive = self.drive_allowed and self.automine() is not None
        while self.nonce("pending") > self.nonce("latest"):
            if drive:
                self.mine_pending()
            elif time.monotonic() - started > RECEIPT_TIMEOUT_S:
                raise WriteError(f"transactions of {self.address} wait in the node's pool "
                                 f"and were not mined within {RECEIPT_TIMEOUT_S:.0f}s")
            else:
                time.sleep(0.1)
        self._journal_clear()
        self.clear_stranded()

    def clear_stranded(self) -> None:
        """Transactions of the sender that wait in the node's pool behind a nonce gap would
        be mined once this run fills the gap, inside its own sequence. An anvil removes
        them (anvil_removePoolTransactions); another node of the anvil profile that shows
        them (txpool_content) stops the run. The consortium profiles ask no txpool_*."""
        if not self.profile.devnet:
            return
        try:
            queued = (self.rpc.call("txpool_content").get("queued") or {}).get(self.address.lower()) or {}
        except RpcError:
            return  # a node that does not show its pool: nothing to see
        if not queued:
            return
        if self.automine() is not None:
            self.rpc.call("anvil_removePoolTransactions", [self.address])
            return
        raise WriteError(f"{len(queued)} transactions of {self.address} wait in the node's pool "
                         f"behind a nonce gap (nonces {', '.join(sorted(queued, key=int))}); this run would "
                         "let them be mined in its own sequence: remove them from the node's pool first")

    def pool_empty(self) -> bool:
        """Whether an anvil's pool holds no transaction (False where it cannot tell)."""
        if not self.is_anvil:
            return False
        try:
            status = self.rpc.call("txpool_status")
        except RpcError:
            return False
        return int(status["pending"], 16) + int(status["queued"], 16) == 0

    def mine_pending(self, limit: int = 10_000) -> None:
        for _ in range(limit):
            if int(self.rpc.call("txpool_status")["pending"], 16) == 0:
                return
            self.rpc.call("evm_mine")


def _fill_blocks(queue: list[Tx], limit: int):
    """Consecutive groups of `queue` whose gas limits add up to at most `limit`
    (a transaction above it goes alone, capped at the limit)."""
    group: list[Tx] = []
    used = 0
    for tx in queue:
        tx.gas = min(tx.gas, limit)
        if group and used + tx.gas > limit:
            yield group
            group, used = [], 0
        group.append(tx)
        used += tx.gas
    if group:
        yield group


def deploy(writer: Writer, creation: bytes, gas: int, label: str = "deploy") -> str:
    """Deploy creation code (constructor arguments appended) and return the address."""
    return deploy_receipt(writer, creation, gas, label)[0]


def deploy_receipt(writer: Writer, creation: bytes, gas: int, label: str = "deploy") -> tuple[str, dict]:
    """Deploy creation code and return (the address, the receipt)."""
    receipt = writer.transact(None, creation, gas, label)
    return to_checksum_address(receipt["contractAddress"]), receipt


def writer_for(account, *, network_name: str | None = None, again: str = "run again",
               prompt: bool | None = None) -> Writer:
    """A Writer on ape's connected provider for an ape account (a test account, a keystore
    account unlocked with APE_ACCOUNTS_<alias>_PASSPHRASE or at a prompt, an address the
    node holds), with the profile of the connected network (regchain.networks.profile_for:
    REGCHAIN_PROFILE on `consortium`, anvil's on the local networks). Raises WriteError
    (no key) or regchain.networks.ProfileError (one line either)."""
    import sys

    from ape import chain

    from regchain.networks import profile_for

    provider = chain.provider
    uri = getattr(provider, "http_uri", None) or provider.uri
    prof = profile_for(network_name or provider.network.name)
    rpc = Rpc(uri, batches=prof.batches)
    signer = signer_for_account(account, rpc=rpc, prompt=sys.stdin.isatty() if prompt is None else prompt)
    return Writer(rpc, signer, prof, again=again)
