"""Write a cleaned legacy export on chain, reconcile, and fill the report.

The cleaning is `regchain.legacy.clean` (the spec in shared/spec/legacy-export.md);
this module is the chain half:

- identities: each holder's canonical identity (``ID_TYPE:NUMBER``) becomes a salted
  hash on chain, and a holder without its own wallet gets a custody address whose key
  is derived from the operator's secret and that identity (so merged duplicates, which
  share an identity, share an address). The secret comes from the environment
  (``REGCHAIN_OPERATOR_SECRET``), never from a file in the repository.
- writing: accounts (open_accounts), then each security whole: register it (PENDING,
  not transferable), write its holdings, import its pledges and freezes with their
  original rank, and seal it — sealing checks on chain that the holdings add up to the
  declared total. Every step first reads what is already on chain and writes only what
  is missing, so a killed run resumes where it stopped and a finished one sends nothing.
- reconciling: every holding, pledge and freeze is read back in batched calls and
  compared with the cleaned source.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass, field
from typing import Callable, Iterable

from eth_account import Account as EthAccount
from eth_utils import keccak, to_checksum_address

from regchain.constants import AccountStatus, SecurityStatus, UTC_OFFSET_CHINA
from regchain.legacy.clean import CleanResult, FreezeKind, Security

SECRET_ENV = "REGCHAIN_OPERATOR_SECRET"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ACCOUNT_BATCH = 100
HOLDING_BATCH = 100
IMPORT_BATCH = 50
READ_BATCH = 300


class MigrationError(Exception):
    """The migration cannot go on; the message is one line."""


# ---------------------------------------------------------------- identities


@dataclass(frozen=True)
class Identities:
    """Salted identity hashes and custody addresses, from the operator's secret."""

    secret: bytes

    @classmethod
    def from_env(cls, env=os.environ) -> "Identities":
        value = env.get(SECRET_ENV, "")
        if len(value) < 16:
            raise MigrationError(
                f"set {SECRET_ENV} to the operator's secret (at least 16 characters); "
                "it derives custody addresses and salts identity hashes")
        return cls(value.encode())

    def identity_hash(self, identity: str) -> bytes:
        return hashlib.blake2b(identity.encode(), key=self.secret[:64], digest_size=32,
                               person=b"regchain-id").digest()

    def custody_key(self, identity: str) -> bytes:
        counter = 0
        while True:  # a keccak output >= n is astronomically rare; rehash if it happens
            key = keccak(b"regchain/custody/v1" + self.secret + identity.encode() + bytes([counter]))
            if 0 < int.from_bytes(key, "big") < SECP256K1_N:
                return key
            counter += 1

    def custody_address(self, identity: str) -> str:
        return EthAccount.from_key(self.custody_key(identity)).address


def identity_of(account) -> str:
    """The canonical identity string of a cleaned account."""
    return f"{account.id_type}:{account.id_number}"


def code_hash(code: str) -> bytes:
    return keccak(text=f"security:{code}")


def case_hash(case_no: str) -> bytes:
    return keccak(text=f"case:{case_no}")


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
            ident = identity_of(a)
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
    """Lean access to the register: writes through ape, reads as batched eth_calls."""

    def __init__(self, register, sender, progress: Callable = None):
        from ape import chain as ape_chain

        self.register = register
        self.sender = sender
        self.w3 = ape_chain.provider.web3
        abi = [item.model_dump(mode="json", by_alias=True) for item in register.contract_type.abi]
        self.contract = self.w3.eth.contract(address=register.address, abi=abi)
        self.sent = 0
        self.progress = progress

    def read(self, fn: str, args_list: list[tuple]) -> list:
        """fn(*args) for every args in args_list, as JSON-RPC batches."""
        out: list = []
        for start in range(0, len(args_list), READ_BATCH):
            chunk = args_list[start:start + READ_BATCH]
            with self.w3.batch_requests() as batch:
                for args in chunk:
                    batch.add(getattr(self.contract.functions, fn)(*args))
                out.extend(batch.execute())
        return out

    def send(self, fn: str, *args) -> None:
        getattr(self.register, fn)(*args, sender=self.sender)
        self.sent += 1


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


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def write(result: CleanResult, plan: Plan, chain: Chain, *, utc_offset_s: int = UTC_OFFSET_CHINA,
          bar: Callable[[Iterable, str, int], Iterable] = lambda it, desc, total: it) -> WriteStats:
    """Write what is clean and not yet on chain; see the module docstring."""
    stats = WriteStats()
    doc = source_doc(result)

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
    for batch in bar(list(_chunks(missing, ACCOUNT_BATCH)), "accounts", None):
        chain.send("open_accounts", batch, doc)
        stats.accounts_opened += len(batch)

    # securities, each whole
    for sec in bar(result.securities, "securities", len(result.securities)):
        _write_security(sec, result, plan, chain, doc, stats, utc_offset_s)
    stats.transactions = chain.sent
    return stats


