"""The migration of a legacy export as one straight pipeline, `run`:
read → clean → plan → write → reconcile → report. Both command lines call it
(`ape run migrate`, scripts/migrate.py; `python -m regchain.migrate`, `_main`).

Reading and cleaning are `regchain.legacy` (the export format: docs/migration.md); this
module is the chain half:

- planning (`Plan`): each account's canonical identity (``ID_TYPE:NUMBER``) becomes a
  salted hash on chain, and a holder without its own wallet gets a custody address
  (regchain.identities: derived from the operator's secret, ``REGCHAIN_OPERATOR_SECRET``,
  and that identity, so merged duplicates share an address).
- writing: accounts (open_accounts), then the securities: register each (PENDING, not
  transferable), write its holdings, import its pledges and freezes with their original
  rank, and seal it — sealing checks on chain that the holdings add up to the declared
  total. Every phase first reads what is already on chain (batched) and writes only what
  is missing, so a killed run resumes where it stopped and a finished one sends nothing.
  Transactions go through regchain.writer (Chain.post/flush): signed here or by the node,
  a window of them in flight in nonce order, their receipts collected together; the
  network profile (regchain.networks) says the gas price, the window and whether the node
  takes batches.
  The writing reads each security's token id (`WriteStats.token_ids`), the only read of them.
- reconciling: every holding, pledge and freeze is read back in batched calls and
  compared with the cleaned source.
- the report (regchain.legacy.report) is built once at the end from what the stages returned.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

from eth_utils import keccak, to_checksum_address

from regchain.constants import AccountStatus, SecurityStatus, UTC_OFFSET_CHINA, holding_words
from regchain.errors import MigrationError
from regchain.identities import Identities, case_hash, code_hash, code_hash_of  # noqa: F401 (migrate.Identities, ...)
from regchain.legacy.clean import CleanResult, FreezeKind, Security, clean_export
from regchain.legacy.reader import read_export
from regchain.legacy.report import build_report
from regchain.writer import LOST_AFTER_S, RECEIPT_TIMEOUT_S  # noqa: F401 (the writer's timing)

ACCOUNT_BATCH = 100
HOLDING_BATCH = 200  # register_holdings_many's MAX_BATCH
IMPORT_BATCH = 50
READ_BATCH = 300
MULTICALL_READ_BATCH = 4096  # views per read request run through a deployed multicall (16 eth_calls)
WINDOW = 400          # transactions in flight before their receipts are collected (anvil)
RECONCILE_SLICE = 500  # securities whose records are read back together


def day_start_timestamp(day: int, utc_offset_s: int = UTC_OFFSET_CHINA) -> int:
    """First second of a market day, in seconds (registration time of migrated records)."""
    return day * 86400 - utc_offset_s


def source_doc(result: CleanResult) -> bytes:
    """The document reference of this migration: a digest of what was cleaned."""
    h = hashlib.sha256()
    for s in result.securities:
        h.update(f"{s.code}|{s.total}|{len(s.holdings)}|{len(s.pledges)}|{len(s.freezes)};".encode())
    return keccak(b"migration:" + h.digest())


# ---------------------------------------------------------------- plan


@dataclass
class Plan:
    """Addresses and identities for every migrated account."""

    address: dict[str, str] = field(default_factory=dict)  # primary account_no -> address
    identity: dict[str, bytes] = field(default_factory=dict)  # primary account_no -> hash

    @classmethod
    def build(cls, result: CleanResult, ids: Identities) -> "Plan":
        plan = cls()
        for a in result.accounts:
            ident = a.identity
            plan.identity[a.account_no] = ids.identity_hash(ident)
            plan.address[a.account_no] = (to_checksum_address(a.wallet) if a.wallet
                                          else ids.custody_address(ident))
        wallets: dict[str, str] = {}
        for no, addr in plan.address.items():
            other = wallets.setdefault(addr.lower(), no)
            if other != no:
                raise MigrationError(f"accounts {other} and {no} would share address {addr}")
        return plan

    def of(self, account_no: str, result: CleanResult) -> str:
        return self.address[result.account_map.get(account_no, account_no)]


# ---------------------------------------------------------------- chain access


class Chain:
    """Access to the register: batched reads, transactions through regchain.writer.

    Reads are regchain.abi's SuiteReader (calldata ABI-encoded once from the suite's
    merged ABI, one kept-alive connection, JSON-RPC batches where the node takes them and
    pipelined requests where it does not; through a deployed multicall contract when one
    is given). Writes go through one `regchain.writer.Writer` whatever signs: a key held
    here (an ape test or keystore account, a key file) or one the node holds (anvil's dev
    accounts). `post` queues a transaction, `flush` sends the queue as a window of signed,
    nonce-counted transactions and collects the receipts; a failed transaction raises
    MigrationError with its decoded revert reason.

    With `fast=False` (or a node not reachable over plain HTTP) ape's contract calls send
    and web3 batches read: the slow path, kept for such nodes.

    `gas[fn]` sums the gasUsed of the transactions sent per function.
    """

    def __init__(self, register, sender, progress: Callable = None, fast: bool | None = None, *,
                 signer=None, profile=None, multicall: str | None = None):
        from ape import chain as ape_chain

        self.register = register
        self.sender = sender
        self.progress = progress
        # no sender: a read-only chain (the audit), which never writes
        self.sender_address = (None if sender is None
                               else to_checksum_address(str(getattr(sender, "address", sender))))
        abi = [item.model_dump(mode="json", by_alias=True) for item in register.contract_type.abi]
        uri = getattr(ape_chain.provider, "http_uri", None) or getattr(ape_chain.provider, "uri", None)
        network = getattr(getattr(ape_chain.provider, "network", None), "name", None)
        self.reader = self.writer = None
        if fast is not False and isinstance(uri, str) and uri.startswith("http://"):
            self._connect(uri, register.address, abi, sender, signer, profile or _profile(network), multicall)
        if fast and self.writer is None:
            raise MigrationError(f"no fast write path: {self.sender_address} has no key here or on the node")
        if self.reader is None:
            self.w3 = ape_chain.provider.web3
            self.contract = self.w3.eth.contract(address=register.address, abi=abi)

    @classmethod
    def over_json_rpc(cls, uri: str, address, sender, abi: list[dict], progress: Callable = None, *,
                      signer=None, profile=None, multicall: str | None = None) -> "Chain":
        """The register at `address` on the node at `uri` without ape, written by `signer` (a
        regchain.writer signer; default: REGCHAIN_SIGNER_KEY_FILE's key, else `sender` if
        the node holds its key): for tools and the benchmark's child process."""
        self = cls.__new__(cls)
        self.register = None
        self.sender = sender
        self.progress = progress
        self.sender_address = None if sender is None else to_checksum_address(str(sender))
        self.reader = self.writer = None
        self._connect(uri, address, abi, sender, signer, profile or _profile(None), multicall)
        if sender is not None and self.writer is None:
            raise MigrationError(f"{self.sender_address}: no key for it here (REGCHAIN_SIGNER_KEY_FILE) "
                                 f"or on the node at {uri}")
        return self

    def _connect(self, uri, address, abi, sender, signer, profile, multicall) -> None:
        from regchain import writer as wr
        from regchain.abi import SuiteAbi, SuiteReader
        from regchain.rpc import Rpc

        self.profile = profile
        try:
            self.reader = SuiteReader(Rpc(uri, batches=profile.batches), to_checksum_address(str(address)),
                                      SuiteAbi(abi), multicall_address=multicall)
            if sender is None:
                return
            rpc = Rpc(uri, timeout=30, batches=profile.batches)
            if signer is None:
                key_file = os.environ.get(KEY_FILE_ENV, "").strip()
                signer = (wr.key_file_signer(key_file) if key_file
                          else wr.signer_for_account(sender, rpc=rpc, prompt=sys.stdin.isatty()))
            if self.sender_address is not None and signer.address != self.sender_address:
                raise MigrationError(f"the signing key is {signer.address}'s, not {self.sender_address}'s")
            self.sender_address = signer.address
            self.writer = wr.Writer(rpc, signer, profile, window=_window(profile.pool_per_sender),
                                    again="run the migration again")
        except wr.WriteError as exc:
            if isinstance(sender, str) or getattr(sender, "private_key", None) is None and \
                    getattr(sender, "keyfile_path", None) is None:
                self.writer = None  # no key for it: the ape path (or the caller's error)
                return
            raise MigrationError(str(exc)) from None
        except OSError as exc:
            raise MigrationError(f"the node at {uri} does not answer ({exc})") from None

    @property
    def fast(self) -> bool:
        return self.writer is not None

    @property
    def sent(self) -> int:
        return self.writer.sent if self.writer is not None else self._ape_sent

    @property
    def gas(self) -> dict[str, int]:
        return self.writer.gas if self.writer is not None else self._ape_gas

    @property
    def seconds(self) -> dict[str, float]:
        return self.writer.seconds if self.writer is not None else {}

    _ape_sent = 0
    _ape_gas: dict = {}

    def read(self, fn: str, args_list: list[tuple]) -> list:
        """fn(*args) for every args in args_list, as JSON-RPC batches (after the queued
        transactions are mined)."""
        self.flush()
        out: list = []
        size = MULTICALL_READ_BATCH if self.reader is not None and self.reader.multicall_address else READ_BATCH
        for start in range(0, len(args_list), size):
            chunk = args_list[start:start + size]
            if self.reader is not None:
                try:
                    out.extend(self.reader.read([(fn, tuple(_bytes32(a) for a in args)) for args in chunk]))
                except OSError as exc:
                    raise MigrationError(f"reading {fn}: the node stopped answering ({exc})") from None
                continue
            with self.w3.batch_requests() as batch:
                for args in chunk:
                    batch.add(getattr(self.contract.functions, fn)(*args))
                out.extend(batch.execute())
        return out

    def storage(self, slots: list[int]) -> list[int]:
        """Storage words of the register at `slots`, batched (the audit reads a few raw)."""
        out: list[int] = []
        for start in range(0, len(slots), READ_BATCH):
            chunk = slots[start:start + READ_BATCH]
            if self.reader is not None:
                replies = self.reader.rpc.batch([("eth_getStorageAt", [self.reader.address, hex(slot), "latest"])
                                               for slot in chunk])
                out.extend(int(v, 16) for v in replies)
                continue
            with self.w3.batch_requests() as batch:
                for slot in chunk:
                    batch.add(self.w3.eth.get_storage_at(self.register.address, slot))
                out.extend(int.from_bytes(bytes(v), "big") for v in batch.execute())
        return out

    def batch_size(self, fn: str, most: int) -> int:
        """How many items a batch of `fn` (GAS_LIMITS) carries: `most`, except on a chain
        that mines by itself (the writer does not drive an anvil), where a transaction's
        gas limit stays within 1/BLOCK_SHARE of the block gas limit. A block takes a
        transaction while its gas used plus the transaction's limit fits (Besu's block
        builder, anvil's miner), so big transactions leave big holes: three holdings
        batches of 200 (9.9 M limit, ~6 M used) fill a 30 M block to 60-75 %; batches of
        a tenth of a block fill it past 90 % for ~2 % more gas."""
        w = self.writer
        if w is None or (w.drive_allowed and w.automine() is not None):
            return most
        if getattr(self, "_block_gas", None) is None:
            self._block_gas = w.block_gas_limit()
        base, per_item = GAS_LIMITS[fn]
        return max(1, min(most, (self._block_gas // BLOCK_SHARE - base) // per_item))

    def post(self, fn: str, *args) -> None:
        """Queue a transaction; queued ones go out together (flush) before the next read,
        when the window is full, or on flush(). On the ape path it is sent at once."""
        if self.writer is None:
            self.send(fn, *args)
            return
        with _node_errors():
            self.writer.send(self.reader.address, self.reader.abi[fn].encode(args), _gas_limit(fn, args), fn)

    def flush(self) -> None:
        """Send the queued transactions (regchain.writer.Writer.flush: a window of them in
        flight, receipts collected together; on an anvil the writer drives the mining) and
        raise MigrationError for the first that failed, with its reason."""
        if self.writer is not None:
            with _node_errors():
                self.writer.flush()

    def settle(self) -> None:
        """What a killed run left in the node's pool is mined before this run reads
        (regchain.writer.Writer.settle)."""
        if self.writer is not None:
            with _node_errors():
                self.writer.settle()

    def send(self, fn: str, *args) -> None:
        """One transaction now (after the queued ones)."""
        if self.writer is not None:
            with _node_errors():
                self.writer.transact(self.reader.address, self.reader.abi[fn].encode(args), _gas_limit(fn, args), fn)
            return
        receipt = getattr(self.register, fn)(*args, sender=self.sender)
        self._ape_gas = {**self._ape_gas, fn: self._ape_gas.get(fn, 0) + int(getattr(receipt, "gas_used", 0) or 0)}
        self._ape_sent += 1


KEY_FILE_ENV = "REGCHAIN_SIGNER_KEY_FILE"
MULTICALL_ENV = "REGCHAIN_MULTICALL_ADDRESS"


def _profile(network: str | None):
    from regchain.networks import ProfileError, profile_for

    try:
        return profile_for(network)
    except ProfileError as exc:
        raise MigrationError(str(exc)) from None


@contextlib.contextmanager
def _node_errors():
    """The node's refusals, the writer's stops and a lost connection, as MigrationError (one line)."""
    from regchain.rpc import RpcError
    from regchain.writer import WriteError

    try:
        yield
    except WriteError as exc:
        raise MigrationError(str(exc)) from None
    except RpcError as exc:
        raise MigrationError(f"the node refused a request: {exc}") from None
    except OSError as exc:
        raise MigrationError(f"the node stopped answering ({exc})") from None


def _window(default: int = WINDOW) -> int:
    """Transactions in flight: the profile's per-sender pool limit, or
    $REGCHAIN_MIGRATION_WINDOW (1 sends one at a time: the fault tests use small windows
    to stop the migration at many distinct blocks)."""
    value = os.environ.get("REGCHAIN_MIGRATION_WINDOW", "")
    return max(1, int(value)) if value.isdigit() else default


def _bytes32(value):
    """A 0x-hex bytes32 as bytes (web3 takes either; regchain.abi's encoder takes bytes)."""
    if isinstance(value, str) and len(value) == 66 and value.startswith("0x"):
        return bytes.fromhex(value[2:])
    return value


# Gas limit of a queued transaction: base + per item of its batch, from the worst cases
# measured in tests/test_robustness_contracts.py (open_accounts of 200: 9.8 M, i.e. 49 k
# per account; register_holdings of 200 with insiders and lock-ups: 7.0 M;
# register_holdings_many of 200 over 200 securities: 9.1 M; an import of 50 pledges /
# freezes: 11.0 M / 11.9 M) with a margin (never eth_estimateGas). A block takes a
# transaction only while its gas used plus the transaction's limit fits, so limits near
# the real use pack blocks full: a 30 M block takes five open_accounts of 100 (6.0 M) and
# three register_holdings_many of 200 (9.9 M); a chain that mines at its own pace is as
# fast as its blocks are full.
GAS_LIMITS = {
    "open_accounts": (300_000, 57_000),
    "register_holdings": (300_000, 45_000),
    "register_holdings_many": (300_000, 48_000),
    "import_pledges": (300_000, 270_000),
    "import_freezes": (300_000, 290_000),
}
# the single-record functions: measured 134 k (register_security) and 41 k (seal_security)
# a call on the sample export; set_security_status writes one word like seal_security
GAS_SINGLE = {"register_security": 250_000, "seal_security": 150_000, "set_security_status": 150_000}
GAS_LIMIT_SINGLE = 1_000_000  # anything else
BLOCK_SHARE = 10  # a batch's gas limit on a chain that mines by itself: at most a tenth of a block


def _gas_limit(fn: str, args: tuple) -> int:
    if fn in GAS_LIMITS:
        base, per_item = GAS_LIMITS[fn]
        batch = next(a for a in args if isinstance(a, list))
        return base + per_item * len(batch)
    return GAS_SINGLE.get(fn, GAS_LIMIT_SINGLE)


# ---------------------------------------------------------------- writing


@dataclass
class WriteStats:
    accounts_opened: int = 0
    securities_registered: int = 0
    holdings_written: int = 0
    pledges_imported: int = 0
    freezes_imported: int = 0
    securities_sealed: int = 0
    transactions: int = 0
    # code -> token id of every cleaned security, as read while writing (reconcile takes them)
    token_ids: dict[str, int] = field(default_factory=dict, repr=False)

    def counts(self) -> dict[str, int]:
        """What was written, as the summary shows it."""
        return {k: v for k, v in vars(self).items() if k != "token_ids"}


def peak_rss_kb() -> int:
    """This process's peak resident set size in kB: VmHWM of /proc/self/status (Linux), the
    high-water mark of this program's own memory. Not getrusage's ru_maxrss: Linux carries a
    forked parent's peak over into its child across exec, so a child of a large process (the
    bench inside ape, a test inside pytest) reported its parent's size."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _holding_batches(groups: list[list], size: int) -> Iterable[list]:
    """The holdings of `groups` (one list per security) in batches of at most `size`,
    in order. A security that does not fit the room left in a batch starts the next one
    when it fits one whole and the batch is three quarters full: each run of a security
    in a batch costs ~12 k gas of its own (its supply and holder count, a
    HoldingsRegistered), so splitting it is dearer than a slightly emptier batch."""
    batch: list = []
    for group in groups:
        if batch and len(batch) + len(group) > size and len(group) <= size and len(batch) * 4 >= size * 3:
            yield batch
            batch = []
        for item in group:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
    if batch:
        yield batch


def write(result: CleanResult, plan: Plan, chain: Chain, *, utc_offset_s: int = UTC_OFFSET_CHINA,
          bar: Callable[[Iterable, str, int], Iterable] = lambda it, desc, total: it) -> WriteStats:
    """Write what is clean and not yet on chain; see the module docstring.

    In phases, each reading first (batched) what is on chain and queueing only what is
    missing (Chain.post: many transactions in flight, one nonce order): accounts;
    registration of the securities not yet registered; the holdings of every security
    still pending, in batches across securities; then per pending security its pledges
    and freezes, its seal and (if so in the source) its suspension. A security is sealed only after everything
    of it was written, and sealing checks its total on chain."""
    stats = WriteStats()
    doc = source_doc(result)
    chain.settle()  # a killed run's transactions still in the pool are on chain before we read

    # accounts
    numbers = [a.account_no for a in result.accounts]
    on_chain = chain.read("account_of", [(plan.address[n],) for n in numbers])
    missing = []
    for a, view in zip(result.accounts, on_chain):
        if view[0] == AccountStatus.UNOPENED:
            missing.append((plan.address[a.account_no], plan.identity[a.account_no],
                            int(a.holder_type), bool(a.qualified)))
        elif bytes(view[3]) != plan.identity[a.account_no]:
            raise MigrationError(f"address {plan.address[a.account_no]} of account {a.account_no} "
                                 "is open on chain for another identity")
    for batch in bar(list(_chunks(missing, chain.batch_size("open_accounts", ACCOUNT_BATCH))), "accounts", None):
        chain.post("open_accounts", batch, doc)
        stats.accounts_opened += len(batch)

    # securities: registered (PENDING, not transferable) where not yet
    hashes = [code_hash(sec.code) for sec in result.securities]
    sids = chain.read("security_id", [(h,) for h in hashes])
    for sec, chash, sid in zip(result.securities, hashes, sids):
        if sid == 0:
            chain.post("register_security", chash, int(sec.kind), sec.unit_scale, sec.total, doc)
            stats.securities_registered += 1
    if stats.securities_registered:
        sids = chain.read("security_id", [(h,) for h in hashes])
    stats.token_ids = {sec.code: sid for sec, sid in zip(result.securities, sids)}
    views = chain.read("security", [(sid,) for sid in sids])
    pending = []
    for sec, sid, view in zip(result.securities, sids, views):
        if view[0] != SecurityStatus.PENDING:
            continue  # sealed by an earlier run: reconciliation checks it
        if view[8] != sec.total or view[1] != int(sec.kind) or view[2] != sec.unit_scale:
            raise MigrationError(f"security {sec.code} is registered on chain (id {sid}) with other terms")
        pending.append((sec, sid))

    # what of the pending securities is on chain already (a killed run's work)
    owners = [[plan.of(h.account_no, result) for h in sec.holdings] for sec, _ in pending]
    balances = iter(chain.read("balanceOf", [(o, sid) for (_, sid), os_ in zip(pending, owners) for o in os_]))
    pledgors = [sorted({plan.of(p.pledgor, result) for p in sec.pledges}) for sec, _ in pending]
    pledged = iter(chain.read("pledges_of", [(o, sid) for (_, sid), os_ in zip(pending, pledgors) for o in os_]))
    frozen_owners = [sorted({plan.of(f.account_no, result) for f in sec.freezes}) for sec, _ in pending]
    queues = iter(chain.read("freeze_queue_of",
                             [(o, sid) for (_, sid), os_ in zip(pending, frozen_owners) for o in os_]))

    # holdings of every pending security, in batches that run across securities
    # (register_holdings_many: a batch's fixed cost is shared by up to 200 holdings)
    todo = []
    for (sec, sid), sec_owners in zip(pending, owners):
        words = []
        llc = int(sec.kind) == 1  # the register keeps paid-in units of LLC capital only
        for h, owner in zip(sec.holdings, sec_owners):
            bal = next(balances)
            if bal == 0:
                words.append(holding_words(sid, owner, h.units, h.paid if llc else 0, h.acquired_day,
                                           h.lock_until_day or 0, bool(h.insider)))
            elif bal != h.units:
                raise MigrationError(f"holding {sec.code}/{h.account_no} is on chain with {bal}, not {h.units}")
        if words:
            todo.append(words)
    holding_batch = chain.batch_size("register_holdings_many", HOLDING_BATCH)
    for batch in bar(list(_holding_batches(todo, holding_batch)), "holdings", None):
        chain.post("register_holdings_many", batch, doc)
        stats.holdings_written += len(batch)
    del todo

    pledge_batch = chain.batch_size("import_pledges", IMPORT_BATCH)
    freeze_batch = chain.batch_size("import_freezes", IMPORT_BATCH)
    for (sec, sid), sec_pledgors, sec_frozen in bar(
            list(zip(pending, pledgors, frozen_owners)), "securities", len(pending)):

        # pledges, in rank order per pledgor; skip the prefix already imported
        by_owner: dict[str, list] = {}
        for p in sec.pledges:
            by_owner.setdefault(plan.of(p.pledgor, result), []).append(p)
        todo = []
        for owner in sec_pledgors:
            existing = next(pledged)
            for p in sorted(by_owner[owner], key=lambda p: p.rank)[len(existing):]:
                todo.append((owner, plan.of(p.pledgee, result), p.units,
                             day_start_timestamp(p.registered_day, utc_offset_s)))
        for batch in _chunks(todo, pledge_batch):
            chain.post("import_pledges", sid, batch, doc)
            stats.pledges_imported += len(batch)

        # freezes, in queue order per holding; skip the prefix already imported
        by_owner = {}
        for f in sec.freezes:
            by_owner.setdefault(plan.of(f.account_no, result), []).append(f)
        todo = []
        for owner in sec_frozen:
            existing, _flags = next(queues)
            for f in sorted(by_owner[owner], key=lambda f: f.queue)[len(existing):]:
                todo.append((owner, f.units, case_hash(f.case_no),
                             day_start_timestamp(f.registered_day, utc_offset_s), f.expiry_day))
        for batch in _chunks(todo, freeze_batch):
            chain.post("import_freezes", sid, batch, doc)
            stats.freezes_imported += len(batch)

        chain.post("seal_security", sid, doc)
        stats.securities_sealed += 1
        if _suspended(sec):
            chain.post("set_security_status", sid, int(SecurityStatus.SUSPENDED), doc)
    chain.flush()
    stats.transactions = chain.sent
    return stats


def _suspended(sec: Security) -> bool:
    """Whether the source has the security SUSPENDED (a SecurityStatus; its str() is the
    number since Python 3.11, so compare by value or name, never by str())."""
    return sec.status == SecurityStatus.SUSPENDED or getattr(sec.status, "name", sec.status) == "SUSPENDED"


# ---------------------------------------------------------------- reconciling


def reconcile(result: CleanResult, plan: Plan, chain: Chain, token_ids: dict[str, int] | None = None,
              bar: Callable[[Iterable, str, int], Iterable] = lambda it, desc, total: it) -> dict:
    """Read back every security, holding, pledge and freeze; list every difference.
    The reads go out as JSON-RPC batches across securities (Chain.read), in slices of
    RECONCILE_SLICE securities so that memory stays bounded on a province. `token_ids`
    (code -> id) are the ones the writing read (WriteStats.token_ids); without them (a
    reconciliation on its own) they are read here."""
    mismatches: list[str] = []
    checked = 0
    if token_ids is None:
        codes = [s.code for s in result.securities]
        token_ids = dict(zip(codes, chain.read("security_id", [(code_hash(c),) for c in codes])))
    slices = list(_chunks(result.securities, RECONCILE_SLICE))
    for part in bar(slices, "reconciling", len(slices)):
        registered = [sec for sec in part if token_ids[sec.code] != 0]
        for sec in part:
            if token_ids[sec.code] == 0:
                checked += 1
                mismatches.append(f"{sec.code}: not registered on chain")
        views = chain.read("security", [(token_ids[sec.code],) for sec in registered])
        owners = [[plan.of(h.account_no, result) for h in sec.holdings] for sec in registered]
        holdings = iter(chain.read("holding", [(o, token_ids[sec.code])
                                               for sec, os_ in zip(registered, owners) for o in os_]))
        pledges_by = [_group(sec.pledges, lambda p: plan.of(p.pledgor, result)) for sec in registered]
        pledge_lists = chain.read("pledges_of", [(o, token_ids[sec.code])
                                                 for sec, by in zip(registered, pledges_by) for o in by])
        pids = [pid for lst in pledge_lists for pid in lst]
        pledge_records = dict(zip(pids, chain.read("pledge_of", [(pid,) for pid in pids])))
        pledge_lists = iter(pledge_lists)
        freezes_by = [_group(sec.freezes, lambda f: plan.of(f.account_no, result)) for sec in registered]
        queues = chain.read("freeze_queue_of", [(o, token_ids[sec.code])
                                                for sec, by in zip(registered, freezes_by) for o in by])
        fids = [fid for ids, _ in queues for fid in ids]
        freeze_records = dict(zip(fids, chain.read("freeze_of", [(fid,) for fid in fids])))
        queues = iter(queues)

        for sec, view, pledged, frozen in zip(registered, views, pledges_by, freezes_by):
            checked += 1
            want_status = SecurityStatus.SUSPENDED if _suspended(sec) else SecurityStatus.ACTIVE
            if view[0] != want_status:
                mismatches.append(f"{sec.code}: status {SecurityStatus(view[0]).name} on chain, "
                                  f"{want_status.name} in the source")
            if view[7] != sec.total:
                mismatches.append(f"{sec.code}: total supply {view[7]} on chain, {sec.total} in the source")
            if view[3] != len(sec.holdings):
                mismatches.append(f"{sec.code}: {view[3]} holders on chain, {len(sec.holdings)} in the source")

            for h in sec.holdings:
                got = next(holdings)
                checked += 1
                want = (h.units, h.paid if int(sec.kind) == 1 else h.units, h.lock_until_day or 0, bool(h.insider))
                have = (got[0], got[1], got[3], bool(got[4]))
                if have != want:
                    mismatches.append(f"{sec.code}/{h.account_no}: holding (units, paid, lock, insider) "
                                      f"{have} on chain, {want} in the source")

            for owner, ps in pledged.items():
                lst = next(pledge_lists)
                wanted = sorted(ps, key=lambda p: p.rank)
                if len(lst) != len(wanted):
                    mismatches.append(f"{sec.code}/{owner}: {len(lst)} pledges on chain, {len(wanted)} in the source")
                for p, pid in zip(wanted, lst):
                    checked += 1
                    rec = pledge_records[pid]
                    have = (rec[0].lower(), rec[1].lower(), rec[3])
                    want = (owner.lower(), plan.of(p.pledgee, result).lower(), p.units)
                    if have != want:
                        mismatches.append(f"pledge {p.pledge_no}: (pledgor, pledgee, units) {have} on chain, "
                                          f"{want} in the source")

            balance_of = {plan.of(h.account_no, result): h.units for h in sec.holdings} if frozen else {}
            for owner, fs in frozen.items():
                ids, flags = next(queues)
                wanted = sorted(fs, key=lambda f: f.queue)
                expected = expected_in_force(wanted, balance_of.get(owner, 0),
                                             sum(p.units for p in pledged.get(owner, ())))
                if len(ids) != len(wanted):
                    mismatches.append(f"{sec.code}/{owner}: {len(ids)} freezes on chain, {len(wanted)} in the source")
                for f, fid, in_force, want_in_force in zip(wanted, ids, flags, expected):
                    checked += 1
                    rec = freeze_records[fid]
                    have = (rec[2], bytes(rec[3]), rec[7], bool(in_force))
                    want = (f.units, case_hash(f.case_no), f.expiry_day, want_in_force)
                    if have != want:
                        mismatches.append(f"freeze {f.freeze_no}: (units, case, expiry, in force) "
                                          f"{have[:1] + have[2:]} on chain, {want[:1] + want[2:]} in the source")
    return {"checked": checked, "mismatches": mismatches, "token_ids": token_ids}


def _group(items: list, key: Callable) -> dict[str, list]:
    """items by key(item), keys sorted (the order the reads go out in)."""
    by: dict[str, list] = {}
    for item in items:
        by.setdefault(key(item), []).append(item)
    return {k: by[k] for k in sorted(by)}


def expected_in_force(freezes: list, balance: int, pledged: int = 0) -> list[bool]:
    """Which of a holding's migrated freezes (queue order, lapsed ones already skipped)
    the register holds in force, by the claim rule of encumbrances.vy: each freeze, in
    registration order, claims what is neither pledged nor claimed before it, up to its
    units, and is in force when it claims all of them (a later, smaller freeze can be in
    force behind one that waits). A QUEUED freeze in force by that rule, or a FREEZE that
    waits behind pledged units, is what `queue_notes` tells the operator about."""
    free, total, out = max(balance - pledged, 0), 0, []
    for f in freezes:
        claim = min(f.units, free - total)
        total += claim
        out.append(claim == f.units)
    return out


def queue_notes(result: CleanResult, plan: Plan) -> list[str]:
    """Freezes whose state on chain differs from the export's FREEZE/QUEUED kind."""
    notes = []
    for sec in result.securities:
        balance_of = {h.account_no: h.units for h in sec.holdings}
        pledged_of: dict[str, int] = {}
        for p in sec.pledges:
            pledged_of[p.pledgor] = pledged_of.get(p.pledgor, 0) + p.units
        by_holding: dict[str, list] = {}
        for f in sec.freezes:
            by_holding.setdefault(f.account_no, []).append(f)
        for account_no, fs in by_holding.items():
            fs = sorted(fs, key=lambda f: f.queue)
            for f, in_force in zip(fs, expected_in_force(fs, balance_of.get(account_no, 0),
                                                         pledged_of.get(account_no, 0))):
                if in_force != (f.kind == FreezeKind.FREEZE):
                    notes.append(f"freeze {f.freeze_no} is {f.kind} in the export but "
                                 f"{'in force' if in_force else 'waiting'} on chain "
                                 "(a freeze before it lapsed or no longer applies, or pledged units come first)")
    return notes


def summary_data(result: CleanResult, stats: WriteStats | None, reconciliation: dict | None,
                 dry_run: bool, plan: Plan | None = None) -> dict:
    """The summary as data (`ape run migrate --json`): rows per file and status, reasons,
    warnings, notes, writes, reconciliation."""
    reasons: dict[str, int] = {}
    for row in result.rows:
        for r in row.reasons:
            reasons[r] = reasons.get(r, 0) + 1
    return {
        "dry_run": dry_run,
        "rows": {file: {status.lower(): n for status, n in sorted(counts.items())}
                 for file, counts in sorted(result.counts().items())},
        "reasons": dict(sorted(reasons.items())),
        "warnings": [str(w) for w in result.warnings],
        "notes": queue_notes(result, plan) if plan is not None else [],
        "written": None if stats is None else stats.counts(),
        "reconciliation": None if reconciliation is None else {
            "checked": reconciliation["checked"], "mismatches": list(reconciliation["mismatches"])},
    }


def summary(result: CleanResult, stats: WriteStats | None, reconciliation: dict | None,
            dry_run: bool, plan: Plan | None = None) -> str:
    """What a person reads: rows per file and status, reasons, writes, reconciliation."""
    data = summary_data(result, stats, reconciliation, dry_run, plan)
    lines = ["Migration " + ("(dry run: nothing written on chain)" if dry_run else "summary")]
    for file, counts in data["rows"].items():
        parts = ", ".join(f"{n} {status}" for status, n in counts.items())
        lines.append(f"  {file:<16} {parts}")
    if data["reasons"]:
        lines.append("  reasons: " + ", ".join(f"{r} {n}" for r, n in data["reasons"].items()))
    if data["warnings"]:
        lines.append(f"  warnings: {len(data['warnings'])} (first: {data['warnings'][0]})")
    for note in data["notes"]:
        lines.append(f"  note: {note}")
    if stats is not None:
        lines.append(f"  written: {stats.accounts_opened} accounts, {stats.securities_registered} "
                     f"securities registered, {stats.holdings_written} holdings, "
                     f"{stats.pledges_imported} pledges, {stats.freezes_imported} freezes, "
                     f"{stats.securities_sealed} sealed, in {stats.transactions} transactions")
    if reconciliation is not None:
        n = len(reconciliation["mismatches"])
        lines.append(f"  reconciliation: {reconciliation['checked']} records checked, {n} mismatches")
        lines.extend(f"    {m}" for m in reconciliation["mismatches"][:20])
    return "\n".join(lines)


def as_of_today(utc_offset_s: int = UTC_OFFSET_CHINA) -> int:
    now = dt.datetime.now(dt.timezone.utc).timestamp()
    return int((now + utc_offset_s) // 86400)


# ---------------------------------------------------------------- the pipeline


@dataclass
class Migration:
    """What each stage of a migration returned, and the report built from them at the end."""

    cleaned: CleanResult
    plan: Plan
    stats: WriteStats | None  # None: a dry run
    reconciliation: dict | None  # None: a dry run
    report: dict
    seconds: dict[str, float]  # clean_s (reading included), plan_s, write_s, reconcile_s

    @property
    def mismatches(self) -> list[str]:
        return self.reconciliation["mismatches"] if self.reconciliation else []


def run(source, ids: Identities, chain: Chain | None = None, *, as_of: int | None = None,
        progress: Callable[[str, int, int], None] | None = None,
        bar: Callable[[Iterable, str, int], Iterable] = lambda it, desc, total: it) -> Migration:
    """The migration of the export folder `source` as one straight pipeline:
    read → clean → plan → write → reconcile → report. Without a `chain` it is a dry run:
    read, clean and plan, and the report of that. `as_of` is the market day the cleaning
    judges lapsed freezes by (the register's `today()`; default today in market time),
    `progress(stage, done, total)` follows the cleaning, `bar(items, desc, total)` wraps
    the writing's and reconciling's loops. Both command lines run this: `ape run migrate`
    (scripts/migrate.py) and `python -m regchain.migrate`. Raises ExportError or
    MigrationError (one line)."""
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name], clock = now - clock, now

    export = read_export(source)
    cleaned = clean_export(export, as_of, progress)
    del export  # the raw rows: the province's largest object, not needed past cleaning
    lap("clean_s")
    plan = Plan.build(cleaned, ids)
    lap("plan_s")
    stats = reconciliation = None
    if chain is not None:
        stats = write(cleaned, plan, chain, bar=bar)
        lap("write_s")
        reconciliation = reconcile(cleaned, plan, chain, stats.token_ids, bar=bar)
        lap("reconcile_s")
    report = build_report(cleaned, plan.address, None if stats is None else stats.token_ids, reconciliation)
    return Migration(cleaned, plan, stats, reconciliation, report, seconds)


def _main(argv: list[str] | None = None) -> int:
    """python -m regchain.migrate SOURCE URI REGISTER SENDER ABI.json REPORT.json

    The migration without ape (regchain.writer's path): `run` on the register at REGISTER
    of the node at URI, then the report written; prints the timings and counts as one JSON
    line. SENDER signs: with the key in REGCHAIN_SIGNER_KEY_FILE, else the node's own key
    for it (anvil's dev accounts). The network profile comes from REGCHAIN_PROFILE
    (default: anvil), a deployed multicall for the reads from REGCHAIN_MULTICALL_ADDRESS.
    `make bench` runs it in a child process to measure its wall time and peak memory alone;
    the tests run it through nodes that behave like the consortium targets. The secret
    comes from REGCHAIN_OPERATOR_SECRET."""
    import json

    source, uri, address, sender, abi_path, report_path = (argv or sys.argv[1:])[:6]
    ids = Identities.from_env()
    abi = json.loads(open(abi_path, encoding="utf-8").read())
    chain = Chain.over_json_rpc(uri, address, sender, abi,
                                multicall=os.environ.get(MULTICALL_ENV, "").strip() or None)
    t0 = time.perf_counter()
    done = run(source, ids, chain, as_of=chain.reader.call("today"))
    with open(report_path, "w", encoding="utf-8") as f:
        json.dump(done.report, f, ensure_ascii=False, sort_keys=True)
    result, rec = done.cleaned, done.reconciliation
    print(json.dumps({
        **done.seconds, "wall_s": time.perf_counter() - t0,
        "securities": len(result.securities), "accounts": len(result.accounts),
        "holdings": sum(len(s.holdings) for s in result.securities),
        "pledges": len(result.pledges), "freezes": len(result.freezes),
        "transactions": done.stats.transactions, "gas": chain.gas,
        "send_s": {fn: round(v, 2) for fn, v in chain.seconds.items()},
        "checked": rec["checked"], "mismatches": len(rec["mismatches"]),
        "first_mismatches": rec["mismatches"][:5],
        "maxrss_kb": peak_rss_kb(),
    }))
    return 0 if not rec["mismatches"] else 1


USAGE = "usage: python -m regchain.migrate SOURCE URI REGISTER SENDER ABI.json REPORT.json"


def main(argv: list[str]) -> int:
    """`_main` as a command: a wrong number of arguments is the usage line, any error one line
    on stderr (`Error: ...`, as `ape run migrate` prints it), never a traceback; both exit 2.
    Exit 1: written, but reconciliation found differences."""
    from regchain.errors import one_line

    if len(argv) != 6:
        print(USAGE, file=sys.stderr)
        return 2
    try:
        return _main(argv)
    except Exception as exc:  # noqa: BLE001 (every error: one line)
        print(f"Error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
