"""Stateful (model-based) test of the register.

Random sequences of the registrar's and holders' operations run against the
deployed suite and against the plain-Python model (regchain.model) together.
Every operation's outcome is predicted by the model: it either passes on both,
or the model names the exact revert string and the contract must revert with
it (transfers are also previewed with `can_transfer`). After every step the
whole register of the pool is read back in one batched JSON-RPC request and
compared with the model: every holding (balance, paid-in, acquisition day,
lock-up, insider flag), every security (status, holder count, supply, ...),
every account, and the invariants (sum of balances = supply, holder count =
non-zero holders <= cap).

Each example runs from a chain snapshot taken when the machine starts and
restored at teardown: ape isolates tests, not hypothesis examples.

Quick profile: `ape test tests/test_stateful.py`; heavy: HYPOTHESIS_PROFILE=deep.
"""

from __future__ import annotations

from collections import Counter

import ape
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from conftest import doc
from regchain import calendar as cal
from regchain.constants import AccountStatus, InvestorClass, Kind, SecurityRole, SecurityStatus
from regchain.model import ZERO_ADDRESS, Calendar, RegisterModel, Refused

# ape test accounts[4..9] hold, send and receive
POOL = range(4, 10)
# at most this many securities per example, so transfers find holders
MAX_SECURITIES = 5
# keep the chain clock this far from local midnight, so "today" cannot roll
# over between the model's step and the contract's
SAFE_SECONDS_OF_DAY = 20 * 3600
SECONDS_PER_DAY = 86400

# operations run, by kind and outcome (printed at the end with -s)
STATS: Counter = Counter()


class Env:
    """The deployed register and the actors, handed to every machine."""

    def __init__(self, chain, register, registrar, governance, issuer_agent, accounts):
        self.chain = chain
        self.register = register
        self.registrar = registrar
        self.governance = governance
        self.issuer_agent = issuer_agent
        self.pool = [accounts[i] for i in POOL]
        self.by_address = {a.address.lower(): a for a in self.pool}
        w3 = chain.provider.web3
        self.w3 = w3
        # the same contract through web3, for batched reads
        abi = [item.model_dump(by_alias=True, mode="json") for item in register.contract_type.abi]
        self.reader = w3.eth.contract(address=register.address, abi=abi)
        # addresses without keys that only fill crowded securities up to their cap
        self.fillers = [
            w3.to_checksum_address(doc(f"filler-{i}")[-20:]) for i in range(50)
        ]


