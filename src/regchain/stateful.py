"""The model-based state machine of the register, on any `regchain.lean.Backend`.

Random sequences of the registrar's and holders' operations run against a
deployed suite and against the plain-Python model (regchain.model) together.
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

Rule arguments are plain values (names of the pool's actors, ids, amounts, or
`pick`, an index into the candidates the model offers), so a failing example
shrinks to a short sequence hypothesis prints as code that replays it; each
step also notes what it did in words.
"""

from __future__ import annotations

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
from regchain.constants import AccountStatus, InvestorClass, Kind, Role, SecurityRole, SecurityStatus
from regchain.lean import Backend
from regchain.model import ZERO_ADDRESS, Calendar, Refused, RegisterModel

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

# operations run, by kind and outcome
STATS: Counter = Counter()


def doc(text: str) -> bytes:
    """A document reference: keccak of a short text (as tests/conftest.py)."""
    return keccak(text=text)


class World:
    """A deployed suite on a backend, and who acts on it (addresses)."""

    def __init__(self, backend: Backend, governance: str, registrar: str, issuer_agent: str,
                 pool: list[str]):
        assert len(pool) == len(POOL_NAMES)
        self.backend = backend
        self.governance = governance
        self.registrar = registrar
        self.issuer_agent = issuer_agent
        self.pool = [to_checksum_address(a) for a in pool]
        self.by_name = dict(zip(POOL_NAMES, self.pool))
        self.name_of = {a.lower(): n for n, a in self.by_name.items()}
        self.name_of[ZERO_ADDRESS] = "zero"
        # addresses without keys that only fill crowded securities up to their cap
        self.fillers = [to_checksum_address(doc(f"filler-{i}")[-20:]) for i in range(N_FILLERS)]