def _write_security(sec: Security, result: CleanResult, plan: Plan, chain: Chain, doc: bytes,
                    stats: WriteStats, utc_offset_s: int) -> None:
    chash = code_hash(sec.code)
    sid = chain.read("security_id", [(chash,)])[0]
    if sid == 0:
        chain.send("register_security", chash, int(sec.kind), sec.unit_scale, sec.total, doc)
        stats.securities_registered += 1
        sid = chain.read("security_id", [(chash,)])[0]
    view = chain.read("security", [(sid,)])[0]
    status = view[0]
    if status != SecurityStatus.PENDING:
        return  # sealed by an earlier run: reconciliation checks it
    if view[8] != sec.total or view[1] != int(sec.kind) or view[2] != sec.unit_scale:
        raise MigrationError(f"security {sec.code} is registered on chain (id {sid}) with other terms")

    # holdings
    owners = [plan.of(h.account_no, result) for h in sec.holdings]
    balances = chain.read("balanceOf", [(o, sid) for o in owners])
    todo = []
    for h, owner, bal in zip(sec.holdings, owners, balances):
        if bal == 0:
            todo.append((owner, h.units, h.paid, h.acquired_day, h.lock_until_day or 0, bool(h.insider)))
        elif bal != h.units:
            raise MigrationError(f"holding {sec.code}/{h.account_no} is on chain with {bal}, not {h.units}")
    for batch in _chunks(todo, HOLDING_BATCH):
        chain.send("register_holdings", sid, batch, doc)
        stats.holdings_written += len(batch)

    # pledges, in rank order per pledgor; skip the prefix already imported
    by_owner: dict[str, list] = {}
    for p in sec.pledges:
        by_owner.setdefault(plan.of(p.pledgor, result), []).append(p)
    owners = sorted(by_owner)
    counts = chain.read("pledges_of", [(o, sid) for o in owners])
    todo = []
    for owner, existing in zip(owners, counts):
        for p in sorted(by_owner[owner], key=lambda p: p.rank)[len(existing):]:
            todo.append((owner, plan.of(p.pledgee, result), p.units,
                         day_start_timestamp(p.registered_day, utc_offset_s)))
    for batch in _chunks(todo, IMPORT_BATCH):
        chain.send("import_pledges", sid, batch, doc)
        stats.pledges_imported += len(batch)

    # freezes, in queue order per holding; skip the prefix already imported
    by_owner = {}
    for f in sec.freezes:
        by_owner.setdefault(plan.of(f.account_no, result), []).append(f)
    owners = sorted(by_owner)
    queues = chain.read("freeze_queue_of", [(o, sid) for o in owners])
    todo = []
    for owner, (existing, _flags) in zip(owners, queues):
        for f in sorted(by_owner[owner], key=lambda f: f.queue)[len(existing):]:
            todo.append((owner, f.units, case_hash(f.case_no),
                         day_start_timestamp(f.registered_day, utc_offset_s), f.expiry_day))
    for batch in _chunks(todo, IMPORT_BATCH):
        chain.send("import_freezes", sid, batch, doc)
        stats.freezes_imported += len(batch)

    chain.send("seal_security", sid, doc)
    stats.securities_sealed += 1
    if sec.status == "SUSPENDED" or getattr(sec.status, "name", "") == "SUSPENDED":
        chain.send("set_security_status", sid, int(SecurityStatus.SUSPENDED), doc)


