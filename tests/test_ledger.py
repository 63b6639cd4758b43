"""The ledger (ledger.vy): securities, initial registration, every transfer rule (each refusal
previewed by `can_transfer` with the exact reason the transfer reverts with), ERC-6909,
capital changes, paid-in capital and lost-key recovery."""

from __future__ import annotations

import datetime as dt

import ape
import pytest
from eth_utils import to_checksum_address

from conftest import CALENDAR_AHEAD_DAYS, doc, events, wallet
from regchain.testing.model import months_later
from regchain import calendar as cal
from regchain.constants import (
    AMOUNT_MAX, HOLDER_CAP, HOLDING_PERIOD_TRADING_DAYS, MAX_BATCH, TRANSFER_REASONS,
    AccountStatus, Kind, SecurityStatus, holding_words,
)

ZERO = "0x0000000000000000000000000000000000000000"
MAX_UINT = 2**256 - 1
NEW_KEY = "0x000000000000000000000000000000000000bEEF"  # a recovery target with no account
R = {reason.removeprefix("ledger: "): reason for reason in TRANSFER_REASONS}


@pytest.fixture(scope="module")
def crowd(register, registrar, today, advance_days, open_account, new_security):
    """200 active, qualified custody accounts that never sign (for holder caps)."""
    wallets = [wallet(i, 0x5EC0) for i in range(MAX_BATCH)]
    register.open_accounts([(w, doc(f"crowd-{w}"), 1, True) for w in wallets], doc("crowd"), sender=registrar)
    return wallets


@pytest.fixture(scope="module")
def jsc(register, crowd, alice, bob, carol, dave, open_account, new_security):
    """A sealed JSC: alice and bob hold 1000 each, acquired 60 days ago; carol and dave have
    active, qualified accounts and no holding."""
    for who in (alice, bob, carol, dave):
        open_account(who)
    return new_security([(alice, 1000), (bob, 1000)])


@pytest.fixture(scope="module")
def llc(jsc, alice, bob, new_security, register, registrar):
    """A sealed LLC: alice 1000 units of which 600 paid in, bob 500 fully paid. Its
    articles waive the right of first refusal (Company Law art 84 allows it), so
    transfers to outsiders need no notice here (tests/test_instructions*.py cover it)."""
    sid = new_security([(alice, 1000, 600), (bob, 500, 500)], kind=Kind.LLC)
    return _waive_first_refusal(register, sid, registrar)


@pytest.fixture(scope="module")
def full_llc(jsc, crowd, alice, new_security, register, registrar):
    """An LLC at its cap: alice 100 and 49 custody accounts 10 each (first refusal waived)."""
    sid = new_security([(alice, 100)] + [(w, 10) for w in crowd[:49]], kind=Kind.LLC)
    return _waive_first_refusal(register, sid, registrar)


def _waive_first_refusal(register, sid, registrar):
    register.set_transfer_terms(sid, False, False, 0, doc("articles"), sender=registrar)
    return sid


@pytest.fixture(scope="module", autouse=True)
def _module_state(crowd, jsc, llc, full_llc):
    """Set every module fixture up before the first test, so ape snapshots the module once."""


def refused(register, sender, receiver, sid, amount, reason, caller=None):
    """can_transfer previews exactly the reason the transfer then reverts with."""
    who = getattr(sender, "address", sender)
    to = getattr(receiver, "address", receiver)
    assert register.can_transfer(who, to, sid, amount) == (False, reason)
    with ape.reverts(reason):
        if caller is None:
            register.transfer(to, sid, amount, sender=sender)
        else:
            register.transferFrom(who, to, sid, amount, sender=caller)


def accepted(register, sender, receiver, sid, amount, caller=None):
    who = getattr(sender, "address", sender)
    to = getattr(receiver, "address", receiver)
    assert register.can_transfer(who, to, sid, amount) == (True, "")
    if caller is None:
        return register.transfer(to, sid, amount, sender=sender)
    return register.transferFrom(who, to, sid, amount, sender=caller)


def holding(register, owner, sid):
    h = register.holding(owner, sid)
    return (h.balance, h.paid, h.acquired_trading_day, h.lock_until_day, h.insider)


def tn(register, day):
    return register.trading_day_number_of_day(day)


# ---------------------------------------------------------------- register_security


def test_register_security__assigns_ids_and_logs(register, registrar, jsc):
    count = register.security_count()
    first = register.register_security(doc("code-a"), Kind.LLC, 2, 5_000, doc("reg-a"), sender=registrar)
    second = register.register_security(doc("code-b"), Kind.CONTRACT_FUND, 0, 7, doc("reg-b"), sender=registrar)

    assert events(first, register.SecurityRegistered) == [{
        "id": count + 1, "code_hash": doc("code-a"), "kind": Kind.LLC, "unit_scale": 2,
        "declared_total": 5_000, "actor": registrar.address, "doc": doc("reg-a"),
    }]
    assert events(second, register.SecurityRegistered)[0]["id"] == count + 2
    assert register.security_count() == count + 2
    assert register.security_id(doc("code-a")) == count + 1
    assert register.code_hash_of(count + 2) == doc("code-b")
    view = register.security(count + 1)
    assert (view.status, view.kind, view.unit_scale, view.holder_count, view.holder_cap, view.meeting_day,
            view.record_day, view.total_supply, view.declared_total, view.code_hash) == (
        SecurityStatus.PENDING, Kind.LLC, 2, 0, 50, 0, 0, 0, 5_000, doc("code-a"))


@pytest.mark.parametrize("kind", list(Kind), ids=lambda k: k.name)
def test_holder_cap__per_kind(register, registrar, kind):
    register.register_security(doc(f"cap-{kind}"), kind, 0, 1, doc("reg"), sender=registrar)
    assert register.holder_cap(register.security_id(doc(f"cap-{kind}"))) == HOLDER_CAP[kind]


def test_holder_cap__unknown_security_is_zero(register):
    assert register.holder_cap(10_000) == 0


def test_register_security__max_unit_scale_accepted(register, registrar):
    register.register_security(doc("scale-18"), Kind.JSC, 18, AMOUNT_MAX, doc("reg"), sender=registrar)
    assert register.security(register.security_id(doc("scale-18"))).unit_scale == 18


@pytest.mark.parametrize(
    "code,kind,scale,total,reason",
    [
        ("dup", Kind.JSC, 0, 100, "registration: security code already registered"),
        ("k0", 0, 0, 100, "registration: unknown kind"),
        ("k5", 5, 0, 100, "registration: unknown kind"),
        ("s19", Kind.JSC, 19, 100, "registration: unit scale too large"),
        (None, Kind.JSC, 0, 100, "registration: zero code hash"),
        ("t0", Kind.JSC, 0, 0, "registration: zero amount"),
        ("big", Kind.JSC, 0, AMOUNT_MAX + 1, "registration: amount too large"),
    ],
    ids=["duplicate-code", "kind-0", "kind-5", "scale-19", "zero-code", "zero-total", "total-too-large"],
)
def test_register_security__invalid__reverts(register, registrar, code, kind, scale, total, reason):
    register.register_security(doc("dup"), Kind.JSC, 0, 100, doc("reg"), sender=registrar)
    code_hash = b"\x00" * 32 if code is None else doc(code)

    with ape.reverts(reason):
        register.register_security(code_hash, kind, scale, total, doc("reg"), sender=registrar)


# ------------------------------------------------------------------ register_holdings


@pytest.fixture
def pending(register, registrar):
    """register_pending(kind, declared_total) -> id of a PENDING security."""
    def _new(kind=Kind.JSC, total=10_000):
        code = doc(f"pending-{register.security_count()}")
        register.register_security(code, kind, 0, total, doc("reg"), sender=registrar)
        return register.security_id(code)
    return _new


