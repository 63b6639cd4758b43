"""The model-based state machine of the register, on any `regchain.testing.backends.Backend`.

Random sequences of the registrar's and holders' operations run against a
deployed suite and against the plain-Python model (regchain.testing.model) together.
Every operation's outcome is predicted by the model: it passes on both, or the
model names the exact revert string and the chain must revert with it (the
backend checks it: `Backend.transact`). Each rule is one operation (one
transaction; registering a security is three or four).

After every step the chain is read back (one batched request) for everything
the step could have touched: the holdings it wrote or refused to write, the
securities (status, holder count, supply, ...), the accounts, the clock, and
`can_transfer` of a transfer previewed on the new state; the model's own
invariants are checked for every security (sum of balances = supply, holder
count = non-zero holders <= cap). At the end of every example the whole
register of the pool is read and compared (so a write to something no step
declared is found too), and the chain is reverted to its snapshot.

Beyond the registrar's operations and transfers, the machine runs pledges
(offer/register, accept, cancel, release, enforce by the pledgee or the court
agent), judicial freezes (freeze, lift, renew, tidy, court transfer, lapse by
moving the clock) and transfer instructions (propose, court sale, accept with
DvP escrow, consent/reject by the fund manager, first-refusal exercise,
settle, withdraw, lapse, reclaim, refund claims) against a CashToken that
`prepare_cash` sets up, recoveries of lost keys (the registrar's turn) and
the fund manager's consent to enforcing a fund pledge. After every step the
law's own invariants (`_law_invariants`, stated from the law and the chain's
numbers, not from how the code works) hold: no unit reached an account that
was not active and qualified when it arrived, no locked-up unit left but by a
court path, no unit a pledge or freeze held left but by its own enforcement,
holders within the kind's statutory cap. Steps take turns: the registrar's (one in three),
transfers (one in three), encumbrances and instructions (one in three, the
clock among them). After each step, besides the above: pledged <= balance and
frozen in force <= balance on every holding read, the freezes in force of a
queue (lapsed ones aside) a prefix of it (registration order), no ordinary
transfer, capital decrease or settlement left a holding below what was
locked before it, the register's escrow equal to its token balance and to
the model's open escrows + pending refunds, and pledge_of, freeze_of,
pledges_of, freeze_queue_of, stage_of, instruction_of, exercisers_of,
refunds and cash balances equal to the model's.

One-way bidding (单向竞价) has its own turn (every sixth step, with a cash
token): listings (valid, or refused for more than the holding, no units, no
reserve, a token not accepted, a window in the past, too long or shorter than
the notice period of an LLC with first refusal), bids at once and later
(beating the best, ties, below the reserve, by the seller, by accounts the
transfer rules do not let receive: each refusal with the model's exact
reason), the fund manager's consent, closes (moving the clock past the window
or the settlement days first if asked: SOLD under every transfer rule, a
refusal for a freeze, pledge, suspension, closure ... that arrived meanwhile,
or FAILED with the bid refunded), withdrawals, freezes and pledges arriving on
a listed holding, and refund claims. listing_of, listing_count and the
can_transfer of the sale a close would make are compared after each step, the
escrow invariant counts open bids, and a close that sells may not take locked
units.

On anvil the step's check reads are deferred (`Backend.read_later`): what
the model says is worked out at once, the reads are pinned to the step's
block and sent with the next request, so a step is one round trip; a
mismatch is reported at the latest at the end of the example, as "after
step N".

Rule arguments are plain values (names of the pool's actors, ids, amounts, or
`pick`, an index into the candidates the model offers), so a failing example
shrinks to a short sequence hypothesis prints as code that replays it; each
step also notes what it did in words.
"""

from __future__ import annotations

import functools
import gc
import os
import time
from collections import Counter

from eth_utils import keccak, to_checksum_address
from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from regchain import calendar as cal
from regchain.constants import (
    HOLDER_CAP,
    AccountStatus,
    FreezeStatus,
    InstructionStage,
    InvestorClass,
    Kind,
    ListingStatus,
    PledgeStatus,
    Role,
    SecurityRole,
    SecurityStatus,
)
from regchain.abi import CASH_TOKEN_ABI, SuiteAbi
from regchain.testing.backends import Backend
from regchain.testing.model import ZERO_ADDRESS, Calendar, Reason, Refused, RegisterModel, freeze_claims

# The holders, senders and receivers of the machine, by name.
POOL_NAMES = ("alice", "bob", "carol", "dave", "erin", "frank")
# at most this many securities per example, so transfers find holders
MAX_SECURITIES = 5
# keep the chain clock this far from local midnight, so "today" cannot roll
# over between the model's step and the contract's
SAFE_SECONDS_OF_DAY = 20 * 3600
SECONDS_PER_DAY = 86400
# The calendar published on a fresh suite (as tests/conftest.py does).
CALENDAR_BACK_DAYS = 550
CALENDAR_AHEAD_DAYS = 380
N_FILLERS = 50
# publish the next year of the calendar once the clock comes this close to its horizon
CALENDAR_MARGIN_DAYS = 60

# operations run, by kind and outcome
STATS: Counter = Counter()

# Known contract bugs the machine can be told to steer around (comma-separated
# names in REGCHAIN_STATEFUL_AVOID), so the rest of it can run until they are
# fixed; by default nothing is avoided and the model asserts what the issue
# text and NatSpec say. Names:
#   increase-encumbered: corporate_actions.vy increase_capital rewrites the holding word
#     without ENCUMBERED_BIT, so transfers from a pledged or frozen holding
#     skip the free-balance check afterwards (no capital increase to holdings
#     with pledges or freezes while avoided).
AVOID = {n.strip() for n in os.environ.get("REGCHAIN_STATEFUL_AVOID", "").split(",") if n.strip()}


def _check(ok: bool, what) -> None:
    """assert, for checks run later (Backend.read_later)."""
    assert ok, what


@functools.lru_cache(maxsize=4096)
def doc(text: str) -> bytes:
    """A document reference: keccak of a short text (as tests/conftest.py)."""
    return keccak(text=text)


class World:
    """A deployed suite on a backend, and who acts on it (addresses)."""

    def __init__(self, backend: Backend, governance: str, registrar: str, issuer_agent: str,
                 pool: list[str], court: str | None = None, cash: str | None = None):
        """`court`: holds COURT_AGENT (None: no pledge enforcement by court,
        no freezes); `cash`: an accepted CashToken (see `prepare_cash`; None:
        instructions settle free of payment only). The issuer agent is also
        the manager (FUND_MANAGER) of every fund the machine registers."""
        assert len(pool) == len(POOL_NAMES)
        self.backend = backend
        self.governance = governance
        self.registrar = registrar
        self.issuer_agent = issuer_agent
        self.court = court
        self.cash = cash
        self.pool = [to_checksum_address(a) for a in pool]
        self.by_name = dict(zip(POOL_NAMES, self.pool))
        self.name_of = {a.lower(): n for n, a in self.by_name.items()}
        self.name_of[ZERO_ADDRESS] = "zero"
        # addresses without keys that only fill crowded securities up to their cap
        self.fillers = [to_checksum_address(doc(f"filler-{i}")[-20:]) for i in range(N_FILLERS)]
        self.utc_offset: int | None = None  # the suite's UTC_OFFSET, once read


def _supplies_and_holders(balances) -> tuple[dict[int, int], dict[int, int]]:
    """From (security id, balance) pairs: the balances summed and the non-zero ones counted, by
    security (the model's and the chain's supply and holder-count checks)."""
    sums: dict[int, int] = {}
    nonzero: dict[int, int] = {}
    for sid, balance in balances:
        sums[sid] = sums.get(sid, 0) + balance
        if balance > 0:
            nonzero[sid] = nonzero.get(sid, 0) + 1
    return sums, nonzero


def prepare_suite(backend: Backend, governance: str, registrar: str, court: str | None = None) -> None:
    """Roles and the calendar on a freshly deployed suite (as tests/conftest.py's `register`)."""
    backend.transact(governance, "grant_role", (registrar, int(Role.REGISTRAR), doc("registrar")), None)
    if court is not None:
        backend.transact(governance, "grant_role", (court, int(Role.COURT_AGENT), doc("court agent")), None)
    today = backend.call("today")
    for first, last in cal.chunks(today - CALENDAR_BACK_DAYS, today + CALENDAR_AHEAD_DAYS, 366):
        backend.transact(registrar, "publish_calendar", (first, last, cal.weekdays(first, last), doc("calendar")), None)


# Cash each pool account holds (and allows the register to take) from the start.
CASH_PER_ACCOUNT = 10**15


def prepare_cash(backend: Backend, governance: str, token: str, pool: list[str]) -> None:
    """A deployed CashToken at `token`: accepted by governance for delivery
    versus payment, minted to the pool, which allows the register to take it."""
    backend.add_contract(token, SuiteAbi(CASH_TOKEN_ABI))
    backend.transact(governance, "set_cash_token", (token, True, doc("cash token")), None)
    for a in pool:
        backend.transact(a, "mint", (a, CASH_PER_ACCOUNT), None, to=token)
        backend.transact(a, "approve", (backend.address, 2**256 - 1), None, to=token)


def local_world(node, abi: SuiteAbi | None = None) -> World:
    """The machine's world on a node of our own (regchain.testing.backends.LocalAnvil, started):
    the suite (london bytecode as `ape compile` built it) and a CashToken
    deployed by raw JSON-RPC from its dev accounts, set up as tests/conftest.py's
    `register` (governance 0, registrar 1, issuer agent 2, court agent 3, the
    pool 4-9), driven by regchain.testing.backends.AnvilBackend."""
    from regchain.testing.backends import AnvilBackend

    gov, registrar, issuer, court = node.accounts[:4]
    pool = node.accounts[4:4 + len(POOL_NAMES)]
    # type 0 at gas price 0, as on the consortium chains (the node's base fee is 0)
    backend = AnvilBackend(node.uri, node.deploy_suite(gov), abi or SuiteAbi.from_suite(), gas_price=0,
                           pipeline=True, multicall=True)
    prepare_suite(backend, gov, registrar, court)
    backend.flush()  # the node's own connection deploys next
    token = node.deploy_project(gov, "CashToken")
    backend.block = None  # that mined a block of its own: ask the node
    prepare_cash(backend, gov, token, pool)
    backend.flush()  # nothing left in flight for whoever uses the node next
    return World(backend, gov, registrar, issuer, pool, court=court, cash=token)


