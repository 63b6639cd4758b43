"""Rebuild the whole register from its events (全程留痕、可追溯).

    rpc = HttpRpc(url)                      # or HttpRpc.from_ape()
    idx = Indexer(rpc, register_address, abi_of_suite(), checkpoint=Path(".cache/indexer.json"),
                  network_key="devnet")
    state = idx.sync()                      # resumes from the checkpoint, if any

Every log comes from the Register address (the desks run by DELEGATECALL on its storage,
so their events are Register's). Logs are fetched with ``eth_getLogs`` in block chunks;
a chunk the node refuses ("too many results", "limit exceeded", ...) is halved and
retried. After each chunk the last block and the rebuilt state are written to the
checkpoint file (one entry per network), so a killed run resumes where it stopped.

What the state holds (all JSON-able, see ``State``): governance and roles, the calendar
horizon and amendments, the pause, accounts, securities (status, kind, scale, holder
count, supply, declared total, closures), holdings (balance, paid-in, acquisition day,
lock-up, insider, insider quota), allowances and operators, pledges (status, units, rank,
consent), freezes (queue, status, expiry, "has taken effect"), transfer terms per
security (first refusal, institutional only, fund minimum), transfer instructions
(record, stored stage, exercisers, deliveries; the stage *now*, lapse included, is
derived from ``expiry_day`` and the day as the contract's ``stage_of`` does), listings
(record, best bid, every bid), accepted cash tokens, cash escrowed per token and refunds
per token and holder.

Settlement moves (``Transfer`` followed by ``InstructionSettled`` or ``ListingClosed``)
are not transferFrom: the caller (registrar, buyer, whoever closes) spends no allowance.

Cash: ``escrowed[token]`` rises with ``InstructionAccepted.escrowed``,
``FirstRefusalExercised.escrowed`` and ``BidPlaced.amount``, falls with the ``paid`` of a
DvP ``InstructionSettled``, the amount of a SOLD ``ListingClosed`` and ``RefundClaimed``;
``RefundCredited``/``RefundClaimed`` move ``refunds``. A listing's ``listed_day`` (not in
``Listed``) is the day of its block.

Freezes: which units each freeze claims is derived with the contract's own rule
(encumbrances.vy): read the queue in registration order, skip lapsed ones; each claims
min(units, what is neither pledged nor claimed before it); one that claims all its
units is in force, one short of them is queued (轮候) and takes units as they free up. The "has taken effect" bit is persisted where the contract persists
it (freeze, import, lift, tidy, court transfer, pledge enforcement). The events'
``Frozen.in_force`` and ``FreezeTookEffect`` are used as a cross-check only: any
disagreement is listed in ``State.notes``. (enforce_pledge persists the bit without a
FreezeTookEffect event; deriving it by the rule is what makes the rebuild exact there.)

Two things the events do not carry, and how they are handled:
- the calendar bitmap (CalendarPublished has the range and the count, not the days):
  holdings keep their acquisition *day*; the audit converts it with the chain's
  ``trading_day_number_of_day``.
- the registration time of an imported freeze (import_freezes; Frozen has no
  registered_at): recorded as None, and the audit does not compare it.
"""

from __future__ import annotations

import json
import os
import time
from functools import lru_cache
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterable, Iterator

from eth_abi import decode as abi_decode
from eth_utils import keccak, to_checksum_address

from regchain import rpc
from regchain.calendar import year_of

ZERO = "0x0000000000000000000000000000000000000000"
MAX_UINT = 2**256 - 1

# account / security / pledge / freeze codes (regchain.constants mirrors them)
ACTIVE_ACCOUNT, CLOSED_ACCOUNT = 1, 3
PENDING, ACTIVE = 1, 2
LLC = 1
OFFERED, PLEDGED, RELEASED, ENFORCED, CANCELLED = 1, 2, 3, 4, 5
OPEN, LIFTED, EXECUTED, LAPSED = 1, 2, 3, 4
SECURITY_MANAGER, COURT_AGENT = 2, 16
LP_FUND = 3
# ForcedTransfer.path (ledger.vy)
COURT_TRANSFER, COURT_ENFORCEMENT, PLEDGEE_ENFORCEMENT, RECOVERY = 1, 2, 3, 4
# instruction stages (instructions.vy); I_LAPSED is stored only by reclaim_lapsed (InstructionLapsed)
I_PROPOSED, I_SETTLED, I_REJECTED, I_WITHDRAWN, I_LAPSED = 1, 2, 3, 4, 5
# listing statuses (auctions.vy)
L_OPEN, L_SOLD, L_FAILED, L_WITHDRAWN = 1, 2, 3, 4
# bump when State gains fields: an older checkpoint is then rebuilt from scratch
SCHEMA = 2

# The six categories of the regional-equity blockchain pilot's protocol (docs/runbook.md, "Daily operations").
USERS = "用户登记"        # user registration: accounts, roles, governance
ASSETS = "资产登记"       # asset registration: securities, issuance, capital changes, holding and transfer terms
CASH = "资金映射"         # cash mapping: cash tokens, refunds, and the cash leg of every escrow and payment
ASSET_MAP = "资产映射"    # asset mapping: encumbrances mapped onto holdings (pledges, freezes)
TRANSFERS = "转让管理"    # transfer management: transfers, approvals, operators, pause, instructions, bids
SETTLEMENT = "结算管理"   # settlement: forced moves, instruction settlements, listing closes, the calendar
CATEGORIES = (USERS, ASSETS, CASH, ASSET_MAP, TRANSFERS, SETTLEMENT)