@pytest.mark.parametrize("kind", [Kind.LLC, Kind.JSC], ids=lambda k: k.name)
def test_register_holdings__writes_holdings_and_logs(register, registrar, jsc, alice, bob, today, pending, kind):
    sid = pending(kind)
    batch = [(alice.address, 600, 200, today - 30, today + 10, True),
             (bob.address, 400, 400, today, 0, False)]

    receipt = register.register_holdings(sid, batch, doc("holdings"), sender=registrar)

    paid_alice = 200 if kind == Kind.LLC else 600
    assert events(receipt, register.Issued) == [
        {"receiver": alice.address, "id": sid, "amount": 600, "paid": paid_alice, "acquired_day": today - 30},
        {"receiver": bob.address, "id": sid, "amount": 400, "paid": 400, "acquired_day": today},
    ]
    # the rarer terms have their own events, only where set
    assert events(receipt, register.LockupSet) == [
        {"owner": alice.address, "id": sid, "lock_until_day": today + 10, "actor": registrar.address,
         "doc": doc("holdings")}
    ]
    assert events(receipt, register.InsiderSet) == [
        {"owner": alice.address, "id": sid, "insider": True, "actor": registrar.address, "doc": doc("holdings")}
    ]
    assert events(receipt, register.HoldingsRegistered) == [
        {"id": sid, "holdings": 2, "units": 1000, "actor": registrar.address, "doc": doc("holdings")}
    ]
    assert holding(register, alice, sid) == (600, paid_alice, tn(register, today - 30), today + 10, True)
    assert holding(register, bob, sid) == (400, 400, tn(register, today), 0, False)
    assert (register.totalSupply(sid), register.holder_count(sid)) == (1000, 2)
    assert register.security(sid).status == SecurityStatus.PENDING


def test_register_holdings__several_batches_add_up(register, registrar, jsc, alice, bob, today, pending):
    sid = pending(Kind.JSC, 1000)
    register.register_holdings(sid, [(alice.address, 600, 600, today, 0, False)], doc("h1"), sender=registrar)
    register.register_holdings(sid, [(bob.address, 400, 400, today, 0, False)], doc("h2"), sender=registrar)

    assert (register.totalSupply(sid), register.holder_count(sid)) == (1000, 2)


def test_register_holdings__already_registered__reverts(register, registrar, jsc, alice, today, pending):
    sid = pending()
    register.register_holdings(sid, [(alice.address, 10, 10, today, 0, False)], doc("h"), sender=registrar)

    with ape.reverts("registration: holding already registered"):
        register.register_holdings(sid, [(alice.address, 10, 10, today, 0, False)], doc("h"), sender=registrar)


def test_register_holdings__holder_twice_in_batch__reverts(register, registrar, jsc, alice, today, pending):
    sid = pending()
    with ape.reverts("registration: holding already registered"):
        register.register_holdings(sid, [(alice.address, 10, 10, today, 0, False)] * 2, doc("h"), sender=registrar)


def test_register_holdings__exceeds_declared_total__reverts(register, registrar, jsc, alice, bob, today, pending):
    sid = pending(Kind.JSC, 100)
    register.register_holdings(sid, [(alice.address, 60, 60, today, 0, False)], doc("h"), sender=registrar)

    with ape.reverts("registration: exceeds declared total"):
        register.register_holdings(sid, [(bob.address, 41, 41, today, 0, False)], doc("h"), sender=registrar)


def test_register_holdings__llc_cap_50_holders(register, registrar, crowd, jsc, alice, today, pending):
    sid = pending(Kind.LLC)
    register.register_holdings(sid, [(w, 1, 1, today, 0, False) for w in crowd[:50]], doc("h"), sender=registrar)
    assert register.holder_count(sid) == 50

    with ape.reverts("registration: holder cap reached"):
        register.register_holdings(sid, [(alice.address, 1, 1, today, 0, False)], doc("h"), sender=registrar)


def test_register_holdings__llc_51_in_one_batch__reverts(register, registrar, crowd, jsc, today, pending):
    sid = pending(Kind.LLC)
    with ape.reverts("registration: holder cap reached"):
        # .call: the same execution as an eth_call; ape would trace the failed transaction (~30 s)
        register.register_holdings.call(sid, [(w, 1, 1, today, 0, False) for w in crowd[:51]], doc("h"),
                                        sender=registrar)


def test_register_holdings__jsc_cap_200_holders(register, registrar, crowd, jsc, alice, today, pending):
    sid = pending(Kind.JSC)
    register.register_holdings(sid, [(w, 1, 1, today, 0, False) for w in crowd], doc("h"), sender=registrar)
    assert register.holder_count(sid) == 200

    with ape.reverts("registration: holder cap reached"):
        register.register_holdings(sid, [(alice.address, 1, 1, today, 0, False)], doc("h"), sender=registrar)


@pytest.mark.parametrize("state", ["unopened", "suspended", "closed"])
def test_register_holdings__holder_account_not_active__reverts(
    register, registrar, jsc, carol, outsider, today, pending, state
):
    sid = pending()
    holder = outsider if state == "unopened" else carol
    if state == "suspended":
        register.suspend_account(carol, doc("s"), sender=registrar)
    elif state == "closed":
        register.close_account(carol, doc("c"), sender=registrar)

    with ape.reverts("registration: holder account not active"):
        register.register_holdings(sid, [(holder.address, 10, 10, today, 0, False)], doc("h"), sender=registrar)


# Invalid items both holdings functions refuse alike: (holder, units, paid, acquired
# day - today, lock-up day, insider), reason
INVALID_ITEMS = [
    pytest.param(("alice", 10, 11, 0, 0, False), "registration: paid exceeds units", id="paid-exceeds-units"),
    pytest.param(("alice", 10, 10, 1, 0, False), "registration: acquired in the future", id="acquired-tomorrow"),
    pytest.param(("zero", 10, 10, 0, 0, False), "registration: zero address", id="zero-address"),
    pytest.param(("alice", 0, 0, 0, 0, False), "registration: zero amount", id="zero-units"),
]


@pytest.mark.parametrize("item,reason", INVALID_ITEMS + [
    pytest.param(("alice", AMOUNT_MAX + 1, 0, 0, 0, False), "registration: amount too large", id="units-too-large"),
    pytest.param(("alice", 10, 10, 0, 2**24, False), "registration: day out of range", id="lock-day"),
])
def test_register_holdings__invalid_item__reverts(register, registrar, jsc, alice, today, pending, item, reason):
    sid = pending(Kind.LLC)
    who, units, paid, day_offset, lock, insider = item
    holder = ZERO if who == "zero" else alice.address

    with ape.reverts(reason):
        register.register_holdings(sid, [(holder, units, paid, today + day_offset, lock, insider)], doc("h"),
                                   sender=registrar)


def test_register_holdings__batch_too_large__reverts(register, registrar, crowd, jsc, alice, today, pending):
    sid = pending()
    batch = [(w, 1, 1, today, 0, False) for w in crowd] + [(alice.address, 1, 1, today, 0, False)]
    with ape.reverts("registration: batch too large"):
        register.register_holdings.call(sid, batch, doc("h"), sender=registrar)  # .call: see above


def test_register_holdings__empty_batch__reverts(register, registrar, jsc, pending):
    with ape.reverts("registration: empty batch"):
        register.register_holdings(pending(), [], doc("h"), sender=registrar)


def test_register_holdings__sealed__reverts(register, registrar, jsc, carol, today):
    with ape.reverts("registration: security already sealed"):
        register.register_holdings(jsc, [(carol.address, 1, 1, today, 0, False)], doc("h"), sender=registrar)


def test_register_holdings__unknown_security__reverts(register, registrar, jsc, carol, today):
    with ape.reverts("registration: unknown security"):
        register.register_holdings(10_000, [(carol.address, 1, 1, today, 0, False)], doc("h"), sender=registrar)


# ------------------------------------------------------------ register_holdings_many
# The migration's batch of holdings of several pending securities: each item as
# register_holdings writes it (same rules, same events), a HoldingsRegistered per run
# of consecutive items of one security. Items are HoldingWords (key, terms), built
# from (id, holder, units, paid, acquired_day, lock_until_day, insider).


def words(items):
    """HoldingWords of (id, holder, units, paid, acquired_day, lock_until_day, insider) items."""
    return [holding_words(*item) for item in items]


def raw_words(sid, holder, units, paid, acquired_day, lock_until_day, insider):
    """HoldingWords built without holding_words' range checks: a term too wide for its
    field spills into the next field or above bit 240."""
    key = (int(holder, 16) << 96) | sid
    return key, units | (paid << 96) | (acquired_day << 192) | (lock_until_day << 216) | (int(insider) << 240)


def _many(sid_of, rows):
    return words([(sid_of[key],) + tuple(item) for key, item in rows])