class RegisterMachine(RuleBasedStateMachine):
    """Base: setup, teardown, the per-step comparison with the model, helpers.
    Subclass and set `world` (a World) before running."""

    world: World

    def __init__(self):
        super().__init__()
        w = self.world
        self.chain = w.backend
        self.snapshot = self.chain.snapshot()
        self._keep_clock_away_from_midnight()
        # what the model starts from, in one read: the clock, the calendar's range, the
        # counters (they go on from wherever the suite's are), cash balances and escrow
        holders = w.pool + [self.chain.address] if w.cash is not None else []
        got = self.chain.read([("today", ()), ("epoch_day", ()), ("horizon_day", ()), ("pledge_count", ()),
                               ("freeze_count", ()), ("instruction_count", ()), ("listing_count", ())]
                              + [("balanceOf", (a,), w.cash) for a in holders]
                              + ([("escrowed", (w.cash,))] if w.cash is not None else []))
        today, epoch, horizon = got[:3]
        # the suite publishes every weekday of [epoch, horizon]
        calendar = Calendar(epoch, horizon, cal.weekdays(epoch, horizon))
        self.model = m = RegisterModel(today, calendar)
        want = calendar.trading_day_number(today)
        self.chain.read_later([("trading_day_number_of_day", (today,))],
                              lambda got: _check(got[0] == want, ("trading day number", today, got[0], want)))
        m.roles[w.registrar.lower()] = int(Role.REGISTRAR)
        if w.court is not None:
            m.roles[w.court.lower()] = int(Role.COURT_AGENT)
        m.register_address = self.chain.address.lower()
        m.pledge_count, m.freeze_count, m.instruction_count, m.listing_count = got[3:7]
        # the registration sequence is not a view: the largest seq of any record
        seqs = self.chain.read([("pledge_of", (i,)) for i in range(1, m.pledge_count + 1)]
                               + [("freeze_of", (i,)) for i in range(1, m.freeze_count + 1)]
                               ) if m.pledge_count + m.freeze_count else []
        m.registration_seq = max([r[5] for r in seqs[:m.pledge_count]] + [r[6] for r in seqs[m.pledge_count:]],
                                 default=0)
        if w.cash is not None:
            m.cash_tokens.add(w.cash.lower())
            balances = got[7:]
            for a, balance in zip(holders, balances):
                m.mint_cash(w.cash, a, balance)
            m.escrowed[w.cash.lower()] = balances[-1]
            assert balances[-1] == balances[-2], ("escrow", balances[-1], "register's cash", balances[-2])
        self.fillers_opened: list[str] = []
        self.crowded: dict[int, list[str]] = {}  # security id -> filler holders
        # what the current step touched, read back by the invariant
        self.touched_accounts: set[str] = set()
        self.touched_securities: set[int] = set()
        self.touched_holdings: set[tuple[str, int]] = set()
        self.previews: list[tuple[str, str, int, int]] = []
        self.touched_pledges: set[int] = set()
        self.touched_freezes: set[int] = set()
        self.touched_instructions: set[int] = set()
        self.touched_listings: set[int] = set()
        self.touched_cash: set[str] = set()  # holders whose cash or refunds the step may change
        # (owner, id, units locked before the step) of every holding an ordinary
        # transfer or settlement took units from: it must keep them
        self.guarded: list[tuple[str, int, int]] = []
        self.version = 0  # bumped by every operation: caches below are per version
        self._cache: dict = {}
        self.steps = 0  # steps checked so far in this example
        # the law's invariants (`_law_invariants`): what passed in this step, the
        # accounts as they were before it, and each holding as last read from the chain
        # (balance, lock-up day, units pledged or frozen)
        self.step_done: list[str] = []
        self.before: tuple[dict, dict] | None = None

    before = None  # see _law_snapshot

    def teardown(self):
        try:
            self.register_matches_model_everywhere()
        finally:
            self.chain.revert(self.snapshot)

    def _keep_clock_away_from_midnight(self):
        if self.world.utc_offset is None:  # a constant of the suite
            self.world.utc_offset = self.chain.call("UTC_OFFSET")
        offset = self.world.utc_offset
        local = self.chain.timestamp() + offset
        if local % SECONDS_PER_DAY > SAFE_SECONDS_OF_DAY:
            # move to 01:00 local time of the next day
            self.chain.set_timestamp(local - local % SECONDS_PER_DAY + SECONDS_PER_DAY + 3600 - offset)

    # ------------------------------------------------------------- helpers

    def name(self, address) -> str:
        return self.world.name_of.get(str(address).lower(), str(address)[:10])

    def _expect(self, label, sender, fn, args, model_op):
        """Run `model_op`, then `fn(*args)` from `sender` on the chain: both
        pass, or the chain reverts with exactly the reason the model gives."""
        self.version += 1
        if self.before is None:  # the register as this step found it (the chain equals the model)
            self.before = self._law_snapshot()
        try:
            model_op()
        except Refused as refusal:
            self.chain.transact(sender, fn, args, refusal.reason)
            STATS[f"{label}: {refusal.reason}"] += 1
            event(f"{label}: {refusal.reason}")
            return refusal.reason
        self.chain.transact(sender, fn, args, None)
        STATS[label] += 1
        event(label)
        self.step_done.append(label)
        return None

    def _cached(self, key, compute):
        hit = self._cache.get(key)
        if hit is None or hit[0] != self.version:
            hit = self._cache[key] = (self.version, compute())
        return hit[1]

    def _touch(self, sid=None, owners=(), accounts=()):
        if sid is not None:
            self.touched_securities.add(sid)
            for o in owners:
                self.touched_holdings.add((o, sid))
        self.touched_accounts.update(accounts)

    def _pool_addresses(self, *statuses):
        return [a for a in self.world.pool if not statuses or self.model.account(a).status in statuses]

    def _securities(self, *statuses):
        return [i for i, s in self.model.securities.items() if not statuses or s.status in statuses]

    def _pool_holders(self, sid):
        return [a for a in self.world.pool if self.model.balance_of(a, sid) > 0]

    def _plausible_transfers(self):
        """(id, sender, receiver): an active security, an active holder, another
        active account."""

        def compute():
            active = self._pool_addresses(AccountStatus.ACTIVE)
            return [
                (sid, s, r)
                for sid in self._securities(SecurityStatus.ACTIVE)
                for s in active
                if self.model.balance_of(s, sid) > 0
                for r in active
                if r != s
            ]

        return self._cached("plausible", compute)

    def _transfer_candidates(self):
        """Plausible transfers the model lets through for one unit."""
        return self._cached("passing", lambda: [
            c for c in self._plausible_transfers() if self.model.check_transfer(c[1], c[2], c[0], 1) is None])

    def _crowded_transfers(self):
        return self._cached("crowded", lambda: [c for c in self._plausible_transfers() if c[0] in self.crowded])

    def _do_transfer(self, label, sender, receiver, sid, amount):
        """Transfer (or its exact refusal); the invariant reads back what it
        touched and previews the same transfer on the new state."""
        expected = self.model.check_transfer(sender, receiver, sid, amount)
        locked = self.model._encumbered(sender, sid)
        note(f"transfer {amount} of #{sid} {self.name(sender)} -> {self.name(receiver)} "
             f"(locked {locked}): {expected or 'passes'}")
        if self._expect(label, sender, "transfer", (receiver, sid, amount),
                        lambda: self.model.transfer(sender, receiver, sid, amount)) is None:
            self.guarded.append((sender, sid, locked))
        if 0 < sid <= self.model.security_count:
            self._touch(sid, [o for o in (sender, receiver) if o != ZERO_ADDRESS])
        self.previews.append((sender, receiver, sid, amount))

    def _open_fillers(self):
        if self.fillers_opened:
            return
        batch = [(f, doc(f"id:{f}"), int(InvestorClass.INDIVIDUAL), True) for f in self.world.fillers]
        self._expect("open fillers", self.world.registrar, "open_accounts", (batch, doc("open")),
                     lambda: self.model.open_accounts(batch))
        self.fillers_opened = list(self.world.fillers)
        self._touch(accounts=self.fillers_opened)

    def _new_security(self, kind, holders, seal, units, crowded):
        """Register a security of `kind` with holdings of the pool `holders`
        (units[i] = (units, paid, acquired days ago, lock offset, insider)),
        `crowded`: None, or fill it with fillers up to its cap (0) or one short (1)."""
        today = self.model.today
        items = []
        for h, (u, paid, ago, lock_offset, insider) in zip(holders, units):
            paid = min(paid, u) if kind == Kind.LLC else u
            lock = today + lock_offset if lock_offset > 0 else 0
            items.append((h, u, paid, today - ago, lock, insider))
        fillers = []
        if crowded is not None and kind in (Kind.LLC, Kind.LP_FUND) and not self.crowded:
            self._open_fillers()
            fillers = self.fillers_opened[: N_FILLERS - len(items) - crowded]
            items += [(f, 100, 100, today - 30, 0, False) for f in fillers]
        code = doc(f"code-{self.model.security_count + 1}")
        total = sum(i[1] for i in items)
        w = self.world
        note(f"new {Kind(kind).name} #{self.model.security_count + 1}: "
             f"{[(self.name(i[0]), i[1]) for i in items[:len(holders)]]} + {len(fillers)} fillers")
        self._expect("register security", w.registrar, "register_security",
                     (code, kind, 0, total, doc("registration")),
                     lambda: self.model.register_security(code, kind, 0, total))
        sid = self.model.security_count
        self.chain.read_later([("security_id", (code,))],
                              lambda got: _check(got[0] == sid, ("security_id", sid, "chain:", got[0])))
        role = SecurityRole.ISSUER_AGENT
        if kind >= Kind.LP_FUND:
            role |= SecurityRole.FUND_MANAGER
            self.model.fund_managers[sid] = {w.issuer_agent.lower()}
        self.chain.transact(w.governance, "grant_security_role", (sid, w.issuer_agent, int(role), doc("issuer agent")), None)
        if kind >= Kind.LP_FUND:
            # the pool are individuals with small holdings: a fund open to them, with a
            # minimum holding of 100 units (the default, institutions only and RMB 1 million
            # in units, is tested in tests/test_rules_paths.py)
            self._expect("fund terms", w.registrar, "set_transfer_terms", (sid, False, False, 100, doc("terms")),
                         lambda: self.model.set_transfer_terms(sid, False, False, 100))
        self._expect("register holdings", w.registrar, "register_holdings", (sid, items, doc("holdings")),
                     lambda: self.model.register_holdings(sid, items))
        if fillers:
            self.crowded[sid] = fillers
        if seal:
            self._expect("seal", w.registrar, "seal_security", (sid, doc("seal")),
                         lambda: self.model.seal_security(sid))
        self._touch(sid, [i[0] for i in items])

    # ------------------------------------------------------------- checks

    def _encumbrance_reads(self, owner, sid):
        return [("pledged", (owner, sid), ("pledged_balance_of", (owner, sid))),
                ("frozen", (owner, sid), ("frozen_balance_of", (owner, sid))),
                ("pledges", (owner, sid), ("pledges_of", (owner, sid))),
                ("queue", (owner, sid), ("freeze_queue_of", (owner, sid)))]

    def _compare(self, accounts, securities, holdings, previews, today=False, pledges=(), freezes=(),
                 instructions=(), cash=None, then=None, listings=(), counts=False):
        """Read the given part of the register in one batch and compare it with the model.
        `cash`: None, or the holders whose cash and refunds to compare (the
        register's escrow and its token balance are read too).

        With `then` (a function of the results), the reads may be deferred
        (`Backend.read_later`): what the model says is worked out now, the
        comparison and `then(got)` run when the chain's answers are back (on
        the state as it is now). Without, it reads now and returns the results."""
        m = self.model
        w = self.world
        reads = []  # (what, key, (fn, args))
        for a in accounts:
            reads.append(("account", a, ("account_of", (a,))))
        if today:
            reads.append(("today", None, ("today", ())))
            reads.append(("trading day number", m.today, ("trading_day_number_of_day", (m.today,))))
        for sid in securities:
            reads.append(("security", sid, ("security", (sid,))))
        for o, sid in holdings:
            reads.append(("holding", (o, sid), ("holding", (o, sid))))
            if m.holding(o, sid).insider or m.insider_quota_of(o, sid) != (0, 0, 0):
                reads.append(("quota", (o, sid), ("insider_quota_of", (o, sid))))
            reads += self._encumbrance_reads(o, sid)
        for p in previews:
            reads.append(("can_transfer", p, ("can_transfer", p)))
        for pid in pledges:
            reads.append(("pledge", pid, ("pledge_of", (pid,))))
        for fid in freezes:
            reads.append(("freeze", fid, ("freeze_of", (fid,))))
        for iid in instructions:
            reads.append(("stage", iid, ("stage_of", (iid,))))
            reads.append(("instruction", iid, ("instruction_of", (iid,))))
            reads.append(("exercisers", iid, ("exercisers_of", (iid,))))
        for lid in listings:
            reads.append(("listing", lid, ("listing_of", (lid,))))
        if counts:
            for fn in ("pledge_count", "freeze_count", "instruction_count", "listing_count"):
                reads.append(("count", fn, (fn, ())))
        if cash is not None and w.cash is not None:
            reads.append(("escrowed", None, ("escrowed", (w.cash,))))
            reads.append(("register cash", None, ("balanceOf", (self.chain.address,), w.cash)))
            for a in cash:
                reads.append(("refund", a, ("refunds", (w.cash, a))))
                reads.append(("cash", a, ("balanceOf", (a,), w.cash)))
        wants = [self._want(what, key) for what, key, _ in reads]
        step = self.steps
        # the encumbrance invariants need the freezes' expiry days as they are now
        expiry = {fid: f.expiry_day for fid, f in m.freezes.items()}
        today_now = m.today

        def check(results):
            assert len(results) == len(reads)
            for (what, key, _), got, want in zip(reads, results, wants):
                got = self._got(what, got)
                assert got == want, (f"after step {step}", what, key, "chain:", got, "model:", want)
            got = {(w_, k): g for (w_, k, _), g in zip(reads, results)}
            self._encumbrance_invariants(holdings, got, expiry, today_now)
            if then is not None:
                then(got)
            return got

        calls = [r[2] for r in reads]
        if then is not None:
            self.chain.read_later(calls, check)
            return None
        return check(self.chain.read(calls))

    @staticmethod
    def _got(what, got):
        """The chain's answer in the model's terms (records without times and documents)."""
        if what == "pledge":
            return (got[0].lower(), got[1].lower(), got[2], got[3], got[5], got[6])
        if what == "freeze":
            return (got[0].lower(), got[1], got[2], got[6], got[7], got[8])
        if what == "instruction":
            return (got[0].lower(), got[1].lower(), *got[2:5], got[5].lower(), *got[7:])
        if what == "exercisers":
            return tuple(a.lower() for a in got)
        if what == "listing":  # without the document
            return (got[0].lower(), *got[1:4], got[4].lower(), *got[5:8], got[8].lower(), got[9], got[10])
        return got

    # a read answered by one model view: what -> (the view, whether the key is its arguments)
    _VIEWS = {"account": ("account_view", False), "security": ("security_view", False),
              "holding": ("holding_view", True), "quota": ("insider_quota_of", True),
              "pledged": ("pledged_balance_of", True), "frozen": ("frozen_balance_of", True),
              "pledges": ("pledges_of", True), "queue": ("freeze_queue_of", True),
              "stage": ("stage_of", False), "exercisers": ("exercisers_of", False),
              "listing": ("listing_view", False), "can_transfer": ("can_transfer", True)}
    # a record the model may not have: what -> (its table, the zero record the chain returns)
    _RECORDS = {"pledge": ("pledges", (ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0, 0)),
                "freeze": ("freezes", (ZERO_ADDRESS, 0, 0, 0, 0, 0)),
                "instruction": ("instructions", (ZERO_ADDRESS, ZERO_ADDRESS, 0, 0, 0, ZERO_ADDRESS, 0, False,
                                                 False, False, 0, 0))}

    def _want(self, what, key):
        """What the model says a read should return."""
        m = self.model
        if what in self._VIEWS:
            view, spread = self._VIEWS[what]
            return getattr(m, view)(*key) if spread else getattr(m, view)(key)
        if what in self._RECORDS:
            table, zero = self._RECORDS[what]
            record = getattr(m, table).get(key)
            return record.view() if record else zero
        if what == "today":
            return m.today
        if what == "trading day number":
            return m.calendar.trading_day_number(key)
        if what == "count":
            return getattr(m, key)
        if what in ("escrowed", "register cash"):
            return m.escrowed.get(self.world.cash.lower(), 0)
        if what == "refund":
            return m.refund_of(self.world.cash, key)
        if what == "cash":
            return m.cash_balance(self.world.cash, key)
        raise AssertionError(f"no model answer for the read {what!r}")

    def _encumbrance_invariants(self, holdings, got, expiry, today):
        """On the chain's own numbers: pledged <= balance, frozen in force <= balance,
        and the freezes in force of a queue (lapsed ones aside) are a prefix of it:
        queued freezes come into force strictly in registration order."""
        for key in holdings:
            balance = got[("holding", key)][0]
            assert got[("pledged", key)] <= balance, ("pledged > balance", key, got[("pledged", key)], balance)
            assert got[("frozen", key)] <= balance, ("frozen > balance", key, got[("frozen", key)], balance)
            ids, flags = got[("queue", key)]
            live = [flag for fid, flag in zip(ids, flags) if expiry[fid] >= today]
            assert live == sorted(live, reverse=True), ("freeze out of registration order", key, ids, flags)

    def _model_invariants(self) -> dict[int, int]:
        """Sum of balances = supply, holder count = non-zero holders <= cap, in the model
        (the chain equals the model wherever it is read). Returns the sums by security."""
        m = self.model
        sums, nonzero = _supplies_and_holders((sid, h.balance) for (_, sid), h in m.holdings.items())
        for key, pledged in m.pledged.items():
            assert pledged <= m.holding(*key).balance, ("model: pledged > balance", key)
        for token in m.cash_tokens:
            assert m.escrowed.get(token, 0) == m.open_escrow(token) + m.pending_refunds(token), (
                "model: escrow != open escrows + pending refunds", m.escrowed.get(token, 0),
                m.open_escrow(token), m.pending_refunds(token))
        for sid, sec in m.securities.items():
            total, count = sums.get(sid, 0), nonzero.get(sid, 0)
            assert total == sec.total_supply, ("sum of balances", sid, total, sec.total_supply)
            assert count == sec.holder_count, ("holder count", sid, count, sec.holder_count)
            assert sec.holder_count <= sec.holder_cap, ("holder cap", sid, sec.holder_count)
        return sums

    @invariant()
    def register_matches_model(self):
        """Everything the last step could have touched, read back in one batch."""
        sums = self._model_invariants()
        cash = sorted(self.touched_cash) if self.world.cash is not None else None
        guarded = list(self.guarded)
        securities = sorted(self.touched_securities)
        # the model's balances of each touched security, summed
        supplies = {sid: sums.get(sid, 0) for sid in securities}
        step = self.steps
        done, before, today_now = list(self.step_done), self.before, self.model.today

        def then(got):
            # no ordinary transfer or settlement takes a holding below what was locked before it
            for owner, sid, locked in guarded:
                balance = got[("holding", (owner, sid))][0]
                assert balance >= locked, (f"after step {step}", "transfer took encumbered units",
                                           self.name(owner), sid, balance, locked)
            if cash is not None:
                assert got[("escrowed", None)] == got[("register cash", None)], (
                    f"after step {step}", "escrowed != the register's cash")
            if before is not None:
                self._law_invariants(step, done, before, got, today_now)
            # holdings read back of a touched security add up with the rest of the model
            for sid in securities:
                supply, count = got[("security", sid)][7], got[("security", sid)][3]
                assert count <= got[("security", sid)][4], (f"after step {step}", "holder cap", sid, count)
                assert supply == supplies[sid], (f"after step {step}", "supply", sid, supply, supplies[sid])

        self._compare(sorted(self.touched_accounts), securities,
                      sorted(self.touched_holdings), self.previews, today=self._touched_today,
                      pledges=sorted(self.touched_pledges), freezes=sorted(self.touched_freezes),
                      instructions=sorted(self.touched_instructions), cash=cash, then=then,
                      listings=sorted(self.touched_listings))
        self.touched_accounts.clear()
        self.touched_securities.clear()
        self.touched_holdings.clear()
        self.previews.clear()
        self.touched_pledges.clear()
        self.touched_freezes.clear()
        self.touched_instructions.clear()
        self.touched_listings.clear()
        self.touched_cash.clear()
        self.guarded.clear()
        self.step_done.clear()
        self.before = None
        self._touched_today = False
        self.steps += 1

    _touched_today = True  # the first check reads the clock

    # steps whose units reach a holding without a transfer to it: the same holder's new
    # key (recovery), initial registration and a capital increase
    NOT_TRANSFERS = ("recover", "register holdings", "increase capital")
    # court-ordered paths, the only ones that may move locked-up units
    COURT_PATHS = ("court transfer", "enforce pledge by court")
    # paths that move units a pledge or freeze holds: its own enforcement or court transfer
    OWN_ENFORCEMENT = ("court transfer", "enforce pledge by court", "enforce pledge by pledgee")

    def _law_snapshot(self) -> tuple[dict, dict]:
        """Accounts (status, qualified) and holdings (balance, lock-up day, (units pledged,
        freezes' (expiry day, units)) or None) before a step's first operation."""
        m = self.model
        accounts = {a: (acc.status, acc.qualified) for a, acc in m.accounts.items()}
        encumbered = set(m.pledged) | set(m.freeze_queue)
        holdings = {k: (h.balance, h.lock_until_day,
                        (m.pledged.get(k, 0), m.freeze_terms(k)) if k in encumbered else None)
                    for k, h in m.holdings.items()}
        return accounts, holdings

    @staticmethod
    def _held_on(balance: int, encumbrances, day: int) -> int:
        """Units of a holding of `balance` that its pledges and freezes (as
        `_law_snapshot` took them) still hold on `day`: a freeze that lapsed during
        the step (a step may move the clock: close_listing waits) holds nothing."""
        if encumbrances is None:
            return 0
        pledged, freezes = encumbrances
        return pledged + freeze_claims(max(balance - pledged, 0), freezes, day)[0]

    def _law_invariants(self, step, done, before, got, today):
        """Stated from the law, on the chain's numbers after the step against the register
        as the step found it, not from how the code works: no unit reaches an account that
        was not active and qualified when it arrived; no locked-up unit leaves but by a
        court path; no unit a pledge or freeze holds (from the step's start
        to its end by the clock) leaves but by its own enforcement or release (or the
        holder's recovery); holders never exceed the kind's statutory cap
        (Company Law arts 42, 92; Partnership Law art 61; Securities Law art 9). Capital
        decreases cancel units and are not transfers."""
        accounts, holdings = before
        for key in [k for (what, k) in got if what == "holding"]:
            owner, sid = key
            balance = got[("holding", key)][0]
            was, lock, encumbrances = holdings.get((owner.lower(), sid), (0, 0, None))
            held = self._held_on(was, encumbrances, today)
            if balance > was and not any(d.startswith(self.NOT_TRANSFERS) for d in done):
                status, qualified = accounts.get(owner.lower(), (AccountStatus.UNOPENED, False))
                assert status == AccountStatus.ACTIVE and qualified, (
                    f"after step {step}", "units reached an account not active and qualified", self.name(owner),
                    sid, done)
            if balance < was and not any(d.startswith(("recover", "decrease capital")) for d in done):
                if lock > today:
                    assert any(d.startswith(self.COURT_PATHS) for d in done), (
                        f"after step {step}", "locked-up units left without a court order", self.name(owner), sid,
                        done)
                if not any(d.startswith(self.OWN_ENFORCEMENT) for d in done):
                    assert balance >= held, (f"after step {step}", "units held by a pledge or freeze moved",
                                             self.name(owner), sid, balance, held, done)
        for (what, sid), sec in [(k, v) for k, v in got.items() if k[0] == "security"]:
            assert sec[3] <= HOLDER_CAP[Kind(sec[1])], (f"after step {step}", "statutory holder cap", sid, sec[3])

    def register_matches_model_everywhere(self):
        """The whole register of the pool (and the fillers): every account,
        security and holding; the chain's balances add up to its supply and
        its holder counts equal its non-zero holders, within the cap."""
        m = self.model
        holdings = [(a, sid) for sid in m.securities for a in self.world.pool + self.crowded.get(sid, [])]
        got = self._compare(self.world.pool + self.fillers_opened, list(m.securities), holdings, [], today=True,
                            pledges=list(m.pledges), freezes=list(m.freezes), instructions=list(m.instructions),
                            cash=self.world.pool if self.world.cash is not None else None,
                            listings=list(m.listings) + [m.listing_count + 1], counts=True)
        sums, nonzero = _supplies_and_holders((sid, got[("holding", (a, sid))][0]) for (a, sid) in holdings)
        for sid in m.securities:
            sec = got[("security", sid)]
            total, count = sums.get(sid, 0), nonzero.get(sid, 0)
            # only pool and filler addresses ever receive units
            assert total == sec[7], ("sum of balances", sid, total, sec[7])
            assert count == sec[3], ("holder count", sid, count, sec[3])
            assert sec[3] <= sec[4], ("holder cap", sid, sec[3], sec[4])