class RegisterMachine(RuleBasedStateMachine):
    """Base: setup, teardown, the per-step comparison with the model, helpers."""

    def __init__(self, env: Env):
        super().__init__()
        self.env = env
        self.reg = env.register
        self.snapshot = env.chain.snapshot()
        self._keep_clock_away_from_midnight()
        today = self.reg.today()
        epoch, horizon = self.reg.epoch_day(), self.reg.horizon_day()
        # conftest publishes every weekday of [epoch, horizon]
        calendar = Calendar(epoch, horizon, cal.weekdays(epoch, horizon))
        self.model = RegisterModel(today, calendar)
        assert self.reg.trading_day_number_of_day(today) == calendar.trading_day_number(today)
        self.fillers_opened: list[str] = []
        self.crowded: dict[int, list[str]] = {}  # security id -> filler holders

    def teardown(self):
        self.env.chain.restore(self.snapshot)

    def _keep_clock_away_from_midnight(self):
        chain, offset = self.env.chain, self.reg.UTC_OFFSET()
        local = chain.pending_timestamp + offset
        if local % SECONDS_PER_DAY > SAFE_SECONDS_OF_DAY:
            # move to 01:00 local time of the next day
            chain.pending_timestamp = local - local % SECONDS_PER_DAY + SECONDS_PER_DAY + 3600 - offset
            chain.mine()

    # ------------------------------------------------------------- helpers

    def _expect(self, name, model_op, chain_op):
        """Run `model_op` then `chain_op`: both pass, or the chain reverts with
        exactly the reason the model gives. Returns the reason or None."""
        try:
            model_op()
        except Refused as refusal:
            with ape.reverts(refusal.reason):
                chain_op()
            STATS[f"{name}: {refusal.reason}"] += 1
            event(f"{name}: {refusal.reason}")
            return refusal.reason
        chain_op()
        STATS[name] += 1
        event(name)
        return None

    def _pool_addresses(self, status=None):
        out = []
        for a in self.env.pool:
            st_ = self.model.account(a.address).status
            if status is None or st_ in status:
                out.append(a.address)
        return out

    def _securities(self, *statuses):
        return [i for i, s in self.model.securities.items() if not statuses or s.status in statuses]

    def _pool_holders(self, sid):
        return [a for a in self._pool_addresses() if self.model.balance_of(a, sid) > 0]

    def _account(self, address):
        return self.env.by_address[address.lower()]

    def _plausible_transfers(self):
        """(id, sender, receiver): an active security, an active holder, another
        active account."""
        active = self._pool_addresses({AccountStatus.ACTIVE})
        return [
            (sid, s, r)
            for sid in self._securities(SecurityStatus.ACTIVE)
            for s in active
            if self.model.balance_of(s, sid) > 0
            for r in active
            if r != s
        ]

    def _transfer_candidates(self):
        """Plausible transfers the model lets through for one unit."""
        return [c for c in self._plausible_transfers() if self.model.check_transfer(*c[1:], c[0], 1) is None]

    def _do_transfer(self, name, sender, receiver, sid, amount):
        """Preview, transfer (or its exact refusal), then read back what it touched."""
        expected = self.model.check_transfer(sender, receiver, sid, amount)
        preview = tuple(self.reg.can_transfer(sender, receiver, sid, amount))
        assert preview == (expected is None, expected or ""), (preview, expected)
        acct = self._account(sender)
        self._expect(
            name,
            lambda: self.model.transfer(sender, receiver, sid, amount),
            lambda: self.reg.transfer(receiver, sid, amount, sender=acct),
        )
        if expected is None:
            self._check_touched(sid, sender, receiver)

    def _check_touched(self, sid, *owners):
        """The holdings a step touched, the holder count and the supply of `sid`."""
        m, f = self.model, self.env.reader.functions
        calls = [f.holding(o, sid) for o in owners] + [f.holder_count(sid), f.totalSupply(sid)]
        with self.env.w3.batch_requests() as batch:
            for call in calls:
                batch.add(call)
            got = batch.execute()
        for o, h in zip(owners, got):
            assert tuple(h) == m.holding_view(o, sid), ("holding", o, sid, tuple(h), m.holding_view(o, sid))
        assert got[-2] == m.holder_count(sid), ("holder count", sid, got[-2], m.holder_count(sid))
        assert got[-1] == m.total_supply(sid), ("supply", sid, got[-1], m.total_supply(sid))

    def _open_fillers(self):
        if self.fillers_opened:
            return
        batch = [(f, doc(f"id:{f}"), int(InvestorClass.INDIVIDUAL), True) for f in self.env.fillers]
        self._expect(
            "open fillers",
            lambda: self.model.open_accounts(batch),
            lambda: self.reg.open_accounts(batch, doc("open"), sender=self.env.registrar),
        )
        self.fillers_opened = list(self.env.fillers)

    def _new_security(self, data, kind, holders, seal):
        today = self.model.today
        items = []
        for h in holders:
            units = data.draw(st.integers(1, 10_000), label="units")
            paid = data.draw(st.integers(0, units), label="paid") if kind == Kind.LLC else units
            acquired = today - data.draw(st.integers(0, 40), label="acquired days ago")
            lock_offset = data.draw(st.integers(-24, 8), label="lock offset")
            lock = today + lock_offset if lock_offset > 0 else 0
            insider = data.draw(st.integers(0, 5), label="insider") == 0
            items.append((h, units, paid, acquired, lock, insider))
        fillers = []
        if kind in (Kind.LLC, Kind.LP_FUND) and not self.crowded and data.draw(
            st.integers(0, 3), label="crowded"
        ) == 0:
            # fill the security up to its cap, or one short of it
            self._open_fillers()
            room = 50 - len(items) - data.draw(st.integers(0, 1), label="room")
            fillers = self.fillers_opened[:room]
            items += [(f, 100, 100, today - 30, 0, False) for f in fillers]
        code = doc(f"code-{self.model.security_count + 1}")
        total = sum(i[1] for i in items)
        reg, registrar = self.reg, self.env.registrar
        self._expect(
            "register security",
            lambda: self.model.register_security(code, kind, 0, total),
            lambda: reg.register_security(code, kind, 0, total, doc("registration"), sender=registrar),
        )
        sid = self.model.security_count
        assert reg.security_id(code) == sid
        reg.grant_security_role(sid, self.env.issuer_agent, SecurityRole.ISSUER_AGENT,
                                sender=self.env.governance)
        self._expect(
            "register holdings",
            lambda: self.model.register_holdings(sid, items),
            lambda: reg.register_holdings(sid, items, doc("holdings"), sender=registrar),
        )
        if fillers:
            self.crowded[sid] = fillers
        if seal:
            self._expect(
                "seal",
                lambda: self.model.seal_security(sid),
                lambda: reg.seal_security(sid, doc("seal"), sender=registrar),
            )

    # ------------------------------------------------------------- checks

    @invariant()
    def register_matches_model(self):
        """One batched read of everything the steps can touch, against the model."""
        m, f = self.model, self.env.reader.functions
        reads = []  # (what, key, call)
        pool = [a.address for a in self.env.pool]
        for a in pool:
            reads.append(("account", a, f.account_of(a)))
        reads.append(("today", None, f.today()))
        for sid in m.securities:
            reads.append(("security", sid, f.security(sid)))
            reads.append(("supply", sid, f.totalSupply(sid)))
            reads.append(("count", sid, f.holder_count(sid)))
            for a in pool + self.crowded.get(sid, []):
                reads.append(("holding", (a, sid), f.holding(a, sid)))
                if m.holding(a, sid).insider or m.insider_quota_of(a, sid) != (0, 0, 0):
                    reads.append(("quota", (a, sid), f.insider_quota_of(a, sid)))
        with self.env.w3.batch_requests() as batch:
            for _, _, call in reads:
                batch.add(call)
            results = batch.execute()
        assert len(results) == len(reads)

        sums: Counter = Counter()
        nonzero: Counter = Counter()
        for (what, key, _), got in zip(reads, results):
            got = tuple(got) if isinstance(got, (list, tuple)) else got
            if what == "account":
                assert got == m.account_view(key), (what, key, got, m.account_view(key))
            elif what == "today":
                assert got == m.today, ("today", got, m.today)
            elif what == "security":
                assert got == m.security_view(key), (what, key, got, m.security_view(key))
            elif what == "supply":
                assert got == m.total_supply(key), (what, key, got, m.total_supply(key))
            elif what == "count":
                assert got == m.holder_count(key), (what, key, got, m.holder_count(key))
            elif what == "holding":
                assert got == m.holding_view(*key), (what, key, got, m.holding_view(*key))
                sums[key[1]] += got[0]
                nonzero[key[1]] += got[0] > 0
            elif what == "quota":
                assert got == m.insider_quota_of(*key), (what, key, got, m.insider_quota_of(*key))

        by_key = {(w, k): g for (w, k, _), g in zip(reads, results)}
        for sid in m.securities:
            supply, count = by_key[("supply", sid)], by_key[("count", sid)]
            # only pool and filler addresses ever receive units
            assert sums[sid] == supply, ("sum of balances", sid, sums[sid], supply)
            assert nonzero[sid] == count, ("holder count", sid, nonzero[sid], count)
            assert count <= m.holder_cap(sid), ("holder cap", sid, count)