def prepare_suite(backend: Backend, governance: str, registrar: str, court: str | None = None) -> None:
    """Roles and the calendar on a freshly deployed suite (as tests/conftest.py's `register`)."""
    backend.transact(governance, "grant_role", (registrar, int(Role.REGISTRAR)), None)
    if court is not None:
        backend.transact(governance, "grant_role", (court, int(Role.COURT_AGENT)), None)
    today = backend.call("today")
    for first, last in cal.chunks(today - CALENDAR_BACK_DAYS, today + CALENDAR_AHEAD_DAYS, 366):
        backend.transact(registrar, "publish_calendar", (first, last, cal.weekdays(first, last), doc("calendar")), None)


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
        today = self.chain.call("today")
        epoch, horizon = self.chain.read([("epoch_day", ()), ("horizon_day", ())])
        # the suite publishes every weekday of [epoch, horizon]
        calendar = Calendar(epoch, horizon, cal.weekdays(epoch, horizon))
        self.model = RegisterModel(today, calendar)
        assert self.chain.call("trading_day_number_of_day", today) == calendar.trading_day_number(today)
        self.fillers_opened: list[str] = []
        self.crowded: dict[int, list[str]] = {}  # security id -> filler holders
        # what the current step touched, read back by the invariant
        self.touched_accounts: set[str] = set()
        self.touched_securities: set[int] = set()
        self.touched_holdings: set[tuple[str, int]] = set()
        self.previews: list[tuple[str, str, int, int]] = []
        self.version = 0  # bumped by every operation: caches below are per version
        self._cache: dict = {}
        self.steps = 0  # steps checked so far in this example

    def teardown(self):
        try:
            self.register_matches_model_everywhere()
        finally:
            self.chain.revert(self.snapshot)

    def _keep_clock_away_from_midnight(self):
        offset = self.chain.call("UTC_OFFSET")
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
        note(f"transfer {amount} of #{sid} {self.name(sender)} -> {self.name(receiver)}: "
             f"{expected or 'passes'}")
        self._expect(label, sender, "transfer", (receiver, sid, amount),
                     lambda: self.model.transfer(sender, receiver, sid, amount))
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
        assert self.chain.call("security_id", code) == sid
        self.chain.transact(w.governance, "grant_security_role", (sid, w.issuer_agent, int(SecurityRole.ISSUER_AGENT)), None)
        self._expect("register holdings", w.registrar, "register_holdings", (sid, items, doc("holdings")),
                     lambda: self.model.register_holdings(sid, items))
        if fillers:
            self.crowded[sid] = fillers
        if seal:
            self._expect("seal", w.registrar, "seal_security", (sid, doc("seal")),
                         lambda: self.model.seal_security(sid))
        self._touch(sid, [i[0] for i in items])

    # ------------------------------------------------------------- checks

    def _compare(self, accounts, securities, holdings, previews, today=False):
        """Read the given part of the register in one batch and compare it with the model."""
        m = self.model
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
        for p in previews:
            reads.append(("can_transfer", p, ("can_transfer", p)))
        results = self.chain.read([r[2] for r in reads])
        assert len(results) == len(reads)
        for (what, key, _), got in zip(reads, results):
            if what == "account":
                want = m.account_view(key)
            elif what == "today":
                want = m.today
            elif what == "trading day number":
                want = m.calendar.trading_day_number(key)
            elif what == "security":
                want = m.security_view(key)
            elif what == "holding":
                want = m.holding_view(*key)
            elif what == "quota":
                want = m.insider_quota_of(*key)
            else:  # can_transfer
                want = m.can_transfer(*key)
            assert got == want, (what, key, "chain:", got, "model:", want)
        return {(w, k): g for (w, k, _), g in zip(reads, results)}

    def _model_invariants(self):
        """Sum of balances = supply, holder count = non-zero holders <= cap, in the model
        (the chain equals the model wherever it is read)."""
        m = self.model
        sums: Counter = Counter()
        nonzero: Counter = Counter()
        for (owner, sid), h in m.holdings.items():
            sums[sid] += h.balance
            nonzero[sid] += h.balance > 0
        for sid, sec in m.securities.items():
            assert sums[sid] == sec.total_supply, ("sum of balances", sid, sums[sid], sec.total_supply)
            assert nonzero[sid] == sec.holder_count, ("holder count", sid, nonzero[sid], sec.holder_count)
            assert sec.holder_count <= sec.holder_cap, ("holder cap", sid, sec.holder_count)

    @invariant()
    def register_matches_model(self):
        """Everything the last step could have touched, read back in one batch."""
        self._model_invariants()
        got = self._compare(sorted(self.touched_accounts), sorted(self.touched_securities),
                            sorted(self.touched_holdings), self.previews, today=self._touched_today)
        # holdings read back of a touched security add up with the rest of the model
        for sid in self.touched_securities:
            supply, count = got[("security", sid)][7], got[("security", sid)][3]
            assert count <= got[("security", sid)][4], ("holder cap", sid, count)
            assert supply == sum(h.balance for (o, s), h in self.model.holdings.items() if s == sid)
        self.touched_accounts.clear()
        self.touched_securities.clear()
        self.touched_holdings.clear()
        self.previews.clear()
        self._touched_today = False
        self.steps += 1

    _touched_today = True  # the first check reads the clock

    def register_matches_model_everywhere(self):
        """The whole register of the pool (and the fillers): every account,
        security and holding; the chain's balances add up to its supply and
        its holder counts equal its non-zero holders, within the cap."""
        m = self.model
        holdings = [(a, sid) for sid in m.securities for a in self.world.pool + self.crowded.get(sid, [])]
        got = self._compare(self.world.pool + self.fillers_opened, list(m.securities), holdings, [], today=True)
        sums: Counter = Counter()
        nonzero: Counter = Counter()
        for (a, sid) in holdings:
            balance = got[("holding", (a, sid))][0]
            sums[sid] += balance
            nonzero[sid] += balance > 0
        for sid in m.securities:
            sec = got[("security", sid)]
            # only pool and filler addresses ever receive units
            assert sums[sid] == sec[7], ("sum of balances", sid, sums[sid], sec[7])
            assert nonzero[sid] == sec[3], ("holder count", sid, nonzero[sid], sec[3])
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


def anything_turn(self) -> bool:
    return self.steps % 6 == 1