_units = st.tuples(
    st.integers(1, 10_000),  # units
    st.integers(0, 10_000),  # paid (LLC; capped at units)
    st.one_of(st.integers(8, 60), st.integers(0, 40)),  # acquired days ago
    st.integers(-24, 8),  # lock-up: days from today if > 0, else none
    st.integers(0, 5).map(lambda i: i == 3),  # insider (3: not a boundary value hypothesis favours)
)
_names = st.sampled_from(POOL_NAMES)


# Which kinds of operation a step may choose, by step number (a function of
# the step number, so replays are exact): the registrar's and issuer agent's
# operations on one step in three, deliberately refused transfers and the
# clock on one in six and one in twelve, transfers on all but the admin steps. So about
# half the steps are transfers, mostly ones the model lets through.


def admin_turn(self) -> bool:
    return self.steps % 3 == 0


def transfer_turn(self) -> bool:
    return self.steps % 3 == 1


def encumbrance_turn(self) -> bool:
    """Pledges, freezes and transfer instructions (and the clock among them)."""
    return self.steps % 3 == 2 and not bidding_turn(self)


def bidding_turn(self) -> bool:
    """One-way bidding (with a cash token): every other encumbrance turn
    (refund claims and new listings among them; the clock moves by
    close_listing's `wait` here)."""
    return self.steps % 6 == 5 and self.world.cash is not None