CATEGORY_OF = {
    "GovernanceTransferStarted": USERS, "GovernanceTransferred": USERS,
    "RoleGranted": USERS, "RoleRevoked": USERS,
    "SecurityRoleGranted": USERS, "SecurityRoleRevoked": USERS,
    "AccountOpened": USERS, "AccountStatusChanged": USERS,
    "AccountQualificationChanged": USERS, "AccountRecovered": USERS,
    "SecurityRegistered": ASSETS, "Issued": ASSETS, "HoldingsRegistered": ASSETS,
    "SecuritySealed": ASSETS, "SecurityStatusChanged": ASSETS,
    "CapitalIncreased": ASSETS, "CapitalDecreased": ASSETS, "PaidInRecorded": ASSETS,
    "LockupSet": ASSETS, "InsiderSet": ASSETS, "RegisterClosureSet": ASSETS,
    "HoldingRecovered": ASSETS,
    "PledgeOffered": ASSET_MAP, "PledgeOfferCancelled": ASSET_MAP, "PledgeRegistered": ASSET_MAP,
    "PledgeReleased": ASSET_MAP, "PledgedTransferConsented": ASSET_MAP,
    "Frozen": ASSET_MAP, "FreezeTookEffect": ASSET_MAP, "FreezeLifted": ASSET_MAP,
    "FreezeRenewed": ASSET_MAP, "FreezeLapsed": ASSET_MAP,
    "Transfer": TRANSFERS, "Approval": TRANSFERS, "OperatorSet": TRANSFERS,
    "Paused": TRANSFERS, "Unpaused": TRANSFERS,
    "PledgeEnforced": SETTLEMENT, "CourtTransferred": SETTLEMENT, "ForcedTransfer": SETTLEMENT,
    "EnforcementConsented": ASSET_MAP, "PreemptionWaived": ASSETS,
    "CalendarPublished": SETTLEMENT, "CalendarAmended": SETTLEMENT,
    "TransferTermsSet": ASSETS,
    "CashTokenSet": CASH, "RefundCredited": CASH, "RefundClaimed": CASH,
    "InstructionProposed": TRANSFERS, "InstructionAccepted": TRANSFERS, "InstructionConsented": TRANSFERS,
    "InstructionRejected": TRANSFERS, "InstructionWithdrawn": TRANSFERS, "InstructionLapsed": TRANSFERS,
    "FirstRefusalExercised": TRANSFERS,
    "Listed": TRANSFERS, "ListingConsented": TRANSFERS, "BidPlaced": TRANSFERS,
    "InstructionSettled": SETTLEMENT, "ListingClosed": SETTLEMENT,
}
# Events with a cash leg get a second feed line under CASH ("leg": "cash"): the escrow
# of an acceptance, an exercise or a bid (payer -> register) and the payment of a DvP
# settlement or a sold listing (register -> seller).
CASH_LEGS = ("InstructionAccepted", "FirstRefusalExercised", "BidPlaced", "InstructionSettled", "ListingClosed")


class IndexerError(Exception):
    """The rebuild cannot go on; the message is one line."""


class RpcError(rpc.RpcError, IndexerError):
    """A node's refusal or silence while rebuilding (regchain.rpc.RpcError, one line)."""


# ---------------------------------------------------------------- JSON-RPC


class HttpRpc(rpc.Rpc):
    """regchain.rpc's transport (batches where the node takes them, else pipelined
    requests; reads retried while the node does not answer) whose `call` and `batch`
    raise the first error as RpcError (the rebuild stops on any)."""

    def __init__(self, url: str, timeout: float = 60.0, **kwargs):
        super().__init__(url, timeout, **kwargs)
        self.url = url

    @classmethod
    def from_ape(cls) -> "HttpRpc":
        from ape import chain

        uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
        return cls(uri)

    def call(self, method: str, params: list | None = None):
        return self.batch([(method, params or [])])[0]

    def batch(self, calls: list[tuple[str, list]]) -> list:
        try:
            replies = super().batch(calls) if len(calls) > 1 else [self._one(*calls[0])] if calls else []
        except OSError as exc:  # connection refused, timeout (after the retries)
            raise RpcError(f"{self.url}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") \
                from None
        except ValueError as exc:  # not JSON
            raise RpcError(f"{self.url}: {type(exc).__name__}: {exc}") from None
        for (method, _), reply in zip(calls, replies):
            if isinstance(reply, rpc.RpcError):
                raise RpcError(f"{method}: {reply.error.get('message', reply.error)}", reply.code)
        return replies

    def _one(self, method: str, params: list):
        try:
            return super().call(method, params)
        except rpc.RpcError as exc:
            return exc


# ---------------------------------------------------------------- decoding


def abi_of_suite() -> list[dict]:
    """The merged ABI of Register and its desks, as dicts (needs the ape project)."""
    from regchain.suite import suite_contract_type

    return [item.model_dump(mode="json", by_alias=True) for item in suite_contract_type().abi]


@dataclass
class Event:
    name: str
    block: int
    tx: str
    log_index: int
    args: dict
    timestamp: int | None = None


def _jsonable(value):
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


@lru_cache(maxsize=1 << 18)
def checksum(address: str) -> str:
    """to_checksum_address, remembered: a register's logs name the same accounts over and over
    (keccak of every address of every log was a third of decoding)."""
    return to_checksum_address(address)


_ZERO12 = b"\x00" * 12


def _word_reader(typ: str):
    """A reader of one 32-byte ABI word of static type ``typ`` (the value as ``_norm`` gives it),
    or None where the type is not one read here (``Decoder`` then decodes with eth_abi). A word
    eth_abi would refuse (dirty padding, out of range) raises ValueError: eth_abi then says why."""
    if typ == "address":
        def read(w: bytes):
            if w[:12] != _ZERO12:
                raise ValueError(typ)
            return checksum("0x" + w[12:].hex())
        return read
    if typ == "bool":
        def read(w: bytes):
            v = int.from_bytes(w, "big")
            if v > 1:
                raise ValueError(typ)
            return bool(v)
        return read
    if typ.startswith("uint") and typ[4:].isdigit():
        bits = int(typ[4:])

        def read(w: bytes):
            v = int.from_bytes(w, "big")
            if v >> bits:
                raise ValueError(typ)
            return v
        return read
    if typ.startswith("bytes") and typ[5:].isdigit() and 1 <= int(typ[5:]) <= 32:
        n = int(typ[5:])

        def read(w: bytes):
            if any(w[n:]):
                raise ValueError(typ)
            return "0x" + w[:n].hex()
        return read
    return None


class Decoder:
    """topic0 -> event; decodes raw logs into Event (addresses checksummed, bytes as 0x hex).

    Events whose inputs are all static words (the suite's are: addresses, uints, bools,
    bytes32) are read word by word with readers made once per event; any other event, or a
    word a reader refuses, goes through eth_abi (the same values, or its error)."""

    def __init__(self, abi: list[dict]):
        self.events: dict[bytes, dict] = {}
        self._plans: dict[bytes, tuple | None] = {}
        for item in abi:
            if item.get("type") != "event" or item.get("anonymous"):
                continue
            sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            topic = keccak(text=sig)
            self.events[topic] = item
            self._plans[topic] = self._plan(item)

    @staticmethod
    def _plan(item: dict) -> tuple | None:
        """(n indexed, n plain, [(name, reader, from topics?, position)] in ABI order), or None."""
        fields, n_indexed, n_plain = [], 0, 0
        for i in item["inputs"]:
            reader = _word_reader(i["type"])
            if reader is None:
                return None
            if i.get("indexed"):
                n_indexed += 1
                fields.append((i["name"], reader, True, n_indexed))
            else:
                fields.append((i["name"], reader, False, n_plain))
                n_plain += 1
        return n_indexed, n_plain, fields

    @property
    def topics(self) -> list[str]:
        return ["0x" + t.hex() for t in self.events]

    def decode(self, log: dict) -> Event | None:
        raw_topics = log["topics"]
        if not raw_topics:
            return None
        topic0 = bytes.fromhex(raw_topics[0][2:])
        item = self.events.get(topic0)
        if item is None:
            return None
        args = None
        plan = self._plans[topic0]
        if plan is not None:
            n_indexed, n_plain, fields = plan
            data = bytes.fromhex(log["data"][2:])
            if len(raw_topics) == n_indexed + 1 and len(data) == 32 * n_plain:
                try:
                    args = {name: read(bytes.fromhex(raw_topics[at][2:]) if indexed else data[32 * at:32 * at + 32])
                            for name, read, indexed, at in fields}
                except ValueError:
                    args = None
        if args is None:
            args = self._decode_abi(item, log)
        ts = log.get("blockTimestamp")
        return Event(item["name"], int(log["blockNumber"], 16), log["transactionHash"],
                     int(log["logIndex"], 16), args, int(ts, 16) if ts else None)

    @staticmethod
    def _decode_abi(item: dict, log: dict) -> dict:
        topics = [bytes.fromhex(t[2:]) for t in log["topics"]]
        indexed = [i for i in item["inputs"] if i.get("indexed")]
        plain = [i for i in item["inputs"] if not i.get("indexed")]
        args = {}
        for i, topic in zip(indexed, topics[1:]):
            args[i["name"]] = abi_decode([i["type"]], topic)[0]
        data = bytes.fromhex(log["data"][2:])
        for i, value in zip(plain, abi_decode([i["type"] for i in plain], data)):
            args[i["name"]] = value
        # keep ABI order
        return {i["name"]: _norm(i["type"], args[i["name"]]) for i in item["inputs"]}