def _effects(register, receipt, sids, holders):
    """What a registration did, with security ids replaced by their position in `sids`."""
    pos = {sid: i for i, sid in enumerate(sids)}

    def renumber(rows):
        return [dict(r, id=pos[r["id"]]) for r in rows]

    return {
        "Issued": renumber(events(receipt, register.Issued)),
        "LockupSet": renumber(events(receipt, register.LockupSet)),
        "InsiderSet": renumber(events(receipt, register.InsiderSet)),
        "holdings": [[holding(register, who, sid) for who in holders] for sid in sids],
        "supply": [(register.totalSupply(sid), register.holder_count(sid), register.security(sid).status)
                   for sid in sids],
    }


def test_register_holdings_many__same_effects_as_register_holdings(
    register, registrar, jsc, alice, bob, carol, today, pending
):
    a = [(alice.address, 600, 200, today - 30, today + 10, True), (bob.address, 400, 400, today, 0, False)]
    b = [(bob.address, 70, 70, today - 400, 0, True), (carol.address, 30, 30, today - 30, today + 99, False)]
    one = [pending(Kind.LLC, 1000), pending(Kind.JSC, 100)]
    r1 = register.register_holdings(one[0], a, doc("holdings"), sender=registrar)
    r2 = register.register_holdings(one[1], b, doc("holdings"), sender=registrar)
    many = [pending(Kind.LLC, 1000), pending(Kind.JSC, 100)]

    receipt = register.register_holdings_many(
        _many(many, [(0, r) for r in a] + [(1, r) for r in b]), doc("holdings"), sender=registrar)

    holders = (alice, bob, carol)
    separate = _effects(register, r1, one, holders)
    for key, value in _effects(register, r2, one, holders).items():
        if key in ("Issued", "LockupSet", "InsiderSet"):
            separate[key] += value
    assert _effects(register, receipt, many, holders) == separate
    assert events(receipt, register.HoldingsRegistered) == [
        {"id": many[0], "holdings": 2, "units": 1000, "actor": registrar.address, "doc": doc("holdings")},
        {"id": many[1], "holdings": 2, "units": 100, "actor": registrar.address, "doc": doc("holdings")},
    ]


def test_register_holdings_many__interleaved_securities__each_run_logged_and_all_add_up(
    register, registrar, crowd, jsc, today, pending
):
    s = [pending(Kind.JSC, 60), pending(Kind.LLC, 30), pending(Kind.JSC, 5)]
    w = crowd
    rows = [(0, w[0], 10), (1, w[0], 10), (0, w[1], 20), (2, w[2], 5), (1, w[1], 20), (0, w[2], 30)]
    batch = [(s[k], who, units, units, today - 60, 0, False) for k, who, units in rows]

    receipt = register.register_holdings_many(words(batch), doc("holdings"), sender=registrar)

    assert [(e["id"], e["holdings"], e["units"]) for e in events(receipt, register.HoldingsRegistered)] == [
        (s[k], 1, units) for k, _, units in rows]
    assert [(register.totalSupply(x), register.holder_count(x)) for x in s] == [(60, 3), (30, 2), (5, 1)]
    assert [register.balanceOf(who, s[k]) for k, who, _ in rows] == [units for _, _, units in rows]
    for x in s:  # each adds up to its declared total
        register.seal_security(x, doc("seal"), sender=registrar)
        assert register.security(x).status == SecurityStatus.ACTIVE


def test_register_holdings_many__continues_a_security_of_an_earlier_batch(
    register, registrar, jsc, alice, bob, today, pending
):
    sid = pending(Kind.JSC, 1000)
    register.register_holdings(sid, [(alice.address, 600, 600, today, 0, False)], doc("h1"), sender=registrar)
    register.register_holdings_many(words([(sid, bob.address, 400, 400, today, 0, False)]), doc("h2"),
                                    sender=registrar)

    assert (register.totalSupply(sid), register.holder_count(sid)) == (1000, 2)


@pytest.mark.parametrize(
    "which,reason",
    [("unknown", "registration: unknown security"), ("zero", "registration: unknown security"),
     ("sealed", "registration: security already sealed")],
)
def test_register_holdings_many__item_of_an_unknown_or_sealed_security__reverts_whole_batch(
    register, registrar, jsc, alice, bob, today, pending, which, reason
):
    sid = pending()
    bad = {"unknown": 10_000, "zero": 0, "sealed": jsc}[which]
    batch = [(sid, alice.address, 10, 10, today, 0, False), (bad, bob.address, 10, 10, today, 0, False)]

    with ape.reverts(reason):
        register.register_holdings_many.call(words(batch), doc("h"), sender=registrar)


def test_register_holdings_many__holder_twice_in_one_security__reverts(
    register, registrar, jsc, alice, bob, today, pending
):
    s1, s2 = pending(), pending()
    batch = [(s1, alice.address, 10, 10, today, 0, False), (s2, alice.address, 10, 10, today, 0, False),
             (s1, bob.address, 10, 10, today, 0, False), (s1, alice.address, 10, 10, today, 0, False)]
    with ape.reverts("registration: holding already registered"):
        register.register_holdings_many.call(words(batch), doc("h"), sender=registrar)

    # the same holder in two securities is two holdings
    register.register_holdings_many(words(batch[:3]), doc("h"), sender=registrar)
    assert (register.balanceOf(alice, s1), register.balanceOf(alice, s2)) == (10, 10)


def test_register_holdings_many__exceeds_declared_total_over_two_runs__reverts(
    register, registrar, jsc, alice, bob, today, pending
):
    s1, s2 = pending(Kind.JSC, 100), pending()
    batch = [(s1, alice.address, 60, 60, today, 0, False), (s2, alice.address, 10, 10, today, 0, False),
             (s1, bob.address, 41, 41, today, 0, False)]
    with ape.reverts("registration: exceeds declared total"):
        register.register_holdings_many.call(words(batch), doc("h"), sender=registrar)


def test_register_holdings_many__llc_cap_over_two_runs__reverts(
    register, registrar, crowd, jsc, today, pending
):
    llc, other = pending(Kind.LLC), pending()
    batch = ([(llc, w, 1, 1, today, 0, False) for w in crowd[:30]] + [(other, crowd[0], 1, 1, today, 0, False)]
             + [(llc, w, 1, 1, today, 0, False) for w in crowd[30:50]])
    register.register_holdings_many.call(words(batch), doc("h"), sender=registrar)  # 50: the cap, accepted

    with ape.reverts("registration: holder cap reached"):
        # .call: see test_register_holdings__llc_51_in_one_batch__reverts
        register.register_holdings_many.call(words(batch + [(llc, crowd[50], 1, 1, today, 0, False)]), doc("h"),
                                             sender=registrar)


@pytest.mark.parametrize("item,reason", INVALID_ITEMS + [
    # units of 2**96 spill into paid (then units 0)
    pytest.param(("alice", AMOUNT_MAX + 1, 0, 0, 0, False), "registration: zero amount", id="units-spill"),
    # a lock-up day of 2**25 spills above the insider bit: rejected
    pytest.param(("alice", 10, 10, 0, 2**25, False), "registration: holding terms out of range", id="lock-day-spill"),
    pytest.param(("alice", 10, 10, 0, 0, 2), "registration: holding terms out of range", id="bit-241"),
    pytest.param(("outsider", 10, 10, 0, 0, False), "registration: holder account not active", id="no-account"),
])
def test_register_holdings_many__invalid_item__reverts(
    register, registrar, jsc, alice, bob, outsider, today, pending, item, reason
):
    s1, s2 = pending(), pending(Kind.LLC)
    who, units, paid, day_offset, lock, insider = item
    holder = {"zero": ZERO, "alice": alice.address, "outsider": outsider.address}[who]
    batch = [holding_words(s1, bob.address, 10, 10, today, 0, False),
             raw_words(s2, holder, units, paid, today + day_offset, lock, insider)]

    with ape.reverts(reason):
        register.register_holdings_many.call(batch, doc("h"), sender=registrar)