def anything_turn(self) -> bool:
    return self.steps % 6 == 1


def clock_turn(self) -> bool:
    """The clock's turn, one choice among the encumbrance steps', or any
    transfer step where no transfer is possible."""
    return (self.steps % 12 == 4 or encumbrance_turn(self)
            or (transfer_turn(self) and not self._transfer_candidates())
            or (bidding_turn(self) and not self.model.listings and not self._pool_holdings()))


class RegisterRules(RegisterMachine):
    """The operations."""

    @initialize(n=st.integers(2, len(POOL_NAMES)),
                unqualified=st.lists(st.integers(0, 4).map(lambda i: i == 3), min_size=6, max_size=6),
                holders=st.lists(st.integers(0, len(POOL_NAMES) - 1), min_size=1, max_size=4, unique=True),
                kind=st.sampled_from(list(Kind)), units=st.lists(_units, min_size=4, max_size=4),
                crowded=st.sampled_from([None, None, None, 0, 1]))
    def start(self, n, unqualified, holders, kind, units, crowded):
        """Open the first `n` accounts and register a first, sealed security."""
        pool = self.world.pool
        for a, unq in zip(pool[:n], unqualified):
            self._open(a, not unq)
        self._new_security(kind, list(dict.fromkeys(pool[h % n] for h in holders)), True, units, crowded)

    def _open(self, address, qualified):
        self._expect("open account", self.world.registrar, "open_account",
                     (address, doc(f"id:{address}"), int(InvestorClass.INDIVIDUAL), qualified, doc("open")),
                     lambda: self.model.open_account(address, doc(f"id:{address}"), InvestorClass.INDIVIDUAL,
                                                     qualified))
        self._touch(accounts=[address])

    # ------------------------------------------------------------- accounts

    @precondition(admin_turn)
    @rule(who=_names, qualified=st.booleans())
    def open_account(self, who, qualified):
        """Open an account (refused if it exists)."""
        address = self.world.by_name[who]
        note(f"open {who} (qualified={qualified})")
        self._open(address, qualified)

    @precondition(lambda self: self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED))
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255))
    def suspend_or_reactivate_account(self, pick):
        candidates = self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
        address = candidates[pick % len(candidates)]
        w = self.world
        if self.model.account(address).status == AccountStatus.ACTIVE:
            note(f"suspend {self.name(address)}")
            self._expect("suspend account", w.registrar, "suspend_account", (address, doc("suspend")),
                         lambda: self.model.suspend_account(address))
        else:
            note(f"reactivate {self.name(address)}")
            self._expect("reactivate account", w.registrar, "reactivate_account", (address, doc("reactivate")),
                         lambda: self.model.reactivate_account(address))
        self._touch(accounts=[address])

    @precondition(lambda self: self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED))
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255))
    def toggle_qualified(self, pick):
        candidates = self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED)
        address = candidates[pick % len(candidates)]
        qualified = not self.model.account(address).qualified
        note(f"{self.name(address)} qualified={qualified}")
        self._expect("set qualified", self.world.registrar, "set_qualified", (address, qualified, doc("qualified")),
                     lambda: self.model.set_qualified(address, qualified))
        self._touch(accounts=[address])

    # ------------------------------------------------------------- securities

    @precondition(lambda self: self.model.security_count < MAX_SECURITIES
                  and self._pool_addresses(AccountStatus.ACTIVE))
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(kind=st.sampled_from(list(Kind)), seal=st.integers(0, 4).map(bool),
          holders=st.lists(st.integers(0, 255), min_size=1, max_size=4, unique=True),
          units=st.lists(_units, min_size=4, max_size=4), crowded=st.sampled_from([None, None, None, 0, 1]))
    def new_security(self, kind, seal, holders, units, crowded):
        """A security with holdings of active pool accounts, sealed unless seal=False."""
        active = self._pool_addresses(AccountStatus.ACTIVE)
        chosen = list(dict.fromkeys(active[h % len(active)] for h in holders))
        self._new_security(kind, chosen, seal, units, crowded)

    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED))
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255))
    def suspend_or_reactivate_security(self, pick):
        candidates = self._securities(SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED)
        sid = candidates[pick % len(candidates)]
        status = (SecurityStatus.SUSPENDED if self.model.securities[sid].status == SecurityStatus.ACTIVE
                  else SecurityStatus.ACTIVE)
        note(f"security #{sid} -> {status.name}")
        self._expect(f"security status {status.name}", self.world.registrar, "set_security_status",
                     (sid, int(status), doc("status")), lambda: self.model.set_security_status(sid, status))
        self._touch(sid)

    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE)
                  and self._pool_addresses(AccountStatus.ACTIVE))
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255), subscribers=st.lists(st.integers(0, 255), min_size=1, max_size=2, unique=True),
          units=st.lists(st.tuples(st.integers(1, 5_000), st.integers(0, 5_000)), min_size=2, max_size=2),
          waive=st.booleans())
    def increase_capital(self, pick, subscribers, units, waive):
        """Existing holders or qualified newcomers subscribe (the model still decides the cap);
        an LLC's pre-emption is waived by resolution if `waive`, else the batch must offer
        every shareholder its pro-rata part (mostly refused: the model names the reason)."""
        m = self.model
        actives = self._securities(SecurityStatus.ACTIVE)
        sid = actives[pick % len(actives)]
        candidates = [a for a in self._pool_addresses(AccountStatus.ACTIVE)
                      if m.balance_of(a, sid) > 0 or m.account(a).qualified] or self._pool_addresses(
            AccountStatus.ACTIVE)
        if "increase-encumbered" in AVOID:
            candidates = [a for a in candidates if not m.pledged.get((a.lower(), sid))
                          and not m.freeze_queue.get((a.lower(), sid))]
            if not candidates:
                note("increase skipped: every candidate is encumbered (avoided bug)")
                return
        chosen = list(dict.fromkeys(candidates[s % len(candidates)] for s in subscribers))
        batch = [(a, u, min(p, u)) for a, (u, p) in zip(chosen, units)]
        note(f"increase #{sid}: {[(self.name(a), u) for a, u, _ in batch]}")
        if waive:
            self._expect("increase capital waived", self.world.registrar, "increase_capital_waived",
                         (sid, batch, doc("waiver"), doc("increase")),
                         lambda: m.increase_capital(sid, batch, doc("waiver")))
        else:
            self._expect("increase capital", self.world.registrar, "increase_capital", (sid, batch, doc("increase")),
                         lambda: m.increase_capital(sid, batch))
        self._touch(sid, chosen)
        self._preview_free_balance(sid, chosen)

    def _securities_with_pool_holders(self):
        return self._cached("with holders", lambda: [
            s for s in self._securities(SecurityStatus.ACTIVE) if self._pool_holders(s)])

    @precondition(lambda self: self._securities_with_pool_holders())
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255), holders=st.lists(st.integers(0, 255), min_size=1, max_size=2, unique=True),
          parts=st.lists(st.integers(1, 100), min_size=2, max_size=2))
    def decrease_capital(self, pick, holders, parts):
        """Reduce holdings by parts[i] % of the balance (100 = all of it)."""
        candidates = self._securities_with_pool_holders()
        sid = candidates[pick % len(candidates)]
        pool_holders = self._pool_holders(sid)
        chosen = list(dict.fromkeys(pool_holders[h % len(pool_holders)] for h in holders))
        batch = [(a, max(1, self.model.balance_of(a, sid) * p // 100)) for a, p in zip(chosen, parts)]
        locked = {a: self.model._encumbered(a, sid) for a in chosen}
        note(f"decrease #{sid}: {[(self.name(a), u) for a, u in batch]} (locked {list(locked.values())})")
        if self._expect("decrease capital", self.world.registrar, "decrease_capital", (sid, batch, doc("decrease")),
                        lambda: self.model.decrease_capital(sid, batch)) is None:
            self.guarded += [(a, sid, units) for a, units in locked.items()]
        self._touch(sid, chosen)

    @precondition(lambda self: self.model.securities)
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255), owner=st.integers(0, 255), offset=st.integers(-16, 8))
    def set_lockup(self, pick, owner, offset):
        """A lock-up `offset` days ahead (none if offset <= 0) on a holder, or on anyone."""
        sid = list(self.model.securities)[pick % self.model.security_count]
        owners = self._pool_holders(sid) or self.world.pool
        address = owners[owner % len(owners)]
        lock = self.model.today + offset if offset > 0 else 0
        note(f"lock-up of {self.name(address)} on #{sid} until {lock}")
        self._expect("set lockup", self.world.registrar, "set_lockup", (address, sid, lock, doc("lockup")),
                     lambda: self.model.set_lockup(address, sid, lock))
        self._touch(sid, [address])

    @precondition(lambda self: self.model.securities)
    @precondition(admin_turn)  # evaluated first (hypothesis: innermost first)
    @rule(pick=st.integers(0, 255), meeting=st.integers(-20, 40), record=st.integers(-10, 12))
    def set_register_closure(self, pick, meeting, record):
        """Meeting / record days relative to today (none below -2)."""
        sid = list(self.model.securities)[pick % self.model.security_count]
        today = self.model.today
        meeting_day = today + meeting if meeting >= -2 else 0
        record_day = today + record if record >= -2 else 0
        note(f"closure of #{sid}: meeting {meeting_day}, record {record_day}")
        self._expect("register closure", self.world.issuer_agent, "set_register_closure",
                     (sid, meeting_day, record_day, doc("notice")),
                     lambda: self.model.set_register_closure(sid, meeting_day, record_day))
        self._touch(sid)

    # ------------------------------------------------------------- clock

    @precondition(clock_turn)
    @rule(days=st.one_of(st.integers(1, 3), st.sampled_from([7, 21, 31])))
    def advance_days(self, days):
        """A day or three, or far enough for freezes to lapse and notice periods
        to end. Near the calendar's horizon the registrar first publishes the
        next year (a long example would otherwise run off it)."""
        self._advance(days)

    def _advance(self, days):
        m = self.model
        if m.today + days + CALENDAR_MARGIN_DAYS > m.calendar.horizon_day:
            first = m.calendar.horizon_day + 1
            last = first + 365
            trading = cal.weekdays(first, last)
            note(f"publish calendar {first}..{last}")
            self._expect("publish calendar", self.world.registrar, "publish_calendar",
                         (first, last, trading, doc("calendar")), lambda: m.publish_calendar(first, last, trading))
        note(f"advance {days} days")
        self.version += 1
        self.chain.increase_time(days * SECONDS_PER_DAY)
        self.model.advance_days(days)
        STATS["advance days"] += 1
        self._touched_today = True

    # ------------------------------------------------------------- transfers

    @precondition(lambda self: transfer_turn(self) and self._transfer_candidates())
    @rule(pick=st.integers(0, 2**16), refused=st.integers(0, 9).map(lambda i: i == 7),
          part=st.one_of(st.integers(1, 30), st.integers(1, 100)))
    def transfer(self, pick, refused, part):
        """A transfer between active accounts by a holder: one the model lets
        through for one unit (any plausible one if `refused`), of `part` % of the
        balance (100 = all of it). It may still break the insider limit or the
        holder cap, and the rest meet the holding period, lock-ups, closures
        or qualification: the model says which."""
        candidates = self._plausible_transfers() if refused else self._transfer_candidates()
        sid, sender, receiver = candidates[pick % len(candidates)]
        amount = max(1, self.model.balance_of(sender, sid) * part // 100)
        self._do_transfer("transfer", sender, receiver, sid, amount)

    @precondition(lambda self: transfer_turn(self) and self._crowded_transfers())
    @rule(pick=st.integers(0, 2**16), part=st.integers(1, 99))
    def transfer_in_crowded_security(self, pick, part):
        """Part of a holding of a security at (or one short of) its cap to
        another account: a newcomer may break the cap."""
        candidates = self._crowded_transfers()
        sid, sender, receiver = candidates[pick % len(candidates)]
        amount = max(1, self.model.balance_of(sender, sid) * part // 100)
        self._do_transfer("transfer", sender, receiver, sid, amount)

    @precondition(lambda self: anything_turn(self) and self.model.securities)
    @rule(sender=_names, receiver=st.sampled_from(POOL_NAMES + ("zero", "self")),
          sid=st.integers(0, MAX_SECURITIES + 1), amount=st.sampled_from(["0", "1", "all", "all+1", "2*all+3"]))
    def transfer_anything(self, sender, receiver, sid, amount):
        """Any sender, receiver (zero, self, unopened ...), id and amount:
        mostly refused, for exactly the reason the model gives."""
        s = self.world.by_name[sender]
        r = {"zero": ZERO_ADDRESS, "self": s}.get(receiver) or self.world.by_name[receiver]
        balance = self.model.balance_of(s, sid)
        units = {"0": 0, "1": 1, "all": balance, "all+1": balance + 1, "2*all+3": 2 * balance + 3}[amount]
        self._do_transfer("any transfer", s, r, sid, units)


    # ------------------------------------------------------------- encumbrances: helpers

    def _preview_free_balance(self, sid, owners):
        """Preview a transfer of one unit more than the free balance (and of
        exactly it) from each encumbered holding: refused for its encumbrances."""
        m = self.model
        for a in owners:
            locked = m._encumbered(a, sid)
            if locked and m.holding(a, sid).balance:
                other = next(b for b in self.world.pool if b != a)
                free = max(0, m.balance_of(a, sid) - locked)
                self.previews.append((a, other, sid, free + 1))
                if free:
                    self.previews.append((a, other, sid, free))

    def _free(self, owner, sid) -> int:
        return max(0, self.model.balance_of(owner, sid) - self.model._encumbered(owner, sid))

    def _pool_holdings(self, *statuses):
        """(id, owner) of pool holdings with units, of securities in `statuses` (any if none)."""
        return self._cached(("pool holdings", statuses), lambda: [
            (sid, a) for sid in self._securities(*statuses) for a in self.world.pool
            if self.model.balance_of(a, sid) > 0])

    def _pledges(self, status):
        return [pid for pid, p in self.model.pledges.items() if p.status == status]

    def _open_freezes(self):
        return [fid for fid, f in self.model.freezes.items() if f.status == FreezeStatus.OPEN]

    def _touch_pledge(self, pid):
        p = self.model.pledges.get(pid)
        if p is not None:
            self.touched_pledges.add(pid)
            self._touch(p.id, [p.pledgor])

    def _touch_freeze(self, fid):
        f = self.model.freezes.get(fid)
        if f is not None:
            self.touched_freezes.add(fid)
            self._touch(f.id, [f.owner])
            # everything on the holding's queue may have changed (took effect, ...)
            self.touched_freezes.update(self.model.freeze_queue.get((f.owner, f.id), []))

    def _other(self, address, who):
        others = [a for a in self.world.pool if a.lower() != str(address).lower()]
        return others[who % len(others)]

    # ------------------------------------------------------------- pledges

    @precondition(lambda self: encumbrance_turn(self) and self._pool_holdings(SecurityStatus.ACTIVE))
    @rule(pick=st.integers(0, 2**16), who=st.integers(0, 255), part=st.integers(1, 100),
          how=st.sampled_from(["free"] * 7 + ["balance", "over", "self", "registrar"]),
          accept=st.integers(0, 2).map(bool))
    def offer_pledge(self, pick, who, part, how, accept):
        """The holder offers a pledge of part of its free balance to another
        pool account (or of its balance, which the pledgee may then find
        locked; more than it holds; to itself), or the registrar registers
        one; the pledgee accepts at once if `accept` (two transactions)."""
        m = self.model
        candidates = self._pool_holdings(SecurityStatus.ACTIVE)
        sid, pledgor = candidates[pick % len(candidates)]
        pledgee = pledgor if how == "self" else self._other(pledgor, who)
        balance, free = m.balance_of(pledgor, sid), self._free(pledgor, sid)
        units = {"over": balance + 1, "balance": max(1, balance * part // 100)}.get(how, max(1, free * part // 100))
        note(f"pledge offer {units} of #{sid} {self.name(pledgor)} -> {self.name(pledgee)} ({how}, free {free})")
        if how == "registrar":
            self._expect("register pledge", self.world.registrar, "register_pledge",
                         (pledgor, pledgee, sid, units, doc("instruction")),
                         lambda: m.offer_pledge(self.world.registrar, pledgor, sid, pledgee, units))
        else:
            self._expect("offer pledge", pledgor, "offer_pledge", (sid, pledgee, units, doc("pledge contract")),
                         lambda: m.offer_pledge(pledgor, pledgor, sid, pledgee, units))
        pid = m.pledge_count
        if accept and pid in m.pledges and m.pledges[pid].status == PledgeStatus.OFFERED:
            self._expect("accept pledge", pledgee, "accept_pledge", (pid, doc("acceptance")),
                         lambda: m.accept_pledge(pledgee, pid))
        self._touch_pledge(pid)
        self.touched_pledges.add(pid + 1)  # nothing there unless the chain wrote one
        self._preview_free_balance(sid, [pledgor])

    @precondition(lambda self: encumbrance_turn(self) and self._pledges(PledgeStatus.OFFERED))
    @rule(pick=st.integers(0, 255), wrong=st.integers(0, 7).map(lambda i: i == 5))
    def accept_pledge(self, pick, wrong):
        """The pledgee accepts an offer (or the pledgor tries to)."""
        offers = self._pledges(PledgeStatus.OFFERED)
        pid = offers[pick % len(offers)]
        p = self.model.pledges[pid]
        caller = p.pledgor if wrong else p.pledgee
        note(f"accept pledge {pid} by {self.name(caller)} (free {self._free(p.pledgor, p.id)}, units {p.units})")
        self._expect("accept pledge", caller, "accept_pledge", (pid, doc("acceptance")),
                     lambda: self.model.accept_pledge(caller, pid))
        self._touch_pledge(pid)
        self._preview_free_balance(p.id, [p.pledgor])

    @precondition(lambda self: encumbrance_turn(self) and self.model.pledges)
    @rule(pick=st.integers(0, 255), by=st.sampled_from(["pledgor", "pledgee", "registrar", "other"]))
    def cancel_pledge_offer(self, pick, by):
        """An offer withdrawn or declined (or any pledge: refused if not an open offer)."""
        pids = self._pledges(PledgeStatus.OFFERED) or list(self.model.pledges)
        pid = pids[pick % len(pids)]
        p = self.model.pledges[pid]
        caller = {"pledgor": p.pledgor, "pledgee": p.pledgee, "registrar": self.world.registrar}.get(by)
        if caller is None:
            caller = next(a for a in self.world.pool if a.lower() not in (p.pledgor, p.pledgee))
        note(f"cancel pledge offer {pid} by {self.name(caller)}")
        self._expect("cancel pledge offer", caller, "cancel_pledge_offer", (pid, doc("cancel")),
                     lambda: self.model.cancel_pledge_offer(caller, pid))
        self._touch_pledge(pid)

    @precondition(lambda self: encumbrance_turn(self) and self.model.pledges)
    @rule(pick=st.integers(0, 255), part=st.integers(1, 100), how=st.sampled_from(["part"] * 6 + ["zero", "over", "wrong"]))
    def release_pledge(self, pick, part, how):
        """The pledgee releases part of a pledge in force, or all of it (part=100)."""
        pids = self._pledges(PledgeStatus.PLEDGED) or list(self.model.pledges)
        pid = pids[pick % len(pids)]
        p = self.model.pledges[pid]
        units = {"zero": 0, "over": p.units + 1}.get(how, max(1, p.units * part // 100))
        caller = p.pledgor if how == "wrong" else p.pledgee
        note(f"release {units} of pledge {pid} by {self.name(caller)}")
        self._expect("release pledge", caller, "release_pledge", (pid, units, doc("release")),
                     lambda: self.model.release_pledge(caller, pid, units))
        self._touch_pledge(pid)

    @precondition(lambda self: encumbrance_turn(self) and self._pledges(PledgeStatus.PLEDGED))
    @rule(pick=st.integers(0, 255), by=st.sampled_from(["pledgee", "pledgee", "court", "pledgor"]),
          to_pledgee=st.booleans(), who=st.integers(0, 255), part=st.integers(1, 100))
    def enforce_pledge(self, pick, by, to_pledgee, who, part):
        """On default the pledgee (refused if a later freeze is in force) or
        the court agent moves pledged units to the pledgee or a buyer."""
        w = self.world
        pids = self._pledges(PledgeStatus.PLEDGED)
        pid = pids[pick % len(pids)]
        p = self.model.pledges[pid]
        if by == "court" and w.court is None:
            by = "pledgee"
        caller = {"pledgee": p.pledgee, "court": w.court, "pledgor": p.pledgor}[by]
        receiver = p.pledgee if to_pledgee else self._other(p.pledgor, who)
        units = max(1, p.units * part // 100)
        note(f"enforce {units} of pledge {pid} by {by} to {self.name(receiver)} "
             f"(frozen after: {self.model.frozen_after(pid)})")
        self._expect(f"enforce pledge by {by}", caller, "enforce_pledge", (pid, receiver, units, doc("enforcement")),
                     lambda: self.model.enforce_pledge(caller, pid, receiver, units))
        self._touch_pledge(pid)
        self._touch(p.id, [receiver])
        for fid in self.model.freeze_queue.get((p.pledgor, p.id), []):
            self._touch_freeze(fid)

    # ------------------------------------------------------------- freezes

    @precondition(lambda self: encumbrance_turn(self) and self.world.court is not None and self._pool_holdings())
    @rule(pick=st.integers(0, 2**16), part=st.one_of(st.integers(1, 100), st.integers(1, 130)),
          expiry=st.one_of(st.integers(0, 5), st.integers(6, 60), st.just(-1)),
          by_court=st.integers(0, 11).map(lambda i: i != 7))
    def freeze(self, pick, part, expiry, by_court):
        """The court agent freezes part of a holding (or more than it holds)
        until `expiry` days from today: in force at once if it fits, else queued."""
        w = self.world
        candidates = self._pool_holdings()
        sid, owner = candidates[pick % len(candidates)]
        units = max(1, self.model.balance_of(owner, sid) * part // 100)
        day = self.model.today + expiry
        caller = w.court if by_court else w.registrar
        note(f"freeze {units} of #{sid} of {self.name(owner)} until {day} ({expiry:+d} days)")
        self._expect("freeze", caller, "freeze", (owner, sid, units, doc("case"), day, doc("ruling")),
                     lambda: self.model.freeze(caller, owner, sid, units, day))
        self._touch(sid, [owner])
        for fid in self.model.freeze_queue.get((owner.lower(), sid), []):
            self._touch_freeze(fid)
        self.touched_freezes.add(self.model.freeze_count + 1)
        self._preview_free_balance(sid, [owner])

    @precondition(lambda self: encumbrance_turn(self) and self.world.court is not None and self.model.freezes)
    @rule(pick=st.integers(0, 255), unknown=st.integers(0, 9).map(lambda i: i == 4))
    def lift_freeze(self, pick, unknown):
        """The court lifts an open freeze (refused if it lapsed); queued ones promote."""
        fids = self._open_freezes() or list(self.model.freezes)
        fid = self.model.freeze_count + 1 if unknown else fids[pick % len(fids)]
        note(f"lift freeze {fid}")
        f = self.model.freezes.get(fid)
        queue = list(self.model.freeze_queue.get((f.owner, f.id), [])) if f else []
        self._expect("lift freeze", self.world.court, "lift_freeze", (fid, doc("release notice")),
                     lambda: self.model.lift_freeze(self.world.court, fid))
        self.touched_freezes.add(fid)
        for other in queue:
            self._touch_freeze(other)
        if f:
            self._preview_free_balance(f.id, [f.owner])

    @precondition(lambda self: encumbrance_turn(self) and self.world.court is not None and self.model.freezes)
    @rule(pick=st.integers(0, 255), days=st.integers(-1, 40))
    def renew_freeze(self, pick, days):
        """The court extends a freeze by `days` (0 or less: refused); it keeps its rank."""
        fids = self._open_freezes() or list(self.model.freezes)
        fid = fids[pick % len(fids)]
        day = self.model.freezes[fid].expiry_day + days
        note(f"renew freeze {fid} until {day}")
        self._expect("renew freeze", self.world.court, "renew_freeze", (fid, day, doc("renewal")),
                     lambda: self.model.renew_freeze(self.world.court, fid, day))
        self._touch_freeze(fid)

    @precondition(lambda self: encumbrance_turn(self) and self.model.freeze_queue)
    @rule(pick=st.integers(0, 255), who=_names)
    def tidy_freezes(self, pick, who):
        """Anyone clears lapsed freezes of a holding (refused if none lapsed)."""
        keys = sorted(k for k, q in self.model.freeze_queue.items() if q) or sorted(self.model.freeze_queue)
        owner, sid = keys[pick % len(keys)]
        caller = self.world.by_name[who]
        note(f"tidy freezes of #{sid} of {self.name(owner)}")
        queue = list(self.model.freeze_queue[(owner, sid)])
        self._expect("tidy freezes", caller, "tidy_freezes", (owner, sid),
                     lambda: self.model.tidy_freezes(owner, sid))
        self._touch(sid, [owner])
        self.touched_freezes.update(queue)

    @precondition(lambda self: encumbrance_turn(self) and self.world.court is not None and self._open_freezes())
    @rule(pick=st.integers(0, 255), who=st.integers(0, 255), part=st.integers(1, 100))
    def court_transfer(self, pick, who, part):
        """The court moves units under its own freeze in force to a named account."""
        fids = self._open_freezes()
        fid = fids[pick % len(fids)]
        f = self.model.freezes[fid]
        receiver = self._other(f.owner, who)
        units = max(1, f.units * part // 100)
        note(f"court transfer {units} under freeze {fid} of #{f.id} {self.name(f.owner)} -> {self.name(receiver)}")
        queue = list(self.model.freeze_queue.get((f.owner, f.id), []))
        self._expect("court transfer", self.world.court, "court_transfer", (fid, receiver, units, doc("ruling")),
                     lambda: self.model.court_transfer(self.world.court, fid, receiver, units))
        self._touch(f.id, [f.owner, receiver])
        self.touched_freezes.update(queue)

    @precondition(lambda self: admin_turn(self) and self._pool_holdings())
    @rule(pick=st.integers(0, 2**16), who=st.integers(0, 255), some=st.booleans())
    def recover(self, pick, who, some):
        """Lost key: the registrar moves a pool holder's holdings (all, or the picked
        one) to another pool address: a fresh one takes the account over; an opened
        one is another holder (refused), and one that holds anything of a listed
        security is refused too (never merged)."""
        m = self.model
        candidates = self._pool_holdings()
        sid, old = candidates[pick % len(candidates)]
        new = self._other(old, who)
        ids = [sid] if some else [s for s in m.securities if m.balance_of(old, s) > 0]
        note(f"recover {[f'#{i}' for i in ids]} of {self.name(old)} -> {self.name(new)}")
        keys = [(old.lower(), i) for i in ids]
        pledges = [p for k in keys for p in m.pledge_ids.get(k, [])]
        freezes = [f for k in keys for f in m.freeze_queue.get(k, [])]
        self._expect("recover", self.world.registrar, "recover", (old, new, ids, doc("recovery")),
                     lambda: m.recover(old, new, ids))
        for i in ids:
            self._touch(i, [old, new])
        self._touch(accounts=[old, new])
        self.touched_pledges.update(pledges)
        self.touched_freezes.update(freezes)

    @precondition(lambda self: encumbrance_turn(self) and self._fund_pledges())
    @rule(pick=st.integers(0, 255), to_pledgee=st.booleans(), who=st.integers(0, 255), part=st.integers(1, 100),
          wrong=st.integers(0, 7).map(lambda i: i == 5))
    def consent_enforcement(self, pick, to_pledgee, who, part, wrong):
        """The fund manager (or, refused, the pledgee) consents that the pledgee
        enforces part of a fund pledge to itself or another pool account."""
        pids = self._fund_pledges()
        pid = pids[pick % len(pids)]
        p = self.model.pledges[pid]
        receiver = p.pledgee if to_pledgee else self._other(p.pledgor, who)
        units = max(1, p.units * part // 100)
        caller = p.pledgee if wrong else self.world.issuer_agent
        note(f"consent to enforcing {units} of pledge {pid} to {self.name(receiver)} by {self.name(caller)}")
        self._expect("consent enforcement", caller, "consent_enforcement", (pid, receiver, units, doc("consent")),
                     lambda: self.model.consent_enforcement(caller, pid, receiver, units))

    def _fund_pledges(self):
        return [pid for pid in self._pledges(PledgeStatus.PLEDGED)
                if self.model.securities[self.model.pledges[pid].id].kind >= Kind.LP_FUND]

    def _encumbered_transfers(self):
        return self._cached("encumbered", lambda: [
            c for c in self._plausible_transfers() if self.model._encumbered(c[1], c[0])])

    @precondition(lambda self: transfer_turn(self) and self._encumbered_transfers())
    @rule(pick=st.integers(0, 2**16), how=st.sampled_from(["free", "free+1", "part"]), part=st.integers(1, 100))
    def transfer_from_encumbered_holding(self, pick, how, part):
        """From a holding with pledges or freezes: its whole free balance, one
        unit more (refused: "amount exceeds free balance" unless an earlier
        rule refuses), or part of it."""
        candidates = self._encumbered_transfers()
        sid, sender, receiver = candidates[pick % len(candidates)]
        free = self._free(sender, sid)
        amount = {"free": free, "free+1": free + 1}.get(how, max(1, free * part // 100))
        self._do_transfer("encumbered transfer", sender, receiver, sid, amount)


    # ------------------------------------------------------------- transfer instructions

    def _instructions(self, *stages):
        """Instruction ids whose stage now (lapse applied) is one of `stages`."""
        return [iid for iid in self.model.instructions if self.model.stage_of(iid) in stages]

    def _touch_instruction(self, iid):
        m = self.model
        ins = m.instructions.get(iid)
        self.touched_instructions.add(iid)
        if ins is None:
            return
        owners = [ins.seller, ins.buyer, *ins.exercisers]
        self._touch(ins.id, owners)
        self.touched_cash.update(owners)

    @precondition(lambda self: encumbrance_turn(self) and self._plausible_transfers())
    @rule(pick=st.integers(0, 2**16), part=st.integers(1, 100), price=st.integers(0, 10_000),
          dvp=st.booleans(), court=st.integers(0, 5).map(lambda i: i == 5), accept=st.integers(0, 2).map(bool))
    def propose_transfer(self, pick, part, price, dvp, court, accept):
        """The seller proposes a transfer of part of its free balance to
        another active account (the court agent, a court-ordered sale),
        free of payment or against the cash token; the buyer accepts at once
        if `accept` (two transactions)."""
        m, w = self.model, self.world
        candidates = self._plausible_transfers()
        sid, seller, buyer = candidates[pick % len(candidates)]
        units = max(1, self._free(seller, sid) * part // 100)
        cash = w.cash if dvp and w.cash is not None else ZERO_ADDRESS
        if court and w.court is not None:
            caller, fn, args = w.court, "propose_court_sale", (seller, buyer, sid, units, price, cash, doc("ruling"))
        else:
            court, caller, fn, args = False, seller, "propose_transfer", (buyer, sid, units, price, cash, doc("spa"))
        note(f"propose {units} of #{sid} {self.name(seller)} -> {self.name(buyer)} for {price} "
             f"{'DvP' if cash != ZERO_ADDRESS else 'FoP'}{' (court sale)' if court else ''}")
        self._expect("propose court sale" if court else "propose transfer", caller, fn, args,
                     lambda: m.propose_transfer(caller, seller, buyer, sid, units, price, cash, court))
        iid = m.instruction_count
        if accept and iid in m.instructions and m.stage_of(iid) == InstructionStage.PROPOSED:
            self._expect("accept transfer", buyer, "accept_transfer", (iid, doc("acceptance")),
                         lambda: m.accept_transfer(buyer, iid))
        self._touch_instruction(iid)
        self.touched_instructions.add(iid + 1)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), wrong=st.integers(0, 7).map(lambda i: i == 5))
    def accept_transfer(self, pick, wrong):
        """The buyer accepts (escrowing the price against cash), or the seller tries to."""
        iids = [i for i in self._instructions(InstructionStage.PROPOSED)
                if not self.model.instructions[i].buyer_accepted] or list(self.model.instructions)
        iid = iids[pick % len(iids)]
        ins = self.model.instructions[iid]
        caller = ins.seller if wrong else ins.buyer
        note(f"accept instruction {iid} by {self.name(caller)}")
        self._expect("accept transfer", caller, "accept_transfer", (iid, doc("acceptance")),
                     lambda: self.model.accept_transfer(caller, iid))
        self._touch_instruction(iid)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), reject=st.integers(0, 5).map(lambda i: i == 5),
          wrong=st.integers(0, 7).map(lambda i: i == 5))
    def consent_or_reject_transfer(self, pick, reject, wrong):
        """The fund manager consents to (or rejects) a fund-share transfer; anyone else is refused."""
        m = self.model
        iids = [i for i in self._instructions(InstructionStage.PROPOSED)
                if m.securities[m.instructions[i].id].kind >= Kind.LP_FUND] or list(m.instructions)
        iid = iids[pick % len(iids)]
        caller = m.instructions[iid].seller if wrong else self.world.issuer_agent
        what = "reject" if reject else "consent"
        note(f"{what} instruction {iid} by {self.name(caller)}")
        self._expect(f"{what} transfer", caller, f"{what}_transfer", (iid, doc(what)),
                     lambda: getattr(m, f"{what}_transfer")(caller, iid))
        self._touch_instruction(iid)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), who=_names)
    def exercise_first_refusal(self, pick, who):
        """A pool account exercises first refusal (refused unless another holder within the notice)."""
        m = self.model
        iids = [i for i in self._instructions(InstructionStage.PROPOSED)
                if m.instructions[i].notice_end_day >= m.today] or list(m.instructions)
        iid = iids[pick % len(iids)]
        caller = self.world.by_name[who]
        note(f"exercise first refusal on {iid} by {who}")
        self._expect("exercise first refusal", caller, "exercise_first_refusal", (iid, doc("rofr")),
                     lambda: m.exercise_first_refusal(caller, iid))
        self._touch_instruction(iid)
        self._touch(m.instructions[iid].id, [caller])
        self.touched_cash.add(caller)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), by=st.sampled_from(["right"] * 5 + ["seller", "buyer", "registrar"]))
    def settle_transfer(self, pick, by):
        """Settle: the registrar (free of payment) or seller / buyer (against
        cash); every transfer rule re-checked; pro rata to exercisers."""
        m, w = self.model, self.world
        iids = self._instructions(InstructionStage.PROPOSED) or list(m.instructions)
        iid = iids[pick % len(iids)]
        ins = m.instructions[iid]
        if by == "right":
            by = "registrar" if ins.cash == ZERO_ADDRESS else ("seller", "buyer")[iid % 2]
        caller = {"seller": ins.seller, "buyer": ins.buyer, "registrar": w.registrar}[by]
        receivers = ins.exercisers or [ins.buyer]
        locked = m._encumbered(ins.seller, ins.id)
        note(f"settle instruction {iid} by {by} (locked {locked}, exercisers {len(ins.exercisers)})")
        if self._expect("settle transfer", caller, "settle_transfer", (iid, doc("settlement")),
                        lambda: m.settle_transfer(caller, iid)) is None:
            self.guarded.append((ins.seller, ins.id, locked))
        self._touch_instruction(iid)
        self._touch(ins.id, receivers)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), wrong=st.integers(0, 7).map(lambda i: i == 5))
    def withdraw_transfer(self, pick, wrong):
        """The seller (the court agent, for a court sale) withdraws; escrow becomes refundable."""
        m, w = self.model, self.world
        iids = self._instructions(InstructionStage.PROPOSED) or list(m.instructions)
        iid = iids[pick % len(iids)]
        ins = m.instructions[iid]
        caller = ins.buyer if wrong else (w.court if ins.court_ordered else ins.seller)
        note(f"withdraw instruction {iid} by {self.name(caller)}")
        self._expect("withdraw transfer", caller, "withdraw_transfer", (iid, doc("withdrawal")),
                     lambda: m.withdraw_transfer(caller, iid))
        self._touch_instruction(iid)

    @precondition(lambda self: encumbrance_turn(self) and self.model.instructions)
    @rule(pick=st.integers(0, 255), who=_names)
    def reclaim_lapsed(self, pick, who):
        """Anyone releases a lapsed instruction's escrow into refunds (refused if not lapsed)."""
        m = self.model
        iids = self._instructions(InstructionStage.LAPSED) or list(m.instructions)
        iid = iids[pick % len(iids)]
        note(f"reclaim lapsed instruction {iid}")
        self._expect("reclaim lapsed", self.world.by_name[who], "reclaim_lapsed", (iid, doc("reclaim")),
                     lambda: m.reclaim_lapsed(iid))
        self._touch_instruction(iid)

    @precondition(lambda self: (encumbrance_turn(self) or bidding_turn(self)) and self.world.cash is not None
                  and (self.model.instructions or self.model.listings))
    @rule(pick=st.integers(0, 255), who=_names)
    def claim_refund(self, pick, who):
        """A pool account with a refund pulls it (anyone else is refused)."""
        m, w = self.model, self.world
        owed = [a for a in w.pool if m.refund_of(w.cash, a)]
        caller = owed[pick % len(owed)] if owed and who != "frank" else w.by_name[who]
        note(f"claim refund by {self.name(caller)} ({m.refund_of(w.cash, caller)})")
        self._expect("claim refund", caller, "claim_refund", (w.cash, doc("claim")), lambda: m.claim_refund(caller, w.cash))
        self.touched_cash.add(caller)

    # ------------------------------------------------------------- one-way bidding (单向竞价)

    def _bidder(self, seller, who):
        """Mostly another active qualified account (three in five), else another
        active account (one in five), else any other pool account."""
        active = [a for a in self._pool_addresses(AccountStatus.ACTIVE) if a.lower() != str(seller).lower()]
        qualified = [a for a in active if self.model.account(a).qualified]
        if qualified and who % 5 in (1, 2, 3):
            return qualified[who % len(qualified)]
        if active and who % 5 == 4:
            return active[who % len(active)]
        return self._other(seller, who)

    def _listings(self, *statuses):
        return [lid for lid, l in self.model.listings.items() if not statuses or l.status in statuses]

    def _touch_listing(self, lid, *others):
        """A listing, its seller's and best bidder's holdings and cash (and `others`')."""
        self.touched_listings.add(lid)
        l = self.model.listings.get(lid)
        if l is None:
            return
        owners = [o for o in (l.seller, l.best_bidder, *others) if str(o).lower() != ZERO_ADDRESS]
        self._touch(l.id, owners)
        self.touched_cash.update(owners)
        if l.best_bidder != ZERO_ADDRESS and l.status == ListingStatus.OPEN:
            # the sale the close would make, on the new state
            self.previews.append((l.seller, l.best_bidder, l.id, l.units))

    @precondition(lambda self: (encumbrance_turn(self) or bidding_turn(self)) and self.world.cash is not None
                  and self._pool_holdings())
    @rule(pick=st.integers(0, 2**16), part=st.integers(1, 100), reserve=st.integers(1, 2_000),
          window=st.sampled_from([1, 2, 3, 5, 8, 30, 30, 31, 45, 90] + [-1, 0, 29, 91]),
          how=st.sampled_from(["ok"] * 8 + ["over", "zero", "no reserve", "no cash"]),
          bidders=st.integers(0, 3), who=st.integers(0, 255),
          raises=st.lists(st.integers(0, 300), min_size=3, max_size=3),
          then=st.sampled_from(["wait", "wait", "close"]))
    def list_units(self, pick, part, reserve, window, how, bidders, who, raises, then):
        """A holder lists part of its holding for one-way bidding until
        `window` days from today, against the cash token; or lists more than it
        holds, nothing, at no reserve, against a token not accepted, or with a
        window in the past, too long or (LLC with first refusal) shorter than
        the notice period. Then `bidders` other pool accounts (from `who` on)
        bid at once, each raises[i] above the best (or the reserve) (a
        transaction each; refused for a bidder the transfer rules do not let
        receive). `then`="close": the fund manager consents (funds), the
        clock moves to the day after the window and the seller closes."""
        m, w = self.model, self.world
        candidates = self._pool_holdings()
        sid, seller = candidates[pick % len(candidates)]
        balance = m.balance_of(seller, sid)
        units = {"over": balance + 1, "zero": 0}.get(how, max(1, balance * part // 100))
        reserve = 0 if how == "no reserve" else reserve
        cash = ZERO_ADDRESS if how == "no cash" else w.cash
        end_day = m.today + window
        note(f"list {units} of #{sid} by {self.name(seller)}, reserve {reserve}, bids until day {end_day} "
             f"({window:+d} days){' against no token' if cash == ZERO_ADDRESS else ''}")
        listed = self._expect("list units", seller, "list_units",
                              (sid, units, reserve, cash, end_day, doc("listing")),
                              lambda: m.list_units(seller, sid, units, reserve, cash, end_day)) is None
        lid = m.listing_count
        placed = []
        if listed:
            for i, raise_by in enumerate(raises[:bidders]):
                l = m.listings[lid]
                bidder = self._bidder(seller, who + i)
                amount = max(l.reserve, l.best_amount + 1) + raise_by
                note(f"bid {amount} on listing {lid} by {self.name(bidder)} (best {l.best_amount})")
                self._expect("bid", bidder, "bid", (lid, amount, doc("bid")), lambda: m.bid(bidder, lid, amount))
                placed.append(bidder)
            if then == "close":
                if m.securities[sid].kind >= Kind.LP_FUND:
                    manager = self.world.issuer_agent
                    note(f"consent listing {lid} by {self.name(manager)}")
                    self._expect("consent listing", manager, "consent_listing", (lid, doc("consent")),
                                 lambda: m.consent_listing(manager, lid))
                self._advance(m.listings[lid].end_day + 1 - m.today)
                self._close(lid, seller)
        self._touch_listing(lid, *placed)
        self.touched_listings.add(lid + 1)

    @precondition(lambda self: bidding_turn(self) and self.model.listings)
    @rule(pick=st.integers(0, 255), wrong=st.integers(0, 7).map(lambda i: i == 5))
    def consent_listing(self, pick, wrong):
        """The fund manager consents to a fund listing's sale (the seller, or any
        listing not a fund's, is refused: not its manager; twice: already)."""
        m = self.model
        lids = [lid for lid in self._listings(ListingStatus.OPEN)
                if m.securities[m.listings[lid].id].kind >= Kind.LP_FUND] or list(m.listings)
        lid = lids[pick % len(lids)]
        caller = m.listings[lid].seller if wrong else self.world.issuer_agent
        note(f"consent listing {lid} by {self.name(caller)}")
        self._expect("consent listing", caller, "consent_listing", (lid, doc("consent")),
                     lambda: m.consent_listing(caller, lid))
        self._touch_listing(lid)

    @precondition(lambda self: bidding_turn(self) and self.model.listings)
    @rule(pick=st.integers(0, 255), who=st.integers(0, 255), raise_by=st.integers(1, 300),
          how=st.sampled_from(["beat"] * 6 + ["tie", "below reserve", "seller", "reserve"]))
    def bid(self, pick, who, raise_by, how):
        """A pool account bids on an open listing: beating the best (or the
        reserve) by `raise_by`, exactly the best (a tie: the earlier bid keeps
        it), below the reserve, at the reserve, or the seller bids. The beaten
        bid is credited for refund; refused bids escrow nothing."""
        m = self.model
        lids = ([lid for lid in self._listings(ListingStatus.OPEN) if m.today <= m.listings[lid].end_day]
                or self._listings(ListingStatus.OPEN) or list(m.listings))
        lid = lids[pick % len(lids)]
        l = m.listings[lid]
        bidder = l.seller if how == "seller" else self._bidder(l.seller, who)
        floor = max(l.reserve, l.best_amount + 1)
        amount = {"tie": l.best_amount or l.reserve, "below reserve": l.reserve - 1,
                  "reserve": l.reserve}.get(how, floor + raise_by - 1)
        beaten = l.best_bidder
        note(f"bid {amount} on listing {lid} by {self.name(bidder)} (reserve {l.reserve}, best {l.best_amount} "
             f"by {self.name(beaten)}, ends day {l.end_day})")
        self._expect("bid", bidder, "bid", (lid, amount, doc("bid")), lambda: m.bid(bidder, lid, amount))
        self._touch_listing(lid, bidder, beaten)

    @precondition(lambda self: bidding_turn(self) and self.model.listings)
    @rule(pick=st.integers(0, 255), who=_names, wait=st.sampled_from(["no", "no", "end", "end", "end", "late"]))
    def close_listing(self, pick, who, wait):
        """Anyone closes a listing after its window: the best bid settles under
        every transfer rule (a freeze, pledge, suspension ... that arrived
        meanwhile refuses it with its reason), or with no bid or after the
        settlement days the listing fails and the bid is refunded. `wait`:
        first move the clock to the day after the window ("end") or past the
        settlement days ("late") if it is not there yet."""
        m = self.model
        open_ = [(lid, m.listings[lid]) for lid in self._listings(ListingStatus.OPEN)]
        # by preference: a bid to settle now, a window with a bid to wait out, a window to wait
        # out, any past its window, any open, any
        lids = ([lid for lid, l in open_ if l.end_day < m.today <= l.end_day + m.LISTING_SETTLEMENT_DAYS
                 and l.best_amount]
                or [lid for lid, l in open_ if wait != "no" and m.today <= l.end_day and l.best_amount]
                or [lid for lid, l in open_ if wait != "no" and m.today <= l.end_day]
                or [lid for lid, l in open_ if m.today > l.end_day] or [lid for lid, _ in open_]
                or list(m.listings))
        lid = lids[pick % len(lids)]
        l = m.listings[lid]
        target = {"end": l.end_day + 1, "late": l.end_day + m.LISTING_SETTLEMENT_DAYS + 1}.get(wait, 0)
        if target > m.today:
            self._advance(target - m.today)
        self._close(lid, self.world.by_name[who])

    def _close(self, lid, caller):
        m = self.model
        l = m.listings[lid]
        who = self.name(caller)
        locked = m._encumbered(l.seller, l.id)
        note(f"close listing {lid} by {who} (day {m.today}, ends {l.end_day}, best {l.best_amount} "
             f"by {self.name(l.best_bidder)}, locked {locked}): {m.close_refusal(lid) or 'closes'}")
        if self._expect("close listing", caller, "close_listing", (lid, doc("close")),
                        lambda: m.close_listing(lid)) is None:
            if l.status == ListingStatus.SOLD:  # units moved: none of those locked before
                self.guarded.append((l.seller, l.id, locked))
            STATS[f"close listing -> {ListingStatus(l.status).name}"] += 1
        self._touch_listing(lid)

    @precondition(lambda self: bidding_turn(self) and self.model.listings)
    @rule(pick=st.integers(0, 255), wrong=st.integers(0, 7).map(lambda i: i == 5))
    def withdraw_listing(self, pick, wrong):
        """The seller withdraws an open listing (its best bid refunded); anyone else is refused."""
        m = self.model
        lids = self._listings(ListingStatus.OPEN) or list(m.listings)
        lid = lids[pick % len(lids)]
        l = m.listings[lid]
        caller = (l.best_bidder if l.best_bidder != ZERO_ADDRESS else self._other(l.seller, lid)) \
            if wrong else l.seller
        note(f"withdraw listing {lid} by {self.name(caller)}")
        self._expect("withdraw listing", caller, "withdraw_listing", (lid, doc("withdrawal")),
                     lambda: m.withdraw_listing(caller, lid))
        self._touch_listing(lid)

    @precondition(lambda self: bidding_turn(self) and self._listings(ListingStatus.OPEN))
    @rule(pick=st.integers(0, 255), how=st.sampled_from(["freeze", "pledge"]), part=st.integers(1, 100),
          other=st.integers(0, 255))
    def encumber_listed_holding(self, pick, how, part, other):
        """While a listing is open, the court freezes part of the seller's
        holding (in force at once if it fits) or the seller pledges part of
        its free balance (accepted at once): the close must then refuse a sale
        the units no longer cover."""
        m, w = self.model, self.world
        lids = [lid for lid in self._listings(ListingStatus.OPEN) if m.listings[lid].best_amount] \
            or self._listings(ListingStatus.OPEN)
        l = m.listings[lids[pick % len(lids)]]
        seller, sid = l.seller, l.id
        if how == "freeze" and w.court is not None:
            units = max(1, m.balance_of(seller, sid) * part // 100)
            day = m.today + 60
            note(f"freeze {units} of listed #{sid} of {self.name(seller)} until {day}")
            self._expect("freeze listed", w.court, "freeze", (seller, sid, units, doc("case"), day, doc("ruling")),
                         lambda: m.freeze(w.court, seller, sid, units, day))
            for fid in m.freeze_queue.get((seller, sid), []):
                self._touch_freeze(fid)
            self.touched_freezes.add(m.freeze_count + 1)
        else:
            pledgee = self._other(seller, other)
            units = max(1, self._free(seller, sid) * part // 100)
            note(f"pledge {units} of listed #{sid} of {self.name(seller)} to {self.name(pledgee)}")
            self._expect("pledge listed", seller, "offer_pledge", (sid, pledgee, units, doc("pledge contract")),
                         lambda: m.offer_pledge(seller, seller, sid, pledgee, units))
            pid = m.pledge_count
            if pid in m.pledges and m.pledges[pid].status == PledgeStatus.OFFERED:
                self._expect("accept pledge", pledgee, "accept_pledge", (pid, doc("acceptance")),
                             lambda: m.accept_pledge(pledgee, pid))
            self._touch_pledge(pid)
            self.touched_pledges.add(pid + 1)
        self._touch(sid, [seller])
        self._preview_free_balance(sid, [seller])
        self._touch_listing(lids[pick % len(lids)])


def machine_for(world: World) -> type[RegisterRules]:
    """The state machine class bound to `world` (run it with hypothesis's
    run_state_machine_as_test or its TestCase)."""
    return type("RegisterStateMachine", (RegisterRules,), {"world": world})


def run(world: World, how: settings, *, quiet: bool = False) -> dict:
    """Run the machine on `world` with settings `how`; return the steps (rules
    checked), operations (STATS: outcomes of single operations), transactions
    and seconds it took."""
    STATS.clear()
    counted = {"steps": 0}
    base = machine_for(world)

    class Counted(base):
        def teardown(self):
            counted["steps"] += self.steps
            super().teardown()

    tx_before = world.backend.transactions
    # what the process holds already (ape, compiled contracts, earlier tests or bench
    # groups) is not the machine's: out of the collector's way, which otherwise walks it
    # at every full collection (a tenth of the machine's speed inside `make bench`)
    gc.collect()
    gc.freeze()
    started = time.perf_counter()
    try:
        run_state_machine_as_test(Counted, settings=how)
    finally:
        seconds = time.perf_counter() - started
        gc.unfreeze()
    result = {"steps": counted["steps"], "operations": sum(STATS.values()),
              "transactions": world.backend.transactions - tx_before, "seconds": round(seconds, 2)}
    if not quiet:
        print(f"\n{world.backend.name}: {result['steps']} steps, {result['transactions']} transactions, "
              f"{seconds:.1f} s ({result['steps'] / seconds:.0f} steps/s)\n", dict(sorted(STATS.items())))
    return result