# ---------------------------------------------------------------- reconciling


def reconcile(result: CleanResult, plan: Plan, chain: Chain,
              bar: Callable[[Iterable, str, int], Iterable] = lambda it, desc, total: it) -> dict:
    """Read back every security, holding, pledge and freeze; list every difference."""
    mismatches: list[str] = []
    checked = 0
    codes = [s.code for s in result.securities]
    sids = chain.read("security_id", [(code_hash(c),) for c in codes])
    token_ids = dict(zip(codes, sids))
    for sec in bar(result.securities, "reconciling", len(result.securities)):
        sid = token_ids[sec.code]
        checked += 1
        if sid == 0:
            mismatches.append(f"{sec.code}: not registered on chain")
            continue
        view = chain.read("security", [(sid,)])[0]
        want_status = SecurityStatus.SUSPENDED if str(sec.status).endswith("SUSPENDED") else SecurityStatus.ACTIVE
        if view[0] != want_status:
            mismatches.append(f"{sec.code}: status {SecurityStatus(view[0]).name} on chain, "
                              f"{want_status.name} in the source")
        if view[7] != sec.total:
            mismatches.append(f"{sec.code}: total supply {view[7]} on chain, {sec.total} in the source")
        if view[3] != len(sec.holdings):
            mismatches.append(f"{sec.code}: {view[3]} holders on chain, {len(sec.holdings)} in the source")

        owners = [plan.of(h.account_no, result) for h in sec.holdings]
        for h, got in zip(sec.holdings, chain.read("holding", [(o, sid) for o in owners])):
            checked += 1
            want = (h.units, h.paid if int(sec.kind) == 1 else h.units, h.lock_until_day or 0, bool(h.insider))
            have = (got[0], got[1], got[3], bool(got[4]))
            if have != want:
                mismatches.append(f"{sec.code}/{h.account_no}: holding (units, paid, lock, insider) "
                                  f"{have} on chain, {want} in the source")

        by_owner: dict[str, list] = {}
        for p in sec.pledges:
            by_owner.setdefault(plan.of(p.pledgor, result), []).append(p)
        owners = sorted(by_owner)
        lists = chain.read("pledges_of", [(o, sid) for o in owners])
        pids = [pid for lst in lists for pid in lst]
        records = dict(zip(pids, chain.read("pledge_of", [(pid,) for pid in pids])))
        for owner, lst in zip(owners, lists):
            wanted = sorted(by_owner[owner], key=lambda p: p.rank)
            if len(lst) != len(wanted):
                mismatches.append(f"{sec.code}/{owner}: {len(lst)} pledges on chain, {len(wanted)} in the source")
            for p, pid in zip(wanted, lst):
                checked += 1
                rec = records[pid]
                have = (rec[0].lower(), rec[1].lower(), rec[3])
                want = (owner.lower(), plan.of(p.pledgee, result).lower(), p.units)
                if have != want:
                    mismatches.append(f"pledge {p.pledge_no}: (pledgor, pledgee, units) {have} on chain, "
                                      f"{want} in the source")

        by_owner = {}
        for f in sec.freezes:
            by_owner.setdefault(plan.of(f.account_no, result), []).append(f)
        owners = sorted(by_owner)
        queues = chain.read("freeze_queue_of", [(o, sid) for o in owners])
        fids = [fid for ids, _ in queues for fid in ids]
        records = dict(zip(fids, chain.read("freeze_of", [(fid,) for fid in fids])))
        balance_of = {plan.of(h.account_no, result): h.units for h in sec.holdings}
        for owner, (ids, flags) in zip(owners, queues):
            wanted = sorted(by_owner[owner], key=lambda f: f.queue)
            expected = expected_in_force(wanted, balance_of.get(owner, 0))
            if len(ids) != len(wanted):
                mismatches.append(f"{sec.code}/{owner}: {len(ids)} freezes on chain, {len(wanted)} in the source")
            for f, fid, in_force, want_in_force in zip(wanted, ids, flags, expected):
                checked += 1
                rec = records[fid]
                have = (rec[2], bytes(rec[3]), rec[7], bool(in_force))
                want = (f.units, case_hash(f.case_no), f.expiry_day, want_in_force)
                if have != want:
                    mismatches.append(f"freeze {f.freeze_no}: (units, case, expiry, in force) "
                                      f"{have[:1] + have[2:]} on chain, {want[:1] + want[2:]} in the source")
    return {"checked": checked, "mismatches": mismatches, "token_ids": token_ids}