def test_register_holdings_many__batch_too_large__reverts(register, registrar, crowd, jsc, alice, today, pending):
    s1, s2 = pending(), pending()
    batch = [(s1, w, 1, 1, today, 0, False) for w in crowd] + [(s2, alice.address, 1, 1, today, 0, False)]
    with ape.reverts("registration: batch too large"):
        register.register_holdings_many.call(words(batch), doc("h"), sender=registrar)  # .call: see above
    register.register_holdings_many.call(words(batch[:MAX_BATCH]), doc("h"), sender=registrar)  # MAX_BATCH: accepted


def test_register_holdings_many__empty_batch__reverts(register, registrar, jsc):
    with ape.reverts("registration: empty batch"):
        register.register_holdings_many.call([], doc("h"), sender=registrar)


def test_register_holdings_many__paused__reverts(register, registrar, governance, jsc, alice, today, pending):
    sid = pending()
    register.pause(doc("halt"), sender=governance)
    with ape.reverts("registration: paused"):
        register.register_holdings_many.call(words([(sid, alice.address, 1, 1, today, 0, False)]), doc("h"),
                                             sender=registrar)


# ------------------------------------------------------------------------------ seal


def test_seal_security__activates_and_logs(register, registrar, jsc, alice, today, pending):
    sid = pending(Kind.JSC, 100)
    register.register_holdings(sid, [(alice.address, 100, 100, today, 0, False)], doc("h"), sender=registrar)

    receipt = register.seal_security(sid, doc("seal"), sender=registrar)

    assert events(receipt, register.SecuritySealed) == [
        {"id": sid, "total_supply": 100, "actor": registrar.address, "doc": doc("seal")}
    ]
    assert register.security(sid).status == SecurityStatus.ACTIVE


def test_seal_security__short_of_declared_total__reverts(register, registrar, jsc, alice, today, pending):
    sid = pending(Kind.JSC, 100)
    register.register_holdings(sid, [(alice.address, 99, 99, today, 0, False)], doc("h"), sender=registrar)

    with ape.reverts("registration: holdings do not add up to the declared total"):
        register.seal_security(sid, doc("seal"), sender=registrar)


def test_seal_security__twice__reverts(register, registrar, jsc):
    with ape.reverts("registration: security already sealed"):
        register.seal_security(jsc, doc("seal"), sender=registrar)


def test_seal_security__unknown__reverts(register, registrar, jsc):
    with ape.reverts("registration: unknown security"):
        register.seal_security(10_000, doc("seal"), sender=registrar)


# ------------------------------------------------------------------- security status


def test_set_security_status__suspend_reactivate_delist(register, registrar, jsc):
    for status in (SecurityStatus.SUSPENDED, SecurityStatus.ACTIVE, SecurityStatus.DELISTED):
        receipt = register.set_security_status(jsc, status, doc(f"status-{status}"), sender=registrar)
        assert events(receipt, register.SecurityStatusChanged) == [
            {"id": jsc, "status": status, "actor": registrar.address, "doc": doc(f"status-{status}")}
        ]
        assert register.security(jsc).status == status


@pytest.mark.parametrize("status", [0, 1, 5], ids=["none", "pending", "beyond"])
def test_set_security_status__invalid__reverts(register, registrar, jsc, status):
    with ape.reverts("corporate_actions: invalid status"):
        register.set_security_status(jsc, status, doc("s"), sender=registrar)


def test_set_security_status__unchanged__reverts(register, registrar, jsc):
    with ape.reverts("corporate_actions: status unchanged"):
        register.set_security_status(jsc, SecurityStatus.ACTIVE, doc("s"), sender=registrar)


@pytest.mark.parametrize("status", [SecurityStatus.ACTIVE, SecurityStatus.SUSPENDED])
def test_set_security_status__delisting_is_final__reverts(register, registrar, jsc, status):
    register.set_security_status(jsc, SecurityStatus.DELISTED, doc("d"), sender=registrar)

    with ape.reverts("corporate_actions: security delisted"):
        register.set_security_status(jsc, status, doc("s"), sender=registrar)


def test_set_security_status__pending__reverts(register, registrar, jsc, pending):
    with ape.reverts("corporate_actions: security not sealed"):
        register.set_security_status(pending(), SecurityStatus.SUSPENDED, doc("s"), sender=registrar)


def test_set_security_status__unknown__reverts(register, registrar, jsc):
    with ape.reverts("corporate_actions: unknown security"):
        register.set_security_status(10_000, SecurityStatus.SUSPENDED, doc("s"), sender=registrar)


# ---------------------------------------------------------------- transfer: accepted


def test_transfer__moves_units_and_logs(register, jsc, alice, bob, today):
    receipt = accepted(register, alice, bob, jsc, 300)

    assert events(receipt, register.Transfer) == [
        {"caller": alice.address, "sender": alice.address, "receiver": bob.address, "id": jsc, "amount": 300}
    ]
    assert (register.balanceOf(alice, jsc), register.balanceOf(bob, jsc)) == (700, 1300)
    assert (register.totalSupply(jsc), register.holder_count(jsc)) == (2000, 2)


def test_transfer__receiver_acquisition_day_is_today(register, jsc, alice, bob, carol, today):
    accepted(register, alice, carol, jsc, 100)
    accepted(register, bob, alice, jsc, 100)  # adds to an existing holding: the whole holding restarts

    assert register.holding(carol, jsc).acquired_trading_day == tn(register, today)
    assert register.holding(alice, jsc).acquired_trading_day == tn(register, today)
    refused(register, carol, bob, jsc, 1, R["holding period not met"])
    refused(register, alice, bob, jsc, 1, R["holding period not met"])


def test_transfer__returns_true(register, jsc, alice, bob):
    assert register.transfer.call(bob, jsc, 1, sender=alice) is True


# --------------------------------------------------------------- transfer: refusals


def test_transfer__zero_amount__reverts(register, jsc, alice, bob):
    refused(register, alice, bob, jsc, 0, R["zero amount"])


def test_transfer__zero_address__reverts(register, jsc, alice):
    refused(register, alice, ZERO, jsc, 1, R["zero address"])


def test_transfer__self__reverts(register, jsc, alice):
    refused(register, alice, alice, jsc, 1, R["self transfer"])


def test_transfer__unknown_security__reverts(register, jsc, alice, bob):
    refused(register, alice, bob, 10_000, 1, R["unknown security"])


def test_transfer__pending_security__reverts(register, jsc, alice, bob, new_security):
    sid = new_security([(alice, 100), (bob, 100)], seal=False)
    refused(register, alice, bob, sid, 1, R["security not sealed"])


def test_transfer__suspended_security__reverts_until_reactivated(register, registrar, jsc, alice, bob):
    register.set_security_status(jsc, SecurityStatus.SUSPENDED, doc("s"), sender=registrar)
    refused(register, alice, bob, jsc, 1, R["security suspended"])

    register.set_security_status(jsc, SecurityStatus.ACTIVE, doc("r"), sender=registrar)
    accepted(register, alice, bob, jsc, 1)


def test_transfer__delisted_security__reverts(register, registrar, jsc, alice, bob):
    register.set_security_status(jsc, SecurityStatus.DELISTED, doc("d"), sender=registrar)
    refused(register, alice, bob, jsc, 1, R["security delisted"])


def test_transfer__paused__reverts(register, governance, jsc, alice, bob):
    register.pause(doc("halt"), sender=governance)
    refused(register, alice, bob, jsc, 1, R["paused"])


def test_transfer__beyond_published_calendar__reverts(register, jsc, alice, bob, advance_days):
    advance_days(CALENDAR_AHEAD_DAYS + 1)
    refused(register, alice, bob, jsc, 1, R["calendar not published for today"])


@pytest.mark.parametrize("state", ["suspended", "closed"])
def test_transfer__sender_account_not_active__reverts(register, registrar, jsc, alice, bob, state):
    getattr(register, f"{'suspend' if state == 'suspended' else 'close'}_account")(alice, doc("x"), sender=registrar)
    refused(register, alice, bob, jsc, 1, R["sender account not active"])


def test_transfer__sender_without_account__reverts(register, jsc, outsider, bob):
    refused(register, outsider, bob, jsc, 1, R["sender account not active"])


def test_transfer__sender_reactivated__accepted(register, registrar, jsc, alice, bob):
    register.suspend_account(alice, doc("s"), sender=registrar)
    register.reactivate_account(alice, doc("r"), sender=registrar)
    accepted(register, alice, bob, jsc, 1)