def _norm(typ: str, value):
    if typ == "address":
        return checksum(value)
    if typ.startswith("bytes"):
        return "0x" + bytes(value).hex()
    return value


# ---------------------------------------------------------------- log fetching

TOO_MANY = ("too many", "limit", "exceed", "range", "10000", "response size", "timeout", "timed out")


def iter_log_chunks(rpc, address: str, first: int, last: int, chunk: int = 2000, *,
                    min_chunk: int = 1, max_chunk: int = 10_000,
                    echo: Callable[[str], None] | None = None) -> Iterator[tuple[int, list[dict]]]:
    """(last block of the chunk, its raw logs) for [first, last], in chunks of blocks.

    A chunk the node refuses for its size is halved (down to ``min_chunk`` blocks) and
    retried; after a success the size grows back by half up to ``max_chunk``.
    """
    start = first
    size = max(min_chunk, chunk)
    while start <= last:
        end = min(last, start + size - 1)
        try:
            logs = rpc.call("eth_getLogs", [{"address": address, "fromBlock": hex(start),
                                             "toBlock": hex(end)}])
        except RpcError as exc:
            text = str(exc).lower()
            if size > min_chunk and (exc.code == -32005 or any(w in text for w in TOO_MANY)):
                size = max(min_chunk, size // 2)
                if echo:
                    echo(f"  blocks {start}..{end}: {str(exc)[:80]}; chunk now {size} blocks")
                continue
            raise
        yield end, logs
        start = end + 1
        size = min(max_chunk, size + max(1, size // 2)) if size < chunk else size


def block_timestamps(rpc, blocks: Iterable[int], batch: int = 200) -> dict[int, int]:
    blocks = sorted(set(blocks))
    out: dict[int, int] = {}
    for i in range(0, len(blocks), batch):
        part = blocks[i:i + batch]
        replies = rpc.batch([("eth_getBlockByNumber", [hex(b), False]) for b in part])
        for b, reply in zip(part, replies):
            out[b] = int(reply["timestamp"], 16)
    return out


# ---------------------------------------------------------------- state


def hkey(owner: str, sid: int) -> str:
    return f"{owner}|{sid}"


@dataclass
class State:
    """The register as rebuilt from events. Keys: addresses checksummed, ids as str."""

    chain_id: int | None = None
    address: str | None = None
    time_unit: int = 1
    utc_offset: int = 8 * 3600
    first_block: int = 0
    last_block: int = -1
    last_block_hash: str | None = None  # a checkpoint resumes only on the same chain history
    events: int = 0
    governance: str = ZERO
    pending_governance: str = ZERO
    paused: bool = False
    roles: dict = field(default_factory=dict)            # address -> flags
    security_roles: dict = field(default_factory=dict)   # "address|id" -> flags
    epoch_day: int = 0
    horizon_day: int = 0
    publications: list = field(default_factory=list)     # [first, last, trading days]
    amendments: dict = field(default_factory=dict)       # day -> trading
    accounts: dict = field(default_factory=dict)         # address -> record
    securities: dict = field(default_factory=dict)       # id -> record
    holdings: dict = field(default_factory=dict)         # "address|id" -> record
    quotas: dict = field(default_factory=dict)           # "address|id" -> [year, base, used]
    allowances: dict = field(default_factory=dict)       # "owner|spender|id" -> amount
    operators: dict = field(default_factory=dict)        # "owner|spender" -> bool
    pledges: dict = field(default_factory=dict)          # pledge id -> record
    pledge_ids: dict = field(default_factory=dict)       # "address|id" -> [pledge ids, rank order]
    freezes: dict = field(default_factory=dict)          # freeze id -> record
    freeze_queue: dict = field(default_factory=dict)     # "address|id" -> [freeze ids, queue order]
    registration_seq: int = 0
    pledge_count: int = 0
    freeze_count: int = 0
    security_count: int = 0
    transfer_terms: dict = field(default_factory=dict)   # id -> {first_refusal, institutional_only, fund_minimum}
    instructions: dict = field(default_factory=dict)     # instruction id -> record (see on_InstructionProposed)
    instruction_count: int = 0
    listings: dict = field(default_factory=dict)         # listing id -> record (see on_Listed)
    listing_count: int = 0
    cash_tokens: dict = field(default_factory=dict)      # token -> accepted
    escrowed: dict = field(default_factory=dict)         # token -> cash the register holds
    refunds: dict = field(default_factory=dict)          # "token|holder" -> refund waiting to be pulled
    notes: list = field(default_factory=list)            # disagreements between events and the rule
    schema: int = SCHEMA

    def to_json(self) -> dict:
        """The fields as JSON-able data: the state's own containers, not copies (``asdict``'s deep
        copy cost more than the JSON encoding of a province's state): serialize it, don't keep it."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict) -> "State":
        return cls(**data)

    # ------------------------------------------------------------ reading

    def day_of(self, timestamp: int) -> int:
        return (timestamp // self.time_unit + self.utc_offset) // 86400

    def holding(self, owner: str, sid: int) -> dict:
        return self.holdings.get(hkey(owner, sid)) or _new_holding()

    def paid_view(self, owner: str, sid: int) -> int:
        """Paid-in units as the contract's `holding` view reports them."""
        h = self.holding(owner, sid)
        sec = self.securities.get(str(sid))
        return h["paid"] if sec and sec["kind"] == LLC else h["balance"]

    def pledged(self, key: str) -> int:
        return sum(self.pledges[str(p)]["units"] for p in self.pledge_ids.get(key, []))

    def evaluate(self, key: str, day: int, stop: int | None = None) -> tuple[int, list[bool]]:
        """(units claimed by the open freezes, in-force flag per queued freeze): encumbrances.vy."""
        balance = self.holdings.get(key, {}).get("balance", 0)
        pledged = sum(self.pledges[str(p)]["units"] for p in self.pledge_ids.get(key, []))
        free = max(balance - pledged, 0)
        total, flags = 0, []
        for i, fid in enumerate(self.freeze_queue.get(key, [])):
            if stop is not None and i >= stop:
                break
            f = self.freezes[str(fid)]
            if f["expiry_day"] < day:
                flags.append(False)
                continue
            claim = min(f["units"], free - total)
            total += claim
            flags.append(claim == f["units"])
        return total, flags

    def frozen(self, key: str, day: int) -> int:
        return self.evaluate(key, day)[0]

    def freeze_status(self, fid: int, day: int) -> str:
        """OPEN freezes as IN_FORCE / WAITING / LAPSED on ``day``; others by status."""
        f = self.freezes[str(fid)]
        if f["status"] != OPEN:
            return {LIFTED: "LIFTED", EXECUTED: "EXECUTED", LAPSED: "LAPSED"}[f["status"]]
        if f["expiry_day"] < day:
            return "LAPSED"
        key = hkey(f["owner"], f["id"])
        flags = self.evaluate(key, day)[1]
        idx = self.freeze_queue[key].index(fid)
        return "IN_FORCE" if flags[idx] else "WAITING"

    def instruction_stage(self, iid: int, day: int) -> int:
        """The stage now, as instructions.vy's ``stage_of``: a PROPOSED one past its expiry day is LAPSED."""
        ins = self.instructions.get(str(iid))
        if ins is None:
            return 0
        if ins["stage"] == I_PROPOSED and day > ins["expiry_day"]:
            return I_LAPSED
        return ins["stage"]

    def pending_instructions(self, day: int) -> list[int]:
        """The pending transfers: instructions neither closed nor lapsed on ``day``."""
        return sorted(int(i) for i in self.instructions if self.instruction_stage(int(i), day) == I_PROPOSED)

    def instruction_escrow(self, iid: int) -> int:
        """Cash an instruction still holds in escrow (buyer's and each exerciser's price)."""
        ins = self.instructions[str(iid)]
        if ins["cash"] == ZERO or ins["stage"] != I_PROPOSED:
            return 0
        return ins["price"] * (int(ins["buyer_accepted"]) + len(ins["exercisers"]))

    def open_escrow(self, token: str) -> int:
        """Open escrows of ``token``: instructions not closed (lapsed ones until reclaimed), open listings' best bids."""
        total = sum(self.instruction_escrow(int(i)) for i, ins in self.instructions.items() if ins["cash"] == token)
        total += sum(lst["best_amount"] for lst in self.listings.values()
                     if lst["cash"] == token and lst["status"] == L_OPEN)
        return total

    def refunds_of(self, token: str) -> int:
        return sum(v for k, v in self.refunds.items() if k.split("|")[0] == token)

    def holders_of(self, sid: int) -> list[tuple[str, dict]]:
        suffix = f"|{sid}"
        return sorted(((k.split("|")[0], h) for k, h in self.holdings.items()
                       if k.endswith(suffix) and h["balance"] > 0), key=lambda kv: -kv[1]["balance"])


def _new_holding() -> dict:
    return {"balance": 0, "paid": 0, "acquired_day": 0, "lock_until_day": 0, "insider": False}


# ---------------------------------------------------------------- applying events


class Applier:
    """Applies decoded events, in log order, to a State."""

    def __init__(self, state: State, on_holding: Callable | None = None):
        self.s = state
        self.on_holding = on_holding  # (event, owner, id, new balance) after a balance change
        self._took_effect_seen: list[int] = []
        self._tx: str | None = None

    # every block with a relevant log needs its timestamp: callers fill Event.timestamp

    def apply_all(self, events: list[Event], on_event: Callable[[Event], None] | None = None) -> None:
        for i, ev in enumerate(events):
            if ev.tx != self._tx:
                self._end_tx()
                self._tx = ev.tx
            nxt = events[i + 1] if i + 1 < len(events) and events[i + 1].tx == ev.tx else None
            handler = getattr(self, "on_" + ev.name, None)
            if handler is not None:
                if ev.name == "Transfer":
                    handler(ev, nxt)
                else:
                    handler(ev)
            self.s.events += 1
            if on_event:
                on_event(ev)
        self._end_tx()

    def _end_tx(self):
        for fid in self._took_effect_seen:
            f = self.s.freezes.get(str(fid))
            if f is None or not f["took_effect"]:
                self.s.notes.append(f"FreezeTookEffect({fid}) in tx {self._tx} but the rule does not "
                                    "have it in force")
        self._took_effect_seen = []

    def day(self, ev: Event) -> int:
        if ev.timestamp is None:
            raise IndexerError(f"no timestamp for block {ev.block}")
        return self.s.day_of(ev.timestamp)

    def _holding(self, owner: str, sid: int) -> dict:
        return self.s.holdings.setdefault(hkey(owner, sid), _new_holding())

    def _sec(self, sid: int) -> dict:
        return self.s.securities[str(sid)]

    def _changed(self, ev, owner, sid):
        if self.on_holding:
            self.on_holding(ev, owner, sid, self.s.holdings[hkey(owner, sid)]["balance"])

    # ------------------------------------------------------------ roles, calendar

    def on_GovernanceTransferStarted(self, ev):
        self.s.pending_governance = ev.args["pending"]

    def on_GovernanceTransferred(self, ev):
        self.s.governance = ev.args["current"]
        self.s.pending_governance = ZERO

    def on_RoleGranted(self, ev):
        a = ev.args["account"]
        self.s.roles[a] = self.s.roles.get(a, 0) | ev.args["role"]

    def on_RoleRevoked(self, ev):
        a = ev.args["account"]
        self.s.roles[a] = self.s.roles.get(a, 0) & ~ev.args["role"]

    def on_SecurityRoleGranted(self, ev):
        k = hkey(ev.args["account"], ev.args["id"])
        self.s.security_roles[k] = self.s.security_roles.get(k, 0) | ev.args["role"]

    def on_SecurityRoleRevoked(self, ev):
        k = hkey(ev.args["account"], ev.args["id"])
        self.s.security_roles[k] = self.s.security_roles.get(k, 0) & ~ev.args["role"]

    def on_CalendarPublished(self, ev):
        a = ev.args
        if self.s.horizon_day == 0:
            self.s.epoch_day = a["first_day"]
        self.s.horizon_day = a["last_day"]
        self.s.publications.append([a["first_day"], a["last_day"], a["trading_days"]])

    def on_CalendarAmended(self, ev):
        self.s.amendments[str(ev.args["day"])] = ev.args["trading"]

    def on_Paused(self, ev):
        self.s.paused = True

    def on_Unpaused(self, ev):
        self.s.paused = False

    # ------------------------------------------------------------ accounts

    def on_AccountOpened(self, ev):
        a = ev.args
        self.s.accounts[a["wallet"]] = {"status": ACTIVE_ACCOUNT, "investor_class": a["investor_class"],
                                        "qualified": a["qualified"], "identity": a["identity"],
                                        "opened_block": ev.block}

    def on_AccountStatusChanged(self, ev):
        self.s.accounts[ev.args["wallet"]]["status"] = ev.args["status"]

    def on_AccountQualificationChanged(self, ev):
        self.s.accounts[ev.args["wallet"]]["qualified"] = ev.args["qualified"]

    def on_AccountRecovered(self, ev):
        old = self.s.accounts[ev.args["old_wallet"]]
        new = dict(old)
        if new["status"] == CLOSED_ACCOUNT:
            new["status"] = ACTIVE_ACCOUNT
        new["recovered_from"] = ev.args["old_wallet"]
        new["opened_block"] = ev.block
        self.s.accounts[ev.args["new_wallet"]] = new
        # the old account's CLOSED comes with the AccountStatusChanged that follows

    # ------------------------------------------------------------ securities, holdings

    def on_SecurityRegistered(self, ev):
        a = ev.args
        self.s.securities[str(a["id"])] = {
            "status": PENDING, "kind": a["kind"], "unit_scale": a["unit_scale"], "holder_count": 0,
            "meeting_day": 0, "record_day": 0, "total_supply": 0, "declared_total": a["declared_total"],
            "code_hash": a["code_hash"], "registered_block": ev.block}
        self.s.security_count = max(self.s.security_count, a["id"])
        # registration.register_security: LLC shares carry first refusal (Company Law art 84), fund
        # shares go to institutions holding at least RMB 1 million (10**6 units), unless set otherwise
        fund = a["kind"] >= LP_FUND
        self.s.transfer_terms[str(a["id"])] = {"first_refusal": a["kind"] == LLC, "institutional_only": fund,
                                               "fund_minimum": 10**(6 + a["unit_scale"]) if fund else 0}

    def on_TransferTermsSet(self, ev):
        a = ev.args
        self.s.transfer_terms[str(a["id"])] = {"first_refusal": a["first_refusal"],
                                               "institutional_only": a["institutional_only"],
                                               "fund_minimum": a["fund_minimum"]}

    def on_Issued(self, ev):
        a = ev.args
        sid, owner = a["id"], a["receiver"]
        sec = self._sec(sid)
        h = self._holding(owner, sid)
        if sec["status"] != PENDING and h["insider"]:  # increase_capital snapshots insiders
            self._insider_snapshot(owner, sid, h["balance"], a["acquired_day"])
        if h["balance"] == 0:
            sec["holder_count"] += 1
        h["balance"] += a["amount"]
        if sec["kind"] == LLC:
            h["paid"] += a["paid"]
        h["acquired_day"] = a["acquired_day"]
        sec["total_supply"] += a["amount"]
        self._changed(ev, owner, sid)

    def on_SecuritySealed(self, ev):
        self._sec(ev.args["id"])["status"] = ACTIVE

    def on_SecurityStatusChanged(self, ev):
        self._sec(ev.args["id"])["status"] = ev.args["status"]

    def on_CapitalIncreased(self, ev):
        sec = self._sec(ev.args["id"])
        sec["declared_total"] = sec["total_supply"]

    on_CapitalDecreased = on_CapitalIncreased

    def on_PaidInRecorded(self, ev):
        self._holding(ev.args["owner"], ev.args["id"])["paid"] = ev.args["paid"]

    def on_LockupSet(self, ev):
        self._holding(ev.args["owner"], ev.args["id"])["lock_until_day"] = ev.args["lock_until_day"]

    def on_InsiderSet(self, ev):
        self._holding(ev.args["owner"], ev.args["id"])["insider"] = ev.args["insider"]

    def on_RegisterClosureSet(self, ev):
        sec = self._sec(ev.args["id"])
        sec["meeting_day"], sec["record_day"] = ev.args["meeting_day"], ev.args["record_day"]

    def on_Approval(self, ev):
        a = ev.args
        self.s.allowances[f"{a['owner']}|{a['spender']}|{a['id']}"] = a["amount"]

    def on_OperatorSet(self, ev):
        a = ev.args
        self.s.operators[f"{a['owner']}|{a['spender']}"] = a["approved"]

    def on_Transfer(self, ev, nxt: Event | None):
        a = ev.args
        sender, receiver, sid, amount = a["sender"], a["receiver"], a["id"], a["amount"]
        sec = self._sec(sid)
        if receiver == ZERO:  # capital decrease: unpaid LLC units are cancelled first
            day = self.day(ev)
            h = self._holding(sender, sid)
            if h["insider"]:
                self._insider_snapshot(sender, sid, h["balance"], day)
            h["balance"] -= amount
            h["paid"] = min(h["paid"], h["balance"])
            if h["balance"] == 0:
                sec["holder_count"] -= 1
            sec["total_supply"] -= amount
            self._changed(ev, sender, sid)
            return
        forced = nxt.args["path"] if nxt is not None and nxt.name == "ForcedTransfer" else 0
        if forced == RECOVERY:
            self._recover_holding(sender, receiver, sid)
            self._changed(ev, sender, sid)
            self._changed(ev, receiver, sid)
            return
        day = self.day(ev)
        if forced in (COURT_TRANSFER, COURT_ENFORCEMENT):
            # both persist which freezes are in force before the units move, and units
            # moved under lock-up keep their lock-up day at the receiver
            self._settle(hkey(sender, sid), day)
            lock = self._holding(sender, sid)["lock_until_day"]
            rh = self._holding(receiver, sid)
            if day < lock and lock > rh["lock_until_day"]:
                rh["lock_until_day"] = lock
        elif forced == PLEDGEE_ENFORCEMENT:
            pass
        elif nxt is not None and nxt.name in ("InstructionSettled", "ListingClosed"):
            pass  # settlement: whoever settles or closes spends no allowance
        elif a["caller"] != sender:  # transferFrom by a spender
            if not self.s.operators.get(f"{sender}|{a['caller']}"):
                k = f"{sender}|{a['caller']}|{sid}"
                allowed = self.s.allowances.get(k, 0)
                if allowed != MAX_UINT:
                    self.s.allowances[k] = allowed - amount
        self._move(sender, receiver, sid, amount, day)
        self._changed(ev, sender, sid)
        self._changed(ev, receiver, sid)

    def on_HoldingRecovered(self, ev):
        pass  # applied with the Transfer just before it

    def _move(self, sender, receiver, sid, amount, day):
        """ledger._apply: receiver's acquisition day becomes today, paid-in moves first."""
        sec = self._sec(sid)
        sh, rh = self._holding(sender, sid), self._holding(receiver, sid)
        balance, received = sh["balance"], rh["balance"]
        moved_paid = min(sh["paid"], amount)
        sh["balance"] -= amount
        sh["paid"] -= moved_paid
        rh["balance"] += amount
        rh["paid"] += moved_paid
        rh["acquired_day"] = day
        if sh["insider"]:
            self._insider_dispose(sender, sid, balance, amount, day)
        if rh["insider"]:
            self._insider_snapshot(receiver, sid, received, day)
        if received == 0:
            sec["holder_count"] += 1
        if balance == amount:
            sec["holder_count"] -= 1

    def _recover_holding(self, old, new, sid):
        s = self.s
        ok, nk = hkey(old, sid), hkey(new, sid)
        s.holdings[nk] = s.holdings.pop(ok)
        s.holdings[ok] = _new_holding()
        if ok in s.quotas:
            s.quotas[nk] = s.quotas.pop(ok)
        if s.freeze_queue.get(ok) or s.pledge_ids.get(ok):
            for fid in s.freeze_queue.get(ok, []):
                s.freezes[str(fid)]["owner"] = new
            for pid in s.pledge_ids.get(ok, []):
                s.pledges[str(pid)]["pledgor"] = new
            s.freeze_queue[nk] = s.freeze_queue.pop(ok, [])
            s.pledge_ids[nk] = s.pledge_ids.pop(ok, [])

    def _insider_dispose(self, owner, sid, balance, amount, day):
        k, year = hkey(owner, sid), year_of(day)
        q = self.s.quotas.get(k)
        base, used = (q[1], q[2]) if q and q[0] == year else (balance, 0)
        self.s.quotas[k] = [year, base, used + amount]

    def _insider_snapshot(self, owner, sid, balance_before, day):
        k, year = hkey(owner, sid), year_of(day)
        q = self.s.quotas.get(k)
        if not q or q[0] != year:
            self.s.quotas[k] = [year, balance_before, 0]

    # ------------------------------------------------------------ pledges

    def _next_seq(self) -> int:
        self.s.registration_seq += 1
        return self.s.registration_seq

    def on_PledgeOffered(self, ev):
        a = ev.args
        self.s.pledges[str(a["pledge_id"])] = {
            "pledgor": a["pledgor"], "pledgee": a["pledgee"], "id": a["id"], "units": a["units"],
            "registered_at": 0, "seq": 0, "status": OFFERED, "doc": a["doc"],
            "consent_receiver": ZERO, "consent_units": 0, "offered_block": ev.block}
        self.s.pledge_count = max(self.s.pledge_count, a["pledge_id"])

    def on_PledgeOfferCancelled(self, ev):
        self.s.pledges[str(ev.args["pledge_id"])]["status"] = CANCELLED

    def on_PledgeRegistered(self, ev):
        a = ev.args
        pid = a["pledge_id"]
        p = self.s.pledges.get(str(pid))
        if p is None:  # import_pledges: no offer before it
            p = self.s.pledges[str(pid)] = {
                "pledgor": a["pledgor"], "pledgee": a["pledgee"], "id": a["id"], "units": a["units"],
                "doc": a["doc"], "consent_receiver": ZERO, "consent_units": 0, "offered_block": ev.block}
            self.s.pledge_count = max(self.s.pledge_count, pid)
        p.update(status=PLEDGED, registered_at=a["registered_at"], seq=self._next_seq(),
                 registered_block=ev.block)
        self.s.pledge_ids.setdefault(hkey(a["pledgor"], a["id"]), []).append(pid)

    def _reduce(self, pid: int, units: int, final: int):
        p = self.s.pledges[str(pid)]
        p["units"] -= units
        if p["units"] == 0:
            p["status"] = final
            self.s.pledge_ids[hkey(p["pledgor"], p["id"])].remove(pid)

    def on_PledgeReleased(self, ev):
        pid = ev.args["pledge_id"]
        p = self.s.pledges[str(pid)]
        if ev.args["actor"] == p["pledgor"]:  # transfer_pledged spends the consent
            p["consent_units"], p["consent_receiver"] = 0, ZERO
        self._reduce(pid, ev.args["units"], RELEASED)

    def on_PledgeEnforced(self, ev):
        self._reduce(ev.args["pledge_id"], ev.args["units"], ENFORCED)

    def on_PledgedTransferConsented(self, ev):
        p = self.s.pledges[str(ev.args["pledge_id"])]
        p["consent_receiver"], p["consent_units"] = ev.args["receiver"], ev.args["units"]

    # ------------------------------------------------------------ freezes

    def _settle(self, key: str, day: int) -> list[int]:
        flags = self.s.evaluate(key, day)[1]
        promoted = []
        for fid, in_force in zip(self.s.freeze_queue.get(key, []), flags):
            f = self.s.freezes[str(fid)]
            if in_force and not f["took_effect"]:
                f["took_effect"] = True
                promoted.append(fid)
        return promoted

    def on_Frozen(self, ev):
        a = ev.args
        fid, owner, sid = a["freeze_id"], a["owner"], a["id"]
        sec = self._sec(sid)
        roles = self.s.roles.get(a["actor"], 0)
        imported = sec["status"] == PENDING and not (roles & COURT_AGENT)
        if sec["status"] == PENDING and roles & COURT_AGENT and roles & SECURITY_MANAGER:
            imported = None  # either path: registration time unknown
        self.s.freezes[str(fid)] = {
            "owner": owner, "id": sid, "units": a["units"], "case_hash": a["case_hash"],
            "agent": a["actor"], "registered_at": None if imported in (True, None) else ev.timestamp // self.s.time_unit,
            "seq": self._next_seq(), "expiry_day": a["expiry_day"], "status": OPEN,
            "took_effect": False, "doc": a["doc"], "registered_block": ev.block}
        self.s.freeze_count = max(self.s.freeze_count, fid)
        key = hkey(owner, sid)
        self.s.freeze_queue.setdefault(key, []).append(fid)
        self._settle(key, self.day(ev))
        if self.s.freezes[str(fid)]["took_effect"] != a["in_force"]:
            self.s.notes.append(f"Frozen({fid}).in_force={a['in_force']} but the rule says "
                                f"{not a['in_force']} (block {ev.block})")

    def on_FreezeTookEffect(self, ev):
        self._took_effect_seen.append(ev.args["freeze_id"])

    def _remove(self, fid: int, status: int):
        f = self.s.freezes[str(fid)]
        f["status"] = status
        self.s.freeze_queue[hkey(f["owner"], f["id"])].remove(fid)
        return hkey(f["owner"], f["id"])

    def on_FreezeLifted(self, ev):
        self._settle(self._remove(ev.args["freeze_id"], LIFTED), self.day(ev))

    def on_FreezeLapsed(self, ev):
        self._settle(self._remove(ev.args["freeze_id"], LAPSED), self.day(ev))

    def on_FreezeRenewed(self, ev):
        self.s.freezes[str(ev.args["freeze_id"])]["expiry_day"] = ev.args["expiry_day"]

    def on_CourtTransferred(self, ev):
        fid = ev.args["freeze_id"]
        self.s.freezes[str(fid)]["units"] = ev.args["remaining"]
        if ev.args["remaining"] == 0:
            self._remove(fid, EXECUTED)

    # ------------------------------------------------------------ cash (资金映射)

    def _escrow(self, token: str, amount: int):
        self.s.escrowed[token] = self.s.escrowed.get(token, 0) + amount

    def _pay_out(self, token: str, amount: int):
        self.s.escrowed[token] = self.s.escrowed.get(token, 0) - amount

    def on_CashTokenSet(self, ev):
        self.s.cash_tokens[ev.args["token"]] = ev.args["accepted"]

    def on_RefundCredited(self, ev):
        k = f"{ev.args['token']}|{ev.args['holder']}"
        self.s.refunds[k] = self.s.refunds.get(k, 0) + ev.args["amount"]

    def on_RefundClaimed(self, ev):
        a = ev.args
        k = f"{a['token']}|{a['holder']}"
        self.s.refunds[k] = self.s.refunds.get(k, 0) - a["amount"]
        self._pay_out(a["token"], a["amount"])

    # ------------------------------------------------------------ transfer instructions

    def _ins(self, iid: int) -> dict:
        return self.s.instructions[str(iid)]

    def on_InstructionProposed(self, ev):
        a = ev.args
        iid = a["instruction_id"]
        self.s.instructions[str(iid)] = {
            "seller": a["seller"], "buyer": a["buyer"], "id": a["id"], "units": a["units"], "price": a["price"],
            "cash": a["cash"], "doc": a["doc"], "stage": I_PROPOSED, "court_ordered": a["court_ordered"],
            "buyer_accepted": False, "consented": False, "notice_end_day": a["notice_end_day"],
            "expiry_day": a["expiry_day"], "exercisers": [], "deliveries": [], "actor": a["actor"],
            "proposed_block": ev.block, "closed_block": None}
        self.s.instruction_count = max(self.s.instruction_count, iid)

    def on_InstructionAccepted(self, ev):
        ins = self._ins(ev.args["instruction_id"])
        ins["buyer_accepted"] = True
        if ins["cash"] != ZERO:
            self._escrow(ins["cash"], ev.args["escrowed"])

    def on_InstructionConsented(self, ev):
        self._ins(ev.args["instruction_id"])["consented"] = True

    def _close(self, ev, stage: int):
        ins = self._ins(ev.args["instruction_id"])
        ins["stage"], ins["closed_block"] = stage, ev.block

    def on_InstructionRejected(self, ev):
        self._close(ev, I_REJECTED)  # the escrows came back as the RefundCredited before it

    def on_InstructionWithdrawn(self, ev):
        self._close(ev, I_WITHDRAWN)

    def on_InstructionLapsed(self, ev):
        self._close(ev, I_LAPSED)  # reclaim_lapsed: the escrows came back as the RefundCredited before it

    def on_FirstRefusalExercised(self, ev):
        ins = self._ins(ev.args["instruction_id"])
        ins["exercisers"].append(ev.args["holder"])
        if ins["cash"] != ZERO:
            self._escrow(ins["cash"], ev.args["escrowed"])

    def on_InstructionSettled(self, ev):
        a = ev.args
        self._close(ev, I_SETTLED)
        ins = self._ins(a["instruction_id"])
        ins["deliveries"].append([a["receiver"], a["units"], a["paid"]])
        if ins["cash"] != ZERO:
            self._pay_out(ins["cash"], a["paid"])

    # ------------------------------------------------------------ one-way bidding

    def on_Listed(self, ev):
        a = ev.args
        lid = a["listing_id"]
        self.s.listings[str(lid)] = {
            "seller": a["seller"], "id": a["id"], "units": a["units"], "reserve": a["reserve"], "cash": a["cash"],
            "end_day": a["end_day"], "listed_day": self.day(ev), "consented": False, "best_bidder": ZERO,
            "best_amount": 0, "status": L_OPEN,
            "doc": a["doc"], "bids": [], "listed_block": ev.block, "closed_block": None}
        self.s.listing_count = max(self.s.listing_count, lid)

    def on_ListingConsented(self, ev):
        self.s.listings[str(ev.args["listing_id"])]["consented"] = True

    def on_BidPlaced(self, ev):
        a = ev.args
        lst = self.s.listings[str(a["listing_id"])]
        lst["best_bidder"], lst["best_amount"] = a["bidder"], a["amount"]
        lst["bids"].append([a["bidder"], a["amount"], ev.block])
        self._escrow(lst["cash"], a["amount"])  # the beaten bid came back as the RefundCredited before it

    def on_ListingClosed(self, ev):
        a = ev.args
        lst = self.s.listings[str(a["listing_id"])]
        lst["status"], lst["closed_block"] = a["status"], ev.block
        if a["status"] == L_SOLD:
            self._pay_out(lst["cash"], a["amount"])


# ---------------------------------------------------------------- the indexer


NEEDS_TIME = {"Transfer", "Frozen", "FreezeLifted", "FreezeLapsed", "CourtTransferred", "PledgeEnforced",
              "Listed"}


CHECKPOINT_ENV = "REGCHAIN_INDEXER_CHECKPOINT"


def default_checkpoint() -> Path:
    return Path(os.environ.get(CHECKPOINT_ENV) or Path(".cache") / "indexer.json")


class Indexer:
    """Chunked, resumable rebuild of the register at ``address``."""

    def __init__(self, rpc, address: str, abi: list[dict], *, checkpoint: Path | None = None,
                 network_key: str = "default", chunk: int = 2000, first_block: int = 0,
                 echo: Callable[[str], None] | None = None, checkpoint_every_s: float = 2.0):
        self.rpc = rpc
        self.address = to_checksum_address(address)
        self.decoder = Decoder(abi)
        self.checkpoint = Path(checkpoint) if checkpoint else None
        self.network_key = network_key
        self.chunk = chunk
        self.first_block = first_block
        self.echo = echo
        self.checkpoint_every_s = checkpoint_every_s
        self.chain_id = int(rpc.call("eth_chainId", []), 16)
        self.state = self._load() or self._fresh()

    # ------------------------------------------------------------ checkpoint

    def _fresh(self) -> State:
        unit, offset = self._clock()
        return State(chain_id=self.chain_id, address=self.address, time_unit=unit, utc_offset=offset,
                     first_block=self.first_block, last_block=self.first_block - 1)

    def _clock(self) -> tuple[int, int]:
        sel = lambda sig: "0x" + keccak(text=sig)[:4].hex()  # noqa: E731
        unit, offset = self.rpc.batch([("eth_call", [{"to": self.address, "data": sel("TIME_UNIT()")}, "latest"]),
                                       ("eth_call", [{"to": self.address, "data": sel("UTC_OFFSET()")}, "latest"])])
        if unit in ("0x", None) or offset in ("0x", None):
            raise IndexerError(f"no register at {self.address} (TIME_UNIT/UTC_OFFSET unreadable)")
        return int(unit, 16), int(offset, 16)

    def _load(self) -> State | None:
        if not self.checkpoint or not self.checkpoint.is_file():
            return None
        try:
            entry = json.loads(self.checkpoint.read_text()).get(self.network_key)
        except (OSError, ValueError) as exc:
            raise IndexerError(f"checkpoint {self.checkpoint} unreadable: {exc}") from None
        if not entry:
            return None
        if entry.get("state", {}).get("schema") != SCHEMA:
            if self.echo:
                self.echo(f"checkpoint {self.checkpoint} [{self.network_key}] was written by an older indexer: "
                          "starting afresh")
            return None
        if entry.get("chain_id") != self.chain_id or entry.get("address", "").lower() != self.address.lower():
            if self.echo:
                self.echo(f"checkpoint {self.checkpoint} [{self.network_key}] is for chain "
                          f"{entry.get('chain_id')} / {entry.get('address')}: starting afresh")
            return None
        state = State.from_json(entry["state"])
        if state.last_block >= 0:
            block = self.rpc.call("eth_getBlockByNumber", [hex(state.last_block), False])
            if not block or block.get("hash") != state.last_block_hash:
                if self.echo:
                    self.echo(f"checkpoint {self.checkpoint} [{self.network_key}]: block {state.last_block} "
                              "is not on this chain any more (reset or reorg): starting afresh")
                return None
        return state

    def _write(self) -> None:
        self.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        try:
            data = json.loads(self.checkpoint.read_text()) if self.checkpoint.is_file() else {}
        except ValueError:
            data = {}
        data[self.network_key] = {"chain_id": self.chain_id, "address": self.address,
                                  "last_block": self.state.last_block, "state": self.state.to_json()}
        tmp = self.checkpoint.with_suffix(self.checkpoint.suffix + f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False))
        tmp.replace(self.checkpoint)

    # ------------------------------------------------------------ sync

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber", []), 16)

    def events(self, first: int, last: int) -> Iterator[tuple[int, list[Event]]]:
        """(chunk end, decoded events with timestamps) for [first, last]."""
        for end, logs in iter_log_chunks(self.rpc, self.address, first, last, self.chunk, echo=self.echo):
            evs = [e for e in (self.decoder.decode(log) for log in logs) if e is not None]
            evs.sort(key=lambda e: (e.block, e.log_index))
            missing = {e.block for e in evs if e.timestamp is None}
            if missing:
                ts = block_timestamps(self.rpc, missing)
                for e in evs:
                    if e.timestamp is None:
                        e.timestamp = ts[e.block]
            yield end, evs

    def sync(self, to_block: int | None = None, on_event: Callable[[Event], None] | None = None,
             on_holding: Callable | None = None, stop_after_chunks: int | None = None) -> State:
        """Apply every event after the checkpoint up to ``to_block`` (default: head)."""
        last = self.head() if to_block is None else to_block
        applier = Applier(self.state, on_holding)
        saved_at = time.monotonic()
        chunks = 0
        for end, evs in self.events(self.state.last_block + 1, last):
            applier.apply_all(evs, on_event)  # on_event sees the state just after each event
            self.state.last_block = end
            self.state.last_block_hash = None
            chunks += 1
            if time.monotonic() - saved_at >= self.checkpoint_every_s:
                self.save()
                saved_at = time.monotonic()
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                break
        self.save()
        return self.state

    def save(self) -> None:
        if not self.checkpoint:
            return
        if self.state.last_block >= 0 and self.state.last_block_hash is None:
            block = self.rpc.call("eth_getBlockByNumber", [hex(self.state.last_block), False])
            self.state.last_block_hash = block["hash"] if block else None
        self._write()


def replay(rpc, address: str, abi: list[dict], *, first_block: int = 0, to_block: int | None = None,
           on_event=None, on_holding=None, chunk: int = 2000) -> State:
    """A rebuild from scratch without a checkpoint (history, feed, reports)."""
    return Indexer(rpc, address, abi, chunk=chunk, first_block=first_block).sync(
        to_block, on_event=on_event, on_holding=on_holding)


# ---------------------------------------------------------------- supervisory feed


def feed_lines(events: list[Event], memo: dict | None = None) -> Iterator[dict]:
    """One JSON-able dict per event: category, names, doc (the event's, else the tx's);
    plus, for an event with a cash leg (CASH_LEGS), a second line under CASH with
    ``"leg": "cash"`` and the leg's token, payer, payee ("escrow": the register's
    escrow) and amount. ``memo`` carries the
    cash token of each instruction and listing across calls (a feed written chunk by
    chunk passes the same dict; from mid-history an unknown token is null)."""
    memo = {} if memo is None else memo
    by_tx: dict[str, list[Event]] = {}
    for e in events:
        by_tx.setdefault(e.tx, []).append(e)
    for e in events:
        doc = e.args.get("doc")
        if doc is None:
            doc = next((o.args["doc"] for o in by_tx[e.tx] if "doc" in o.args), None)
        line = {"block": e.block, "timestamp": e.timestamp, "tx": e.tx, "log_index": e.log_index,
                "category": category(e, by_tx[e.tx]), "event": e.name, "leg": "event", "doc": doc,
                "fields": {k: _jsonable(v) for k, v in e.args.items()}}
        yield line
        leg = cash_leg(e, memo)
        if leg is not None:
            yield {**line, "category": CASH, "leg": "cash", "cash": leg}


def cash_leg(e: Event, memo: dict) -> dict | None:
    """The cash movement an event carries (None if none), keeping ``memo`` up to date."""
    a = e.args
    if e.name == "InstructionProposed":
        memo[f"i{a['instruction_id']}"] = (a["cash"], a["seller"])
    elif e.name == "Listed":
        memo[f"l{a['listing_id']}"] = (a["cash"], a["seller"])
    if e.name not in CASH_LEGS:
        return None
    if e.name in ("InstructionAccepted", "FirstRefusalExercised", "InstructionSettled"):
        token, seller = memo.get(f"i{a['instruction_id']}", (None, None))
        if token == ZERO:
            return None  # free of payment: the payment is off chain
        if e.name == "InstructionSettled":
            if a["paid"] == 0:
                return None
            return {"token": token, "payer": "escrow", "payee": seller, "amount": a["paid"], "kind": "payment"}
        payer = a["buyer"] if e.name == "InstructionAccepted" else a["holder"]
        if a["escrowed"] == 0:
            return None
        return {"token": token, "payer": payer, "payee": "escrow", "amount": a["escrowed"], "kind": "escrow"}
    token, seller = memo.get(f"l{a['listing_id']}", (None, None))
    if e.name == "BidPlaced":
        return {"token": token, "payer": a["bidder"], "payee": "escrow", "amount": a["amount"], "kind": "escrow"}
    if a["status"] == L_SOLD:  # ListingClosed
        return {"token": token, "payer": "escrow", "payee": seller, "amount": a["amount"], "kind": "payment"}
    return None


def category(e: Event, tx_events: list[Event]) -> str:
    if e.name == "Transfer":
        names = {o.name for o in tx_events}
        if e.args["receiver"] == ZERO or "HoldingRecovered" in names:
            return ASSETS  # capital decrease, recovery of a lost key
        if names & {"PledgeEnforced", "CourtTransferred", "InstructionSettled", "ListingClosed"}:
            return SETTLEMENT
        return TRANSFERS
    return CATEGORY_OF.get(e.name, ASSETS)