def expected_in_force(freezes: list, balance: int) -> list[bool]:
    """Which of a holding's migrated freezes (queue order, lapsed ones already skipped)
    the register holds in force: each that fits behind the ones before it, until the
    first that does not (encumbrances.vy). A QUEUED freeze whose predecessor lapsed is
    in force; `queue_notes` tells the operator where that differs from the export."""
    total, waiting, out = 0, False, []
    for f in freezes:
        if not waiting and total + f.units <= balance:
            total += f.units
            out.append(True)
        else:
            waiting = True
            out.append(False)
    return out


def queue_notes(result: CleanResult, plan: Plan) -> list[str]:
    """Freezes whose state on chain differs from the export's FREEZE/QUEUED kind."""
    notes = []
    for sec in result.securities:
        balance_of = {h.account_no: h.units for h in sec.holdings}
        by_holding: dict[str, list] = {}
        for f in sec.freezes:
            by_holding.setdefault(f.account_no, []).append(f)
        for account_no, fs in by_holding.items():
            fs = sorted(fs, key=lambda f: f.queue)
            for f, in_force in zip(fs, expected_in_force(fs, balance_of.get(account_no, 0))):
                if in_force != (f.kind == FreezeKind.FREEZE):
                    notes.append(f"freeze {f.freeze_no} is {f.kind} in the export but "
                                 f"{'in force' if in_force else 'waiting'} on chain "
                                 "(a freeze before it lapsed or no longer applies)")
    return notes


def fill_report(result: CleanResult, plan: Plan, token_ids: dict[str, int] | None,
                reconciliation: dict | None) -> dict:
    """The spec's JSON report with token ids, addresses and the reconciliation."""
    report = result.report
    for code, entry in report["securities"].items():
        entry["token_id"] = (token_ids or {}).get(code) if entry["status"] == "MIGRATED" else None
    for no, entry in report["accounts"].items():
        if entry["status"] in ("MIGRATED", "MERGED"):
            entry["address"] = plan.of(no, result)
    report["reconciliation"] = ({"checked": reconciliation["checked"],
                                 "mismatches": reconciliation["mismatches"]}
                                if reconciliation else {"checked": 0, "mismatches": []})
    return report


def summary(result: CleanResult, stats: WriteStats | None, reconciliation: dict | None,
            dry_run: bool, plan: Plan | None = None) -> str:
    """What a person reads: rows per file and status, reasons, writes, reconciliation."""
    lines = ["Migration " + ("(dry run: nothing written on chain)" if dry_run else "summary")]
    for file, counts in sorted(result.counts().items()):
        parts = ", ".join(f"{n} {status.lower()}" for status, n in sorted(counts.items()))
        lines.append(f"  {file:<16} {parts}")
    reasons: dict[str, int] = {}
    for row in result.rows:
        for r in row.reasons:
            reasons[r] = reasons.get(r, 0) + 1
    if reasons:
        lines.append("  reasons: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
    if result.warnings:
        lines.append(f"  warnings: {len(result.warnings)} (first: {result.warnings[0]})")
    for note in queue_notes(result, plan) if plan is not None else []:
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