@pytest.mark.parametrize("state", ["unopened", "suspended", "closed"])
def test_transfer__receiver_account_not_active__reverts(register, registrar, jsc, alice, bob, outsider, state):
    receiver = outsider if state == "unopened" else bob
    if state == "suspended":
        register.suspend_account(bob, doc("s"), sender=registrar)
    elif state == "closed":
        register.close_account(bob, doc("c"), sender=registrar)
    refused(register, alice, receiver, jsc, 1, R["receiver account not active"])


def test_transfer__receiver_not_qualified__reverts_until_qualified(register, registrar, jsc, alice, carol):
    register.set_qualified(carol, False, doc("q"), sender=registrar)
    refused(register, alice, carol, jsc, 1, R["receiver not qualified"])

    register.set_qualified(carol, True, doc("q"), sender=registrar)
    accepted(register, alice, carol, jsc, 1)


def test_transfer__unqualified_existing_holder_also_refused(register, registrar, jsc, alice, bob):
    register.set_qualified(bob, False, doc("q"), sender=registrar)
    refused(register, alice, bob, jsc, 1, R["receiver not qualified"])


@pytest.mark.parametrize("amount", [1001, 2**95])
def test_transfer__insufficient_balance__reverts(register, jsc, alice, bob, amount):
    refused(register, alice, bob, jsc, amount, R["insufficient balance"])


def test_transfer__no_holding__reverts(register, jsc, carol, bob):
    refused(register, carol, bob, jsc, 1, R["insufficient balance"])


def test_transfer__whole_balance__accepted(register, jsc, alice, bob):
    accepted(register, alice, bob, jsc, 1000)
    assert register.balanceOf(alice, jsc) == 0


# ----------------------------------------------------------------------- lock-up


def test_set_lockup__logs_and_blocks_until_the_day(register, registrar, jsc, alice, bob, today, advance_days):
    receipt = register.set_lockup(alice, jsc, today + 2, doc("lockup"), sender=registrar)
    assert events(receipt, register.LockupSet) == [
        {"owner": alice.address, "id": jsc, "lock_until_day": today + 2, "actor": registrar.address,
         "doc": doc("lockup")}
    ]
    assert register.holding(alice, jsc).lock_until_day == today + 2
    refused(register, alice, bob, jsc, 1, R["holding locked up"])

    advance_days(1)
    refused(register, alice, bob, jsc, 1, R["holding locked up"])
    advance_days(1)  # the lock-up day is the first free day
    accepted(register, alice, bob, jsc, 1)


def test_set_lockup__zero_lifts(register, registrar, jsc, alice, bob, today):
    register.set_lockup(alice, jsc, today + 100, doc("lockup"), sender=registrar)
    register.set_lockup(alice, jsc, 0, doc("lift"), sender=registrar)
    accepted(register, alice, bob, jsc, 1)


def test_register_holdings__lockup_applies(register, jsc, alice, bob, today, new_security):
    sid = new_security([(alice, 100), (bob, 100)], lock_until_day=today + 1)
    refused(register, alice, bob, sid, 1, R["holding locked up"])


@pytest.mark.parametrize(
    "owner,sid,day,reason",
    [("zero", "jsc", 1, "corporate_actions: zero address"), ("alice", 10_000, 1, "corporate_actions: unknown security"),
     ("alice", "jsc", 2**24, "corporate_actions: day out of range")],
    ids=["zero-owner", "unknown-security", "day-too-large"],
)
def test_set_lockup__invalid__reverts(register, registrar, jsc, alice, owner, sid, day, reason):
    with ape.reverts(reason):
        register.set_lockup(ZERO if owner == "zero" else alice, jsc if sid == "jsc" else sid, day, doc("l"),
                            sender=registrar)


# --------------------------------------------------------------- holding period


def _advance_to_wednesday(register, advance_days):
    weekday = cal.date_of(register.today()).weekday()
    advance_days((2 - weekday) % 7 or 7)
    return register.today()


def test_transfer__holding_period_counts_trading_days(register, jsc, alice, bob, advance_days, new_security):
    """Acquired on a Wednesday: the following Tuesday (6 calendar days, 4 trading days) is too
    early; Wednesday, the 5th trading day after, is allowed."""
    day = _advance_to_wednesday(register, advance_days)
    sid = new_security([(alice, 100), (bob, 100)], acquired_day=day)
    assert register.holding(alice, sid).acquired_trading_day == tn(register, day)
    refused(register, alice, bob, sid, 1, R["holding period not met"])

    advance_days(6)
    assert tn(register, day + 6) == tn(register, day) + HOLDING_PERIOD_TRADING_DAYS - 1
    refused(register, alice, bob, sid, 1, R["holding period not met"])

    advance_days(1)
    accepted(register, alice, bob, sid, 1)


def test_transfer__holding_period_skips_holidays(register, registrar, jsc, alice, bob, advance_days, new_security):
    day = _advance_to_wednesday(register, advance_days)
    sid = new_security([(alice, 100), (bob, 100)], acquired_day=day)
    register.amend_calendar(day + 5, False, doc("holiday"), sender=registrar)  # next Monday off

    advance_days(7)
    refused(register, alice, bob, sid, 1, R["holding period not met"])
    advance_days(1)
    accepted(register, alice, bob, sid, 1)


# ---------------------------------------------------------------- insider quota


def test_set_insider__logs_and_flags(register, issuer_agent, jsc, alice):
    receipt = register.set_insider(alice, jsc, True, doc("appointed"), sender=issuer_agent)

    assert events(receipt, register.InsiderSet) == [
        {"owner": alice.address, "id": jsc, "insider": True, "actor": issuer_agent.address, "doc": doc("appointed")}
    ]
    assert register.holding(alice, jsc).insider


def test_set_insider__unchanged__reverts(register, issuer_agent, jsc, alice):
    with ape.reverts("corporate_actions: insider flag unchanged"):
        register.set_insider(alice, jsc, False, doc("x"), sender=issuer_agent)


def test_set_insider__zero_address__reverts(register, issuer_agent, jsc):
    with ape.reverts("corporate_actions: zero address"):
        register.set_insider(ZERO, jsc, True, doc("x"), sender=issuer_agent)


def test_transfer__insider_25_percent_a_year(register, issuer_agent, jsc, alice, bob, today, advance_days):
    register.set_insider(alice, jsc, True, doc("appointed"), sender=issuer_agent)
    year = cal.date_of(today).year

    accepted(register, alice, bob, jsc, 200)
    assert register.insider_quota_of(alice, jsc) == (year, 1000, 200)
    refused(register, alice, bob, jsc, 51, R["insider annual limit exceeded"])
    accepted(register, alice, bob, jsc, 50)  # exactly 25 % of 1000
    refused(register, alice, bob, jsc, 1, R["insider annual limit exceeded"])

    # next year: 25 % of the 750 held at its start (187.5 -> 187)
    advance_days(cal.day_number(dt.date(year + 1, 1, 2)) - today)
    refused(register, alice, bob, jsc, 188, R["insider annual limit exceeded"])
    accepted(register, alice, bob, jsc, 187)
    assert register.insider_quota_of(alice, jsc) == (year + 1, 750, 187)


def test_transfer__insider_receipt_does_not_raise_the_base(
    register, issuer_agent, jsc, alice, bob, today, advance_days
):
    register.set_insider(alice, jsc, True, doc("appointed"), sender=issuer_agent)
    accepted(register, bob, alice, jsc, 1000)  # first change this year: base is the 1000 held before
    assert register.insider_quota_of(alice, jsc) == (cal.date_of(today).year, 1000, 0)

    advance_days(7)
    if cal.date_of(today + 7).year != cal.date_of(today).year:
        pytest.skip("year ended during the holding period")
    refused(register, alice, bob, jsc, 251, R["insider annual limit exceeded"])
    accepted(register, alice, bob, jsc, 250)