def clock_turn(self) -> bool:
    """The clock's turn, or any step where no transfer is possible."""
    return self.steps % 12 == 4 or not (admin_turn(self) or self._transfer_candidates())


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

    @precondition(admin_turn)
    @precondition(lambda self: self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED))
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

    @precondition(admin_turn)
    @precondition(lambda self: self._pool_addresses(AccountStatus.ACTIVE, AccountStatus.SUSPENDED))
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

    @precondition(admin_turn)
    @precondition(lambda self: self.model.security_count < MAX_SECURITIES
                  and self._pool_addresses(AccountStatus.ACTIVE))
    @rule(kind=st.sampled_from(list(Kind)), seal=st.integers(0, 4).map(bool),
          holders=st.lists(st.integers(0, 255), min_size=1, max_size=4, unique=True),
          units=st.lists(_units, min_size=4, max_size=4), crowded=st.sampled_from([None, None, None, 0, 1]))
    def new_security(self, kind, seal, holders, units, crowded):
        """A security with holdings of active pool accounts, sealed unless seal=False."""
        active = self._pool_addresses(AccountStatus.ACTIVE)
        chosen = list(dict.fromkeys(active[h % len(active)] for h in holders))
        self._new_security(kind, chosen, seal, units, crowded)

    @precondition(admin_turn)
    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED))
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

    @precondition(admin_turn)
    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE)
                  and self._pool_addresses(AccountStatus.ACTIVE))
    @rule(pick=st.integers(0, 255), subscribers=st.lists(st.integers(0, 255), min_size=1, max_size=2, unique=True),
          units=st.lists(st.tuples(st.integers(1, 5_000), st.integers(0, 5_000)), min_size=2, max_size=2))
    def increase_capital(self, pick, subscribers, units):
        """Existing holders or qualified newcomers subscribe (the model still decides the cap)."""
        m = self.model
        actives = self._securities(SecurityStatus.ACTIVE)
        sid = actives[pick % len(actives)]
        candidates = [a for a in self._pool_addresses(AccountStatus.ACTIVE)
                      if m.balance_of(a, sid) > 0 or m.account(a).qualified] or self._pool_addresses(
            AccountStatus.ACTIVE)
        chosen = list(dict.fromkeys(candidates[s % len(candidates)] for s in subscribers))
        batch = [(a, u, min(p, u)) for a, (u, p) in zip(chosen, units)]
        note(f"increase #{sid}: {[(self.name(a), u) for a, u, _ in batch]}")
        self._expect("increase capital", self.world.registrar, "increase_capital", (sid, batch, doc("increase")),
                     lambda: m.increase_capital(sid, batch))
        self._touch(sid, chosen)

    def _securities_with_pool_holders(self):
        return self._cached("with holders", lambda: [
            s for s in self._securities(SecurityStatus.ACTIVE) if self._pool_holders(s)])

    @precondition(admin_turn)
    @precondition(lambda self: self._securities_with_pool_holders())
    @rule(pick=st.integers(0, 255), holders=st.lists(st.integers(0, 255), min_size=1, max_size=2, unique=True),
          parts=st.lists(st.integers(1, 100), min_size=2, max_size=2))
    def decrease_capital(self, pick, holders, parts):
        """Reduce holdings by parts[i] % of the balance (100 = all of it)."""
        candidates = self._securities_with_pool_holders()
        sid = candidates[pick % len(candidates)]
        pool_holders = self._pool_holders(sid)
        chosen = list(dict.fromkeys(pool_holders[h % len(pool_holders)] for h in holders))
        batch = [(a, max(1, self.model.balance_of(a, sid) * p // 100)) for a, p in zip(chosen, parts)]
        note(f"decrease #{sid}: {[(self.name(a), u) for a, u in batch]}")
        self._expect("decrease capital", self.world.registrar, "decrease_capital", (sid, batch, doc("decrease")),
                     lambda: self.model.decrease_capital(sid, batch))
        self._touch(sid, chosen)

    @precondition(admin_turn)
    @precondition(lambda self: self.model.securities)
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

    @precondition(admin_turn)
    @precondition(lambda self: self.model.securities)
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
    @rule(days=st.integers(1, 3))
    def advance_days(self, days):
        note(f"advance {days} days")
        self.version += 1
        self.chain.increase_time(days * SECONDS_PER_DAY)
        self.model.advance_days(days)
        STATS["advance days"] += 1
        self._touched_today = True

    # ------------------------------------------------------------- transfers

    @precondition(lambda self: not admin_turn(self) and self._transfer_candidates())
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

    @precondition(lambda self: not admin_turn(self) and self._crowded_transfers())
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
    started = time.perf_counter()
    run_state_machine_as_test(Counted, settings=how)
    seconds = time.perf_counter() - started
    result = {"steps": counted["steps"], "operations": sum(STATS.values()),
              "transactions": world.backend.transactions - tx_before, "seconds": round(seconds, 2)}
    if not quiet:
        print(f"\n{world.backend.name}: {result['steps']} steps, {result['transactions']} transactions, "
              f"{seconds:.1f} s ({result['steps'] / seconds:.0f} steps/s)\n", dict(sorted(STATS.items())))
    return result
