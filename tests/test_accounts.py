"""Investor accounts (accounts.vy): opening, the status machine and qualification."""

from __future__ import annotations

import ape
import pytest
from eth_utils import to_checksum_address

import conftest
from conftest import doc
from regchain.constants import MAX_BATCH, AccountStatus, InvestorClass

ZERO = "0x0000000000000000000000000000000000000000"
ZERO32 = b"\x00" * 32


def wallet(i: int) -> str:
    """A custody address that never signs (accounts need not be signers)."""
    return conftest.wallet(i, 0xACC0)


def identity(i) -> bytes:
    return doc(f"identity-{i}")


def opened_event(log):
    return dict(log.event_arguments)


# ------------------------------------------------------------------------ open_account


@pytest.mark.parametrize("investor_class", list(InvestorClass), ids=lambda c: c.name)
@pytest.mark.parametrize("qualified", [True, False], ids=["qualified", "unqualified"])
def test_open_account__records_account_and_logs(register, registrar, alice, investor_class, qualified):
    receipt = register.open_account(alice, identity("a"), investor_class, qualified, doc("form"), sender=registrar)

    logs = receipt.events.filter(register.AccountOpened)
    assert len(logs) == 1
    assert opened_event(logs[0]) == {
        "wallet": alice.address, "identity": identity("a"), "investor_class": investor_class,
        "qualified": qualified, "actor": registrar.address, "doc": doc("form"),
    }
    view = register.account_of(alice)
    assert (view.status, view.investor_class, view.qualified, view.identity) == (
        AccountStatus.ACTIVE, investor_class, qualified, identity("a"),
    )
    assert register.identity_of(alice) == identity("a")


def test_account_of__unopened__is_empty(register, outsider):
    view = register.account_of(outsider)
    assert (view.status, view.investor_class, view.qualified, view.identity) == (
        AccountStatus.UNOPENED, 0, False, ZERO32,
    )


def test_open_account__existing__reverts(register, registrar, alice):
    register.open_account(alice, identity("a"), 1, True, doc("form"), sender=registrar)

    with ape.reverts("accounts: account exists"):
        register.open_account(alice, identity("b"), 2, False, doc("form"), sender=registrar)


def test_open_account__closed_account_cannot_reopen__reverts(register, registrar, alice):
    register.open_account(alice, identity("a"), 1, True, doc("form"), sender=registrar)
    register.close_account(alice, doc("close"), sender=registrar)

    with ape.reverts("accounts: account exists"):
        register.open_account(alice, identity("a"), 1, True, doc("form"), sender=registrar)


def test_open_account__zero_address__reverts(register, registrar):
    with ape.reverts("accounts: zero address"):
        register.open_account(ZERO, identity("a"), 1, True, doc("form"), sender=registrar)


def test_open_account__zero_identity__reverts(register, registrar, alice):
    with ape.reverts("accounts: zero identity"):
        register.open_account(alice, ZERO32, 1, True, doc("form"), sender=registrar)


@pytest.mark.parametrize("investor_class", [0, 4, 255])
def test_open_account__unknown_investor_class__reverts(register, registrar, alice, investor_class):
    with ape.reverts("accounts: unknown investor class"):
        register.open_account(alice, identity("a"), investor_class, True, doc("form"), sender=registrar)


# ----------------------------------------------------------------------- open_accounts


def test_open_accounts__opens_each_and_logs_each(register, registrar):
    batch = [(wallet(i), identity(i), 1 + i % 3, i % 2 == 0) for i in range(5)]

    receipt = register.open_accounts(batch, doc("migration"), sender=registrar)

    logs = receipt.events.filter(register.AccountOpened)
    assert [opened_event(log) for log in logs] == [
        {"wallet": to_checksum_address(w),
         "identity": ident, "investor_class": cls, "qualified": q,
         "actor": registrar.address, "doc": doc("migration")}
        for w, ident, cls, q in batch
    ]
    for w, ident, cls, q in batch:
        view = register.account_of(w)
        assert (view.status, view.investor_class, view.qualified, view.identity) == (1, cls, q, ident)


def test_open_accounts__full_batch(register, registrar):
    batch = [(wallet(i), identity(i), 1, True) for i in range(MAX_BATCH)]

    receipt = register.open_accounts(batch, doc("migration"), sender=registrar)

    assert len(receipt.events.filter(register.AccountOpened)) == MAX_BATCH
    assert register.account_of(wallet(MAX_BATCH - 1)).status == AccountStatus.ACTIVE


def test_open_accounts__batch_too_large__reverts(register, registrar):
    batch = [(wallet(i), identity(i), 1, True) for i in range(MAX_BATCH + 1)]

    with ape.reverts("accounts: batch too large"):
        # .call: the same execution as an eth_call; ape would trace the failed transaction
        register.open_accounts.call(batch, doc("migration"), sender=registrar)


def test_open_accounts__empty_batch__reverts(register, registrar):
    with ape.reverts("accounts: empty batch"):
        register.open_accounts([], doc("migration"), sender=registrar)


def test_open_accounts__duplicate_in_batch__reverts_whole_batch(register, registrar):
    batch = [(wallet(1), identity(1), 1, True), (wallet(2), identity(2), 1, True), (wallet(1), identity(1), 1, True)]

    with ape.reverts("accounts: account exists"):
        register.open_accounts(batch, doc("migration"), sender=registrar)
    assert register.account_of(wallet(1)).status == AccountStatus.UNOPENED