def test_transfer__former_insider_for_six_months__reverts_then_unlimited(
    register, issuer_agent, jsc, alice, bob, advance_days
):
    """Company Law art 160: nothing for six months after leaving office (through the
    corresponding day six months later, Civil Code art 202), then no limit."""
    register.set_insider(alice, jsc, True, doc("appointed"), sender=issuer_agent)
    register.set_insider(alice, jsc, False, doc("resigned"), sender=issuer_agent)
    left = register.today()
    until = months_later(left, 6)
    reason = "ledger: former insider within six months of leaving"
    assert register.can_transfer(alice, bob, jsc, 1) == (False, reason)
    advance_days(until - left)  # the last day of the six months
    assert register.can_transfer(alice, bob, jsc, 1) == (False, reason)
    advance_days(1)
    accepted(register, alice, bob, jsc, 1000)


# ------------------------------------------------------------ register closure


@pytest.mark.parametrize(
    "meeting,record,closed",
    [
        (20, None, True), (0, None, True), (21, None, False), (-1, None, False),
        (None, 5, True), (None, 0, True), (None, 6, False), (None, -1, False),
        (30, 3, True), (30, 10, False),
    ],
    ids=[
        "meeting-in-20-days", "meeting-today", "meeting-in-21-days", "meeting-yesterday",
        "record-in-5-days", "record-today", "record-in-6-days", "record-yesterday",
        "record-closes-when-meeting-does-not", "neither-window",
    ],
)
def test_set_register_closure__windows(register, issuer_agent, jsc, alice, bob, today, meeting, record, closed):
    meeting_day = 0 if meeting is None else today + meeting
    record_day = 0 if record is None else today + record
    receipt = register.set_register_closure(jsc, meeting_day, record_day, doc("notice"), sender=issuer_agent)
    assert events(receipt, register.RegisterClosureSet) == [
        {"id": jsc, "meeting_day": meeting_day, "record_day": record_day, "actor": issuer_agent.address,
         "doc": doc("notice")}
    ]
    assert (register.security(jsc).meeting_day, register.security(jsc).record_day) == (meeting_day, record_day)

    if closed:
        refused(register, alice, bob, jsc, 1, R["register closed"])
    else:
        accepted(register, alice, bob, jsc, 1)


def test_set_register_closure__window_opens_after_the_meeting(
    register, issuer_agent, jsc, alice, bob, today, advance_days
):
    register.set_register_closure(jsc, today + 3, 0, doc("agm"), sender=issuer_agent)
    refused(register, alice, bob, jsc, 1, R["register closed"])
    advance_days(3)
    refused(register, alice, bob, jsc, 1, R["register closed"])
    advance_days(1)
    accepted(register, alice, bob, jsc, 1)


def test_set_register_closure__cleared(register, issuer_agent, jsc, alice, bob, today):
    register.set_register_closure(jsc, today + 1, today + 1, doc("agm"), sender=issuer_agent)
    register.set_register_closure(jsc, 0, 0, doc("cancelled"), sender=issuer_agent)
    accepted(register, alice, bob, jsc, 1)


def test_set_register_closure__invalid__reverts(register, issuer_agent, governance, jsc):
    with ape.reverts("corporate_actions: day out of range"):
        register.set_register_closure(jsc, 2**32, 0, doc("x"), sender=issuer_agent)
    register.grant_security_role(10_000, issuer_agent, 1, doc("grant"), sender=governance)
    with ape.reverts("corporate_actions: unknown security"):
        register.set_register_closure(10_000, 1, 0, doc("x"), sender=issuer_agent)


# ------------------------------------------------------------------- holder cap


def test_transfer__holder_cap_refuses_a_new_holder(register, full_llc, alice, carol):
    assert register.holder_count(full_llc) == 50
    refused(register, alice, carol, full_llc, 10, R["holder cap reached"])


def test_transfer__holder_cap_allows_emptying_into_a_new_holder(register, full_llc, alice, carol):
    accepted(register, alice, carol, full_llc, 100)
    assert register.holder_count(full_llc) == 50
    assert register.balanceOf(carol, full_llc) == 100


def test_transfer__holder_cap_allows_existing_holder(register, full_llc, alice, crowd):
    accepted(register, alice, crowd[0], full_llc, 10)
    assert register.holder_count(full_llc) == 50


# ------------------------------------------------------------------- holder count


def test_holder_count__follows_every_change(register, registrar, recovery_target, jsc, alice, bob, carol, dave):
    assert register.holder_count(jsc) == 2
    accepted(register, bob, dave, jsc, 1000)          # empties bob into a new holder
    assert register.holder_count(jsc) == 2
    accepted(register, alice, carol, jsc, 10)         # new holder
    assert register.holder_count(jsc) == 3
    accepted(register, alice, dave, jsc, 10)          # between existing holders
    assert register.holder_count(jsc) == 3
    accepted(register, alice, dave, jsc, 980)         # empties alice into an existing holder
    assert register.holder_count(jsc) == 2
    register.increase_capital(jsc, [(bob.address, 5, 5), (dave.address, 5, 5)], doc("inc"), sender=registrar)
    assert register.holder_count(jsc) == 3           # bob back, dave already held
    register.decrease_capital(jsc, [(carol.address, 10)], doc("dec"), sender=registrar)
    assert register.holder_count(jsc) == 2           # carol emptied
    register.decrease_capital(jsc, [(dave.address, 1)], doc("dec"), sender=registrar)
    assert register.holder_count(jsc) == 2
    register.recover(dave, recovery_target, [jsc], doc("lost key"), sender=registrar)
    assert register.holder_count(jsc) == 2


# ---------------------------------------------------------------------- ERC-6909


def test_supportsInterface(register):
    assert register.supportsInterface(bytes.fromhex("01ffc9a7"))
    assert register.supportsInterface(bytes.fromhex("0f632fb3"))
    assert not register.supportsInterface(bytes.fromhex("ffffffff"))
    assert not register.supportsInterface(bytes.fromhex("80ac58cd"))  # ERC-721


def test_balanceOf_totalSupply(register, jsc, alice, carol):
    assert (register.balanceOf(alice, jsc), register.balanceOf(carol, jsc), register.totalSupply(jsc)) == (
        1000, 0, 2000)
    assert register.totalSupply(10_000) == 0


@pytest.mark.parametrize("high", [2**96, 2**200], ids=["2**96", "2**200"])
def test_views__ids_above_96_bits_hold_nothing(register, jsc, alice, crowd, high):
    """Holdings are keyed by (owner << 96 | id): an id above 96 bits must not read another
    owner's holding."""
    for owner in [alice.address] + crowd[:3]:
        assert register.balanceOf(owner, jsc + high) == 0
        assert holding(register, owner, jsc + high) == (0, 0, 0, 0, False)
        assert register.insider_quota_of(owner, jsc + high) == (0, 0, 0)


def test_recover__id_above_96_bits__reverts(register, registrar, jsc, alice, recovery_target):
    with ape.reverts("recovery: unknown security"):
        register.recover(alice, recovery_target, [jsc + 2**96], doc("lost key"), sender=registrar)


def test_approve__sets_allowance_and_logs(register, jsc, alice, carol):
    receipt = register.approve(carol, jsc, 300, sender=alice)

    assert events(receipt, register.Approval) == [
        {"owner": alice.address, "spender": carol.address, "id": jsc, "amount": 300}
    ]
    assert register.allowance(alice, carol, jsc) == 300
    assert register.allowance(alice, carol, jsc + 1) == 0


def test_approve__zero_spender__reverts(register, jsc, alice):
    with ape.reverts("ledger: zero address"):
        register.approve(ZERO, jsc, 1, sender=alice)


def test_transferFrom__within_allowance_decrements(register, jsc, alice, bob, carol):
    register.approve(carol, jsc, 300, sender=alice)

    receipt = accepted(register, alice, bob, jsc, 120, caller=carol)

    assert events(receipt, register.Transfer) == [
        {"caller": carol.address, "sender": alice.address, "receiver": bob.address, "id": jsc, "amount": 120}
    ]
    assert register.allowance(alice, carol, jsc) == 180
    accepted(register, alice, bob, jsc, 180, caller=carol)
    assert register.allowance(alice, carol, jsc) == 0


def test_transferFrom__beyond_allowance__reverts(register, jsc, alice, bob, carol):
    register.approve(carol, jsc, 100, sender=alice)
    with ape.reverts("ledger: insufficient allowance"):
        register.transferFrom(alice, bob, jsc, 101, sender=carol)
    assert register.allowance(alice, carol, jsc) == 100