class RegisterRules(RegisterMachine):
    """The operations."""

    @initialize(data=st.data())
    def start(self, data):
        """Open a few accounts and register a first security."""
        pool = [a.address for a in self.env.pool]
        n = data.draw(st.integers(2, len(pool)), label="accounts")
        for a in pool[:n]:
            self._open(a, data.draw(st.integers(0, 4), label="unqualified") != 0)
        holders = data.draw(st.lists(st.sampled_from(pool[:n]), min_size=1, max_size=4, unique=True),
                            label="holders")
        self._new_security(data, data.draw(st.sampled_from(list(Kind)), label="kind"), holders, True)

    def _open(self, address, qualified):
        reg, registrar = self.reg, self.env.registrar
        self._expect(
            "open account",
            lambda: self.model.open_account(address, doc(f"id:{address}"), InvestorClass.INDIVIDUAL, qualified),
            lambda: reg.open_account(address, doc(f"id:{address}"), InvestorClass.INDIVIDUAL, qualified,
                                     doc("open"), sender=registrar),
        )

    # ------------------------------------------------------------- accounts

    @precondition(lambda self: self._pool_addresses({AccountStatus.UNOPENED}))
    @rule(data=st.data(), qualified=st.booleans())
    def open_account(self, data, qualified):
        address = data.draw(st.sampled_from(self._pool_addresses({AccountStatus.UNOPENED})))
        self._open(address, qualified)

    @precondition(lambda self: self._pool_addresses({AccountStatus.ACTIVE, AccountStatus.SUSPENDED}))
    @rule(data=st.data())
    def suspend_or_reactivate_account(self, data):
        address = data.draw(st.sampled_from(
            self._pool_addresses({AccountStatus.ACTIVE, AccountStatus.SUSPENDED})))
        reg, registrar = self.reg, self.env.registrar
        if self.model.account(address).status == AccountStatus.ACTIVE:
            self._expect("suspend account", lambda: self.model.suspend_account(address),
                         lambda: reg.suspend_account(address, doc("suspend"), sender=registrar))
        else:
            self._expect("reactivate account", lambda: self.model.reactivate_account(address),
                         lambda: reg.reactivate_account(address, doc("reactivate"), sender=registrar))

    @precondition(lambda self: self._pool_addresses({AccountStatus.ACTIVE, AccountStatus.SUSPENDED}))
    @rule(data=st.data())
    def set_qualified(self, data):
        address = data.draw(st.sampled_from(
            self._pool_addresses({AccountStatus.ACTIVE, AccountStatus.SUSPENDED})))
        qualified = not self.model.account(address).qualified
        reg, registrar = self.reg, self.env.registrar
        self._expect("set qualified", lambda: self.model.set_qualified(address, qualified),
                     lambda: reg.set_qualified(address, qualified, doc("qualified"), sender=registrar))

    # ------------------------------------------------------------- securities

    @precondition(lambda self: self.model.security_count < MAX_SECURITIES
                  and self._pool_addresses({AccountStatus.ACTIVE}))
    @rule(data=st.data(), kind=st.sampled_from(list(Kind)), seal=st.integers(0, 4))
    def new_security(self, data, kind, seal):
        holders = data.draw(st.lists(st.sampled_from(self._pool_addresses({AccountStatus.ACTIVE})),
                                     min_size=1, max_size=4, unique=True), label="holders")
        self._new_security(data, kind, holders, seal != 0)

    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED))
    @rule(data=st.data())
    def suspend_or_reactivate_security(self, data):
        sid = data.draw(st.sampled_from(self._securities(SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED)))
        status = (SecurityStatus.SUSPENDED if self.model.securities[sid].status == SecurityStatus.ACTIVE
                  else SecurityStatus.ACTIVE)
        reg, registrar = self.reg, self.env.registrar
        self._expect(f"security status {status.name}",
                     lambda: self.model.set_security_status(sid, status),
                     lambda: reg.set_security_status(sid, status, doc("status"), sender=registrar))

    @precondition(lambda self: self._securities(SecurityStatus.ACTIVE)
                  and self._pool_addresses({AccountStatus.ACTIVE}))
    @rule(data=st.data())
    def increase_capital(self, data):
        sid = data.draw(st.sampled_from(self._securities(SecurityStatus.ACTIVE)))
        m = self.model
        # existing holders, or qualified newcomers (the model still decides the cap)
        candidates = [a for a in self._pool_addresses({AccountStatus.ACTIVE})
                      if m.balance_of(a, sid) > 0 or m.account(a).qualified]
        if not candidates:
            candidates = self._pool_addresses({AccountStatus.ACTIVE})
        subscribers = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=2, unique=True))
        batch = []
        for a in subscribers:
            units = data.draw(st.integers(1, 5_000), label="units")
            batch.append((a, units, data.draw(st.integers(0, units), label="paid")))
        reg, registrar = self.reg, self.env.registrar
        self._expect("increase capital", lambda: m.increase_capital(sid, batch),
                     lambda: reg.increase_capital(sid, batch, doc("increase"), sender=registrar))

    @precondition(lambda self: any(self._pool_holders(s) for s in self._securities(SecurityStatus.ACTIVE)))
    @rule(data=st.data())
    def decrease_capital(self, data):
        sid = data.draw(st.sampled_from(
            [s for s in self._securities(SecurityStatus.ACTIVE) if self._pool_holders(s)]))
        holders = data.draw(st.lists(st.sampled_from(self._pool_holders(sid)), min_size=1, max_size=2,
                                     unique=True))
        batch = []
        for a in holders:
            balance = self.model.balance_of(a, sid)
            batch.append((a, data.draw(st.one_of(st.just(balance), st.integers(1, balance)), label="units")))
        reg, registrar = self.reg, self.env.registrar
        self._expect("decrease capital", lambda: self.model.decrease_capital(sid, batch),
                     lambda: reg.decrease_capital(sid, batch, doc("decrease"), sender=registrar))

    @precondition(lambda self: self.model.securities)
    @rule(data=st.data(), offset=st.integers(-16, 8))
    def set_lockup(self, data, offset):
        sid = data.draw(st.sampled_from(list(self.model.securities)))
        owner = data.draw(st.sampled_from(self._pool_holders(sid) or [a.address for a in self.env.pool]))
        lock = self.model.today + offset if offset > 0 else 0
        reg, registrar = self.reg, self.env.registrar
        self._expect("set lockup", lambda: self.model.set_lockup(owner, sid, lock),
                     lambda: reg.set_lockup(owner, sid, lock, doc("lockup"), sender=registrar))

    @precondition(lambda self: self.model.securities)
    @rule(data=st.data(), meeting=st.integers(-20, 40), record=st.integers(-10, 12))
    def set_register_closure(self, data, meeting, record):
        sid = data.draw(st.sampled_from(list(self.model.securities)))
        today = self.model.today
        meeting_day = today + meeting if meeting >= -2 else 0
        record_day = today + record if record >= -2 else 0
        reg, agent = self.reg, self.env.issuer_agent
        self._expect("register closure", lambda: self.model.set_register_closure(sid, meeting_day, record_day),
                     lambda: reg.set_register_closure(sid, meeting_day, record_day, doc("notice"), sender=agent))

    # ------------------------------------------------------------- clock

    @rule(days=st.integers(1, 3))
    def advance_days(self, days):
        chain = self.env.chain
        chain.pending_timestamp += days * SECONDS_PER_DAY
        chain.mine()
        self.model.advance_days(days)
        STATS["advance days"] += 1
        today = self.reg.today()
        assert today == self.model.today
        assert self.reg.trading_day_number_of_day(today) == self.model.calendar.trading_day_number(today)

    # ------------------------------------------------------------- transfers

    @precondition(lambda self: self._plausible_transfers())
    @rule(data=st.data(), n=st.integers(1, 4))
    def transfer(self, data, n):
        """A few transfers between active accounts by holders, mostly ones the
        model lets through for one unit. The amount (any part of the holding,
        or all of it) may still break the insider limit or the holder cap, and
        the rest meet the holding period, lock-ups, closures or qualification:
        the model says which."""
        for _ in range(n):
            passing = self._transfer_candidates()
            if passing and data.draw(st.integers(0, 4), label="try a refused one") != 0:
                candidates = passing
            else:
                candidates = self._plausible_transfers()
            if not candidates:
                break
            sid, sender, receiver = data.draw(st.sampled_from(candidates), label="transfer")
            balance = self.model.balance_of(sender, sid)
            amount = data.draw(st.one_of(st.just(balance), st.integers(1, balance)), label="amount")
            self._do_transfer("transfer", sender, receiver, sid, amount)

    def _crowded_transfers(self):
        return [c for c in self._plausible_transfers() if c[0] in self.crowded]

    @precondition(lambda self: self._crowded_transfers())
    @rule(data=st.data())
    def transfer_in_crowded_security(self, data):
        """Part of a holding of a security at (or one short of) its cap to
        another account: a newcomer may break the cap."""
        sid, sender, receiver = data.draw(st.sampled_from(self._crowded_transfers()), label="transfer")
        balance = self.model.balance_of(sender, sid)
        self._do_transfer("transfer", sender, receiver, sid, data.draw(st.integers(1, balance), label="amount"))

    @precondition(lambda self: self.model.securities)
    @rule(data=st.data(), n=st.integers(1, 3))
    def transfer_refused(self, data, n):
        """Any sender, receiver (zero, self, unopened ...), id and amount:
        mostly refused, for exactly the reason the model gives."""
        pool = [a.address for a in self.env.pool]
        for _ in range(n):
            sender = data.draw(st.sampled_from(pool), label="sender")
            receiver = data.draw(st.sampled_from(pool + [ZERO_ADDRESS, sender]), label="receiver")
            sid = data.draw(st.integers(0, self.model.security_count + 1), label="id")
            balance = self.model.balance_of(sender, sid)
            amount = data.draw(st.sampled_from(sorted({0, 1, balance, balance + 1, 2 * balance + 3})),
                               label="amount")
            self._do_transfer("any transfer", sender, receiver, sid, amount)


def test_register_state_machine(chain, register, registrar, governance, issuer_agent, accounts):
    env = Env(chain, register, registrar, governance, issuer_agent, accounts)
    STATS.clear()
    run_state_machine_as_test(lambda: RegisterRules(env))
    print("\nstateful operations:", sum(STATS.values()), dict(sorted(STATS.items())))
    # the machine must exercise transfers both ways, not only setup
    assert STATS["transfer"] > 0