@pytest.mark.parametrize(
    "bad,reason",
    [
        ((ZERO, identity(9), 1, True), "accounts: zero address"),
        ((wallet(9), ZERO32, 1, True), "accounts: zero identity"),
        ((wallet(9), identity(9), 0, True), "accounts: unknown investor class"),
        ((wallet(9), identity(9), 4, True), "accounts: unknown investor class"),
    ],
    ids=["zero-address", "zero-identity", "class-0", "class-4"],
)
def test_open_accounts__bad_item__reverts(register, registrar, bad, reason):
    with ape.reverts(reason):
        register.open_accounts([(wallet(1), identity(1), 1, True), bad], doc("migration"), sender=registrar)


# ---------------------------------------------------------------------- status machine


@pytest.fixture
def opened(register, registrar, alice):
    register.open_account(alice, identity("a"), InvestorClass.INSTITUTION, True, doc("form"), sender=registrar)
    return alice


def _status_event(receipt, register):
    logs = receipt.events.filter(register.AccountStatusChanged)
    assert len(logs) == 1
    return dict(logs[0].event_arguments)


def test_suspend_account__active_becomes_suspended(register, registrar, opened):
    receipt = register.suspend_account(opened, doc("order"), sender=registrar)

    assert _status_event(receipt, register) == {
        "wallet": opened.address, "status": AccountStatus.SUSPENDED, "actor": registrar.address, "doc": doc("order"),
    }
    view = register.account_of(opened)
    assert (view.status, view.investor_class, view.qualified) == (AccountStatus.SUSPENDED, 2, True)


def test_reactivate_account__suspended_becomes_active(register, registrar, opened):
    register.suspend_account(opened, doc("order"), sender=registrar)

    receipt = register.reactivate_account(opened, doc("lift"), sender=registrar)

    assert _status_event(receipt, register)["status"] == AccountStatus.ACTIVE
    view = register.account_of(opened)
    assert (view.status, view.investor_class, view.qualified) == (AccountStatus.ACTIVE, 2, True)


@pytest.mark.parametrize("suspended_first", [False, True], ids=["from-active", "from-suspended"])
def test_close_account__becomes_closed(register, registrar, opened, suspended_first):
    if suspended_first:
        register.suspend_account(opened, doc("order"), sender=registrar)

    receipt = register.close_account(opened, doc("close"), sender=registrar)

    assert _status_event(receipt, register) == {
        "wallet": opened.address, "status": AccountStatus.CLOSED, "actor": registrar.address, "doc": doc("close"),
    }
    view = register.account_of(opened)
    assert (view.status, view.identity) == (AccountStatus.CLOSED, identity("a"))


# (start state, function, reason)
ILLEGAL_MOVES = [
    ("active", "reactivate_account", "accounts: account not suspended"),
    ("suspended", "suspend_account", "accounts: account not active"),
    ("closed", "suspend_account", "accounts: account not active"),
    ("closed", "reactivate_account", "accounts: account not suspended"),
    ("closed", "close_account", "accounts: account closed"),
    ("unopened", "suspend_account", "accounts: unknown account"),
    ("unopened", "reactivate_account", "accounts: unknown account"),
    ("unopened", "close_account", "accounts: unknown account"),
]


@pytest.mark.parametrize("start,function,reason", ILLEGAL_MOVES, ids=[f"{f}-{s}" for s, f, _ in ILLEGAL_MOVES])
def test_status_change__illegal_move__reverts(register, registrar, alice, start, function, reason):
    if start != "unopened":
        register.open_account(alice, identity("a"), 1, True, doc("form"), sender=registrar)
    if start == "suspended":
        register.suspend_account(alice, doc("order"), sender=registrar)
    elif start == "closed":
        register.close_account(alice, doc("close"), sender=registrar)

    with ape.reverts(reason):
        getattr(register, function)(alice, doc("x"), sender=registrar)


# ----------------------------------------------------------------------- set_qualified


@pytest.mark.parametrize("initial", [True, False])
def test_set_qualified__flips_and_logs(register, registrar, alice, initial):
    register.open_account(alice, identity("a"), 3, initial, doc("form"), sender=registrar)

    receipt = register.set_qualified(alice, not initial, doc("assessment"), sender=registrar)

    logs = receipt.events.filter(register.AccountQualificationChanged)
    assert len(logs) == 1
    assert dict(logs[0].event_arguments) == {
        "wallet": alice.address, "qualified": not initial, "actor": registrar.address, "doc": doc("assessment"),
    }
    view = register.account_of(alice)
    assert (view.status, view.investor_class, view.qualified) == (AccountStatus.ACTIVE, 3, not initial)


def test_set_qualified__suspended_account__allowed(register, registrar, opened):
    register.suspend_account(opened, doc("order"), sender=registrar)

    register.set_qualified(opened, False, doc("assessment"), sender=registrar)

    view = register.account_of(opened)
    assert (view.status, view.qualified) == (AccountStatus.SUSPENDED, False)


@pytest.mark.parametrize("qualified", [True, False])
def test_set_qualified__unchanged__reverts(register, registrar, alice, qualified):
    register.open_account(alice, identity("a"), 1, qualified, doc("form"), sender=registrar)

    with ape.reverts("accounts: qualification unchanged"):
        register.set_qualified(alice, qualified, doc("assessment"), sender=registrar)


def test_set_qualified__closed__reverts(register, registrar, opened):
    register.close_account(opened, doc("close"), sender=registrar)

    with ape.reverts("accounts: account closed"):
        register.set_qualified(opened, False, doc("assessment"), sender=registrar)


def test_set_qualified__unopened__reverts(register, registrar, outsider):
    with ape.reverts("accounts: unknown account"):
        register.set_qualified(outsider, True, doc("assessment"), sender=registrar)