def test_transferFrom__max_allowance_not_decremented(register, jsc, alice, bob, carol):
    register.approve(carol, jsc, MAX_UINT, sender=alice)
    accepted(register, alice, bob, jsc, 500, caller=carol)
    assert register.allowance(alice, carol, jsc) == MAX_UINT


def test_transferFrom__allowance_does_not_bypass_rules(register, registrar, jsc, alice, bob, carol):
    register.approve(carol, jsc, 100, sender=alice)
    register.set_qualified(bob, False, doc("q"), sender=registrar)
    refused(register, alice, bob, jsc, 10, R["receiver not qualified"], caller=carol)
    assert register.allowance(alice, carol, jsc) == 100


def test_transferFrom__own_holding_needs_no_allowance(register, jsc, alice, bob):
    accepted(register, alice, bob, jsc, 10, caller=alice)


def test_setOperator__logs_and_operator_moves_any_security(register, jsc, llc, alice, bob, carol):
    receipt = register.setOperator(carol, True, sender=alice)
    assert events(receipt, register.OperatorSet) == [
        {"owner": alice.address, "spender": carol.address, "approved": True}
    ]
    assert register.isOperator(alice, carol)

    accepted(register, alice, bob, jsc, 10, caller=carol)
    accepted(register, alice, bob, llc, 10, caller=carol)
    assert register.allowance(alice, carol, jsc) == 0


def test_setOperator__revoked__reverts(register, jsc, alice, bob, carol):
    register.setOperator(carol, True, sender=alice)
    receipt = register.setOperator(carol, False, sender=alice)
    assert events(receipt, register.OperatorSet) == [
        {"owner": alice.address, "spender": carol.address, "approved": False}
    ]
    assert not register.isOperator(alice, carol)

    with ape.reverts("ledger: insufficient allowance"):
        register.transferFrom(alice, bob, jsc, 1, sender=carol)


def test_setOperator__zero_address__reverts(register, jsc, alice):
    with ape.reverts("ledger: zero address"):
        register.setOperator(ZERO, True, sender=alice)


# ---------------------------------------------------------------- capital increase


def test_increase_capital__issues_and_logs(register, registrar, jsc, alice, carol, today):
    receipt = register.increase_capital(jsc, [(alice.address, 100, 0), (carol.address, 50, 0)], doc("inc"),
                                        sender=registrar)

    assert events(receipt, register.Issued) == [
        {"receiver": alice.address, "id": jsc, "amount": 100, "paid": 100, "acquired_day": today},
        {"receiver": carol.address, "id": jsc, "amount": 50, "paid": 50, "acquired_day": today},
    ]
    assert events(receipt, register.CapitalIncreased) == [
        {"id": jsc, "holdings": 2, "units": 150, "actor": registrar.address, "doc": doc("inc")}
    ]
    assert (register.balanceOf(alice, jsc), register.balanceOf(carol, jsc)) == (1100, 50)
    assert (register.totalSupply(jsc), register.declared_total(jsc), register.holder_count(jsc)) == (2150, 2150, 3)


def test_increase_capital__restarts_holding_period(register, registrar, jsc, alice, bob, today):
    register.increase_capital(jsc, [(alice.address, 100, 100)], doc("inc"), sender=registrar)

    assert register.holding(alice, jsc).acquired_trading_day == tn(register, today)
    refused(register, alice, bob, jsc, 1, R["holding period not met"])


def test_increase_capital__keeps_lockup_and_insider(register, registrar, issuer_agent, jsc, alice, today):
    register.set_lockup(alice, jsc, today + 50, doc("l"), sender=registrar)
    register.set_insider(alice, jsc, True, doc("i"), sender=issuer_agent)

    register.increase_capital(jsc, [(alice.address, 100, 100)], doc("inc"), sender=registrar)

    assert holding(register, alice, jsc) == (1100, 1100, tn(register, today), today + 50, True)
    assert register.insider_quota_of(alice, jsc) == (cal.date_of(today).year, 1000, 0)


def test_increase_capital__unqualified_new_subscriber__reverts(register, registrar, jsc, carol):
    register.set_qualified(carol, False, doc("q"), sender=registrar)
    with ape.reverts("corporate_actions: subscriber not qualified"):
        register.increase_capital(jsc, [(carol.address, 10, 10)], doc("inc"), sender=registrar)


def test_increase_capital__unqualified_existing_holder_accepted(register, registrar, jsc, alice):
    register.set_qualified(alice, False, doc("q"), sender=registrar)
    register.increase_capital(jsc, [(alice.address, 10, 10)], doc("inc"), sender=registrar)
    assert register.balanceOf(alice, jsc) == 1010


def test_increase_capital__holder_cap__reverts(register, registrar, full_llc, alice, carol):
    with ape.reverts("corporate_actions: holder cap reached"):
        register.increase_capital_waived(full_llc, [(carol.address, 10, 10)], doc("waiver"), doc("inc"),
                                         sender=registrar)
    register.increase_capital_waived(full_llc, [(alice.address, 10, 10)], doc("waiver"), doc("inc"),
                                     sender=registrar)
    assert register.holder_count(full_llc) == 50


def test_increase_capital__llc_paid_in_accumulates(register, registrar, llc, alice):
    receipt = register.increase_capital_waived(llc, [(alice.address, 100, 40)], doc("waiver"), doc("inc"),
                                               sender=registrar)

    assert events(receipt, register.Issued)[0]["paid"] == 40
    assert (register.holding(alice, llc).balance, register.holding(alice, llc).paid) == (1100, 640)


@pytest.mark.parametrize("state", ["suspended", "unopened"])
def test_increase_capital__holder_account_not_active__reverts(register, registrar, jsc, alice, outsider, state):
    holder = alice if state == "suspended" else outsider
    if state == "suspended":
        register.suspend_account(alice, doc("s"), sender=registrar)
    with ape.reverts("corporate_actions: holder account not active"):
        register.increase_capital(jsc, [(holder.address, 10, 10)], doc("inc"), sender=registrar)


def test_increase_capital__security_state__reverts(register, registrar, jsc, alice, new_security):
    pending = new_security([(alice, 10)], seal=False)
    with ape.reverts("ledger: security not sealed"):
        register.increase_capital(pending, [(alice.address, 10, 10)], doc("inc"), sender=registrar)
    with ape.reverts("ledger: unknown security"):
        register.increase_capital(10_000, [(alice.address, 10, 10)], doc("inc"), sender=registrar)
    register.set_security_status(jsc, SecurityStatus.SUSPENDED, doc("s"), sender=registrar)
    with ape.reverts("ledger: security not active"):
        register.increase_capital(jsc, [(alice.address, 10, 10)], doc("inc"), sender=registrar)


@pytest.mark.parametrize(
    "batch,reason",
    [([], "corporate_actions: empty batch"), ([("alice", 10, 11)], "corporate_actions: paid exceeds units"),
     ([("alice", 0, 0)], "corporate_actions: zero amount"), ([("zero", 10, 10)], "corporate_actions: zero address")],
    ids=["empty", "paid-exceeds-units", "zero-units", "zero-address"],
)
def test_increase_capital__invalid__reverts(register, registrar, jsc, alice, batch, reason):
    items = [(ZERO if who == "zero" else alice.address, units, paid) for who, units, paid in batch]
    with ape.reverts(reason):
        register.increase_capital(jsc, items, doc("inc"), sender=registrar)


def test_increase_capital__beyond_calendar__reverts(register, registrar, jsc, alice, advance_days):
    advance_days(CALENDAR_AHEAD_DAYS + 1)
    with ape.reverts("corporate_actions: calendar not published for today"):
        register.increase_capital(jsc, [(alice.address, 10, 10)], doc("inc"), sender=registrar)


# ---------------------------------------------------------------- capital decrease


def test_decrease_capital__llc_unpaid_units_go_first(register, registrar, llc, alice):
    receipt = register.decrease_capital(llc, [(alice.address, 300)], doc("dec"), sender=registrar)

    assert events(receipt, register.Transfer) == [
        {"caller": registrar.address, "sender": alice.address, "receiver": ZERO, "id": llc, "amount": 300}
    ]
    assert events(receipt, register.CapitalDecreased) == [
        {"id": llc, "holdings": 1, "units": 300, "actor": registrar.address, "doc": doc("dec")}
    ]
    assert (register.holding(alice, llc).balance, register.holding(alice, llc).paid) == (700, 600)

    register.decrease_capital(llc, [(alice.address, 300)], doc("dec"), sender=registrar)
    assert (register.holding(alice, llc).balance, register.holding(alice, llc).paid) == (400, 400)
    assert (register.totalSupply(llc), register.declared_total(llc)) == (900, 900)


def test_decrease_capital__emptied_holder_leaves(register, registrar, jsc, alice, bob):
    register.decrease_capital(jsc, [(alice.address, 1000), (bob.address, 1)], doc("dec"), sender=registrar)

    assert (register.balanceOf(alice, jsc), register.holder_count(jsc)) == (0, 1)
    assert (register.totalSupply(jsc), register.declared_total(jsc)) == (999, 999)


def test_decrease_capital__insufficient_balance__reverts(register, registrar, jsc, alice):
    with ape.reverts("corporate_actions: insufficient balance"):
        register.decrease_capital(jsc, [(alice.address, 1001)], doc("dec"), sender=registrar)


def test_decrease_capital__empty_batch__reverts(register, registrar, jsc):
    with ape.reverts("corporate_actions: empty batch"):
        register.decrease_capital(jsc, [], doc("dec"), sender=registrar)


# ------------------------------------------------------------------------ paid-in


def test_record_paid_in__sets_paid_and_logs(register, registrar, llc, alice):
    receipt = register.record_paid_in(alice, llc, 800, doc("verification"), sender=registrar)

    assert events(receipt, register.PaidInRecorded) == [
        {"owner": alice.address, "id": llc, "paid": 800, "actor": registrar.address, "doc": doc("verification")}
    ]
    assert register.holding(alice, llc).paid == 800


def test_record_paid_in__not_llc__reverts(register, registrar, jsc, alice):
    with ape.reverts("corporate_actions: not an LLC"):
        register.record_paid_in(alice, jsc, 10, doc("v"), sender=registrar)


def test_record_paid_in__exceeds_units__reverts(register, registrar, llc, alice):
    with ape.reverts("corporate_actions: paid exceeds units"):
        register.record_paid_in(alice, llc, 1001, doc("v"), sender=registrar)


def test_record_paid_in__unknown_security__reverts(register, registrar, jsc, alice):
    with ape.reverts("corporate_actions: unknown security"):
        register.record_paid_in(alice, 10_000, 1, doc("v"), sender=registrar)


def test_holding__non_llc_paid_equals_balance(register, jsc, alice):
    assert register.holding(alice, jsc).paid == register.holding(alice, jsc).balance == 1000


def test_transfer__llc_paid_in_units_move_first(register, llc, alice, carol):
    accepted(register, alice, carol, llc, 400)
    assert (register.holding(alice, llc).balance, register.holding(alice, llc).paid) == (600, 200)
    assert (register.holding(carol, llc).balance, register.holding(carol, llc).paid) == (400, 400)

    accepted(register, alice, carol, llc, 300)
    assert (register.holding(alice, llc).balance, register.holding(alice, llc).paid) == (300, 0)
    assert (register.holding(carol, llc).balance, register.holding(carol, llc).paid) == (700, 600)


# ----------------------------------------------------------------------- recovery


@pytest.fixture
def recovery_target():
    return NEW_KEY


def test_recover__moves_holdings_and_account(
    register, registrar, issuer_agent, jsc, llc, alice, bob, today, recovery_target
):
    register.set_lockup(alice, jsc, today + 30, doc("l"), sender=registrar)
    register.set_insider(alice, llc, True, doc("i"), sender=issuer_agent)
    accepted(register, alice, bob, llc, 100)
    before = {sid: holding(register, alice, sid) for sid in (jsc, llc)}
    quota = register.insider_quota_of(alice, llc)
    counts = (register.holder_count(jsc), register.holder_count(llc))
    old_account = register.account_of(alice)

    receipt = register.recover(alice, recovery_target, [jsc, llc], doc("lost key"), sender=registrar)

    new = to_checksum_address(recovery_target)
    assert events(receipt, register.Transfer) == [
        {"caller": registrar.address, "sender": alice.address, "receiver": new, "id": jsc, "amount": 1000},
        {"caller": registrar.address, "sender": alice.address, "receiver": new, "id": llc, "amount": 900},
    ]
    assert events(receipt, register.HoldingRecovered) == [
        {"old_owner": alice.address, "new_owner": new, "id": sid, "amount": amount, "actor": registrar.address,
         "doc": doc("lost key")} for sid, amount in ((jsc, 1000), (llc, 900))
    ]
    assert events(receipt, register.AccountRecovered) == [
        {"old_wallet": alice.address, "new_wallet": new, "actor": registrar.address, "doc": doc("lost key")}
    ]
    for sid in (jsc, llc):
        assert holding(register, new, sid) == before[sid]
        assert holding(register, alice, sid) == (0, 0, 0, 0, False)
    assert register.insider_quota_of(new, llc) == quota
    assert register.insider_quota_of(alice, llc) == (0, 0, 0)
    assert (register.holder_count(jsc), register.holder_count(llc)) == counts
    new_account, closed = register.account_of(new), register.account_of(alice)
    assert (new_account.status, new_account.investor_class, new_account.qualified, new_account.identity) == (
        AccountStatus.ACTIVE, old_account.investor_class, old_account.qualified, old_account.identity)
    assert (closed.status, closed.identity) == (AccountStatus.CLOSED, old_account.identity)


def test_recover__continued_in_a_second_call(register, registrar, jsc, llc, alice, recovery_target):
    register.recover(alice, recovery_target, [jsc], doc("lost key 1/2"), sender=registrar)
    register.recover(alice, recovery_target, [llc], doc("lost key 2/2"), sender=registrar)

    assert (register.balanceOf(recovery_target, jsc), register.balanceOf(recovery_target, llc)) == (1000, 1000)


def test_recover__nothing_to_recover__reverts(register, registrar, jsc, alice, recovery_target):
    with ape.reverts("recovery: nothing to recover"):
        register.recover(alice, recovery_target, [jsc, 10_000], doc("lost key"), sender=registrar)
    assert register.account_of(alice).status == AccountStatus.ACTIVE  # all or nothing


def test_recover__target_already_holds__reverts(register, registrar, jsc, llc, alice, recovery_target):
    register.recover(alice, recovery_target, [jsc], doc("lost key 1/2"), sender=registrar)
    register.increase_capital_waived(llc, [(recovery_target, 10, 10)], doc("waiver"), doc("inc"), sender=registrar)

    with ape.reverts("recovery: recovery target already holds"):
        register.recover(alice, recovery_target, [llc], doc("lost key 2/2"), sender=registrar)


def test_recover__target_with_another_identity__reverts(register, registrar, jsc, alice, carol):
    with ape.reverts("accounts: recovery target has another identity"):
        register.recover(alice, carol, [jsc], doc("lost key"), sender=registrar)


@pytest.mark.parametrize(
    "old,new,ids,reason",
    [
        ("outsider", "target", "jsc", "accounts: unknown account"),
        ("alice", "zero", "jsc", "accounts: zero address"),
        ("alice", "alice", "jsc", "accounts: recovery to the same address"),
        ("alice", "target", "none", "recovery: empty batch"),
        ("alice", "target", "too-many", "recovery: batch too large"),
    ],
    ids=["unknown-old", "zero-new", "same-address", "empty", "too-many"],
)
def test_recover__invalid__reverts(
    register, registrar, jsc, alice, outsider, recovery_target, old, new, ids, reason
):
    names = {"alice": alice.address, "outsider": outsider.address, "target": recovery_target, "zero": ZERO}
    id_list = {"jsc": [jsc], "none": [], "too-many": [jsc] * (MAX_BATCH + 1)}[ids]
    with ape.reverts(reason):
        # .call: the same execution as an eth_call, without ape tracing a failed transaction
        register.recover.call(names[old], names[new], id_list, doc("lost key"), sender=registrar)


def test_recover__new_key_can_transfer_old_cannot(register, registrar, jsc, alice, bob, accounts):
    new_key = accounts[9]
    register.recover(alice, new_key, [jsc], doc("lost key"), sender=registrar)

    accepted(register, new_key, bob, jsc, 10)
    refused(register, alice, bob, jsc, 1, R["sender account not active"])
