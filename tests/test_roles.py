"""Governance hand-over, global and per-security roles, and the pause switch (roles.vy,
calendar.vy `pause`/`unpause`)."""

from __future__ import annotations

import ape
import pytest

from conftest import doc
from regchain.constants import InvestorClass, Kind, Role, SecurityRole

ZERO = "0x0000000000000000000000000000000000000000"
FRESH = "0x00000000000000000000000000000000000F4E51"  # an address with no account


def only_event(receipt, event):
    logs = receipt.events.filter(event)
    assert len(logs) == 1
    return logs[0].event_arguments


# ------------------------------------------------------------- governance hand-over


def test_deploy__governance_is_set(register, governance):
    assert register.governance() == governance.address
    assert register.pending_governance() == ZERO


def test_transfer_governance__names_pending_and_logs(register, governance, alice):
    receipt = register.transfer_governance(alice, doc("hand-over"), sender=governance)

    assert only_event(receipt, register.GovernanceTransferStarted) == {
        "current": governance.address, "pending": alice.address, "doc": doc("hand-over"),
    }
    assert register.pending_governance() == alice.address
    assert register.governance() == governance.address  # nothing changes until accepted


def test_accept_governance__hands_over_and_logs(register, governance, alice):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)

    receipt = register.accept_governance(doc("accept governance"), sender=alice)

    assert only_event(receipt, register.GovernanceTransferred) == {
        "previous": governance.address, "current": alice.address, "doc": doc("accept governance"),
    }
    assert register.governance() == alice.address
    assert register.pending_governance() == ZERO


def test_accept_governance__new_governance_acts_old_does_not(register, governance, alice, bob):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)
    register.accept_governance(doc("accept governance"), sender=alice)

    with ape.reverts("roles: caller is not governance"):
        register.grant_role(bob, Role.ACCOUNT_MANAGER, doc("grant"), sender=governance)
    register.grant_role(bob, Role.ACCOUNT_MANAGER, doc("grant"), sender=alice)
    assert register.roles_of(bob) == Role.ACCOUNT_MANAGER


def test_accept_governance__not_pending__reverts(register, governance, alice, bob):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)

    with ape.reverts("roles: caller is not pending governance"):
        register.accept_governance(doc("accept governance"), sender=bob)


def test_accept_governance__no_handover_started__reverts(register, governance):
    with ape.reverts("roles: caller is not pending governance"):
        register.accept_governance(doc("accept governance"), sender=governance)


def test_accept_governance__twice__reverts(register, governance, alice):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)
    register.accept_governance(doc("accept governance"), sender=alice)

    with ape.reverts("roles: caller is not pending governance"):
        register.accept_governance(doc("accept governance"), sender=alice)


def test_transfer_governance__zero_address_cancels(register, governance, alice):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)

    receipt = register.transfer_governance(ZERO, doc("hand-over"), sender=governance)

    assert only_event(receipt, register.GovernanceTransferStarted)["pending"] == ZERO
    with ape.reverts("roles: caller is not pending governance"):
        register.accept_governance(doc("accept governance"), sender=alice)
    assert register.governance() == governance.address


def test_transfer_governance__second_call_replaces_pending(register, governance, alice, bob):
    register.transfer_governance(alice, doc("hand-over"), sender=governance)
    register.transfer_governance(bob, doc("hand-over"), sender=governance)

    with ape.reverts("roles: caller is not pending governance"):
        register.accept_governance(doc("accept governance"), sender=alice)
    register.accept_governance(doc("accept governance"), sender=bob)
    assert register.governance() == bob.address


# ------------------------------------------------------------------ global roles


def test_grant_role__adds_flags_and_logs(register, governance, alice):
    receipt = register.grant_role(alice, Role.ACCOUNT_MANAGER, doc("grant"), sender=governance)
    assert only_event(receipt, register.RoleGranted) == {
        "account": alice.address, "role": Role.ACCOUNT_MANAGER, "actor": governance.address, "doc": doc("grant"),
    }

    register.grant_role(alice, Role.CALENDAR_MANAGER | Role.RECOVERY_MANAGER, doc("grant"), sender=governance)

    assert register.roles_of(alice) == Role.ACCOUNT_MANAGER | Role.CALENDAR_MANAGER | Role.RECOVERY_MANAGER


def test_grant_role__registrar_fixture_holds_registrar_flags(register, registrar, court):
    assert register.roles_of(registrar) == Role.REGISTRAR
    assert register.roles_of(court) == Role.COURT_AGENT


def test_grant_role__zero_address__reverts(register, governance):
    with ape.reverts("roles: zero address"):
        register.grant_role(ZERO, Role.ACCOUNT_MANAGER, doc("grant"), sender=governance)


def test_grant_role__no_role__reverts(register, governance, alice):
    with ape.reverts("roles: no role given"):
        register.grant_role(alice, 0, doc("grant"), sender=governance)


def test_revoke_role__clears_only_given_flags_and_logs(register, governance, registrar):
    receipt = register.revoke_role(registrar, Role.SECURITY_MANAGER, doc("revoke"), sender=governance)

    assert only_event(receipt, register.RoleRevoked) == {
        "account": registrar.address, "role": Role.SECURITY_MANAGER, "actor": governance.address,
        "doc": doc("revoke"),
    }
    assert register.roles_of(registrar) == Role.REGISTRAR & ~Role.SECURITY_MANAGER


def test_revoke_role__no_role__reverts(register, governance, registrar):
    with ape.reverts("roles: no role given"):
        register.revoke_role(registrar, 0, doc("revoke"), sender=governance)


def test_revoke_role__holder_loses_access(register, governance, registrar, carol):
    register.revoke_role(registrar, Role.ACCOUNT_MANAGER, doc("revoke"), sender=governance)

    with ape.reverts("roles: caller is not account manager"):
        register.open_account(carol, doc("id"), InvestorClass.INDIVIDUAL, True, doc("open"), sender=registrar)


@pytest.mark.parametrize(
    "role",
    [Role.ACCOUNT_MANAGER, Role.SECURITY_MANAGER, Role.CALENDAR_MANAGER, Role.RECOVERY_MANAGER, Role.COURT_AGENT],
    ids=lambda r: r.name,
)
def test_role_flags__python_mirror_matches_contract(register, governance, outsider, alice, role):
    """Granting the Python flag opens exactly the contract's guard for that role."""
    register.grant_role(outsider, role, doc("grant"), sender=governance)
    assert register.roles_of(outsider) == role

    if role == Role.ACCOUNT_MANAGER:
        register.open_account(alice, doc("id"), InvestorClass.INDIVIDUAL, True, doc("open"), sender=outsider)
        assert register.account_of(alice).status == 1
    elif role == Role.SECURITY_MANAGER:
        register.register_security(doc("flag-code"), Kind.JSC, 0, 100, doc("reg"), sender=outsider)
        assert register.security_id(doc("flag-code")) != 0
    elif role == Role.CALENDAR_MANAGER:
        day = register.today() + 10
        register.amend_calendar(day, not register.is_trading_day(day), doc("amend"), sender=outsider)
    elif role == Role.RECOVERY_MANAGER:
        # passes the role check, stops at the first rule after it
        with ape.reverts("accounts: unknown account"):
            register.recover(alice, FRESH, [1], doc("recover"), sender=outsider)
    else:
        # no function is guarded by COURT_AGENT yet; the flag is only stored
        assert role == Role.COURT_AGENT


# -------------------------------------------------------------- per-security roles


def test_grant_security_role__adds_flags_and_logs(register, governance, alice):
    receipt = register.grant_security_role(7, alice, SecurityRole.ISSUER_AGENT, doc("grant"), sender=governance)

    assert only_event(receipt, register.SecurityRoleGranted) == {
        "id": 7, "account": alice.address, "role": SecurityRole.ISSUER_AGENT, "actor": governance.address,
        "doc": doc("grant"),
    }
    register.grant_security_role(7, alice, SecurityRole.FUND_MANAGER, doc("grant"), sender=governance)
    assert register.security_roles(7, alice) == SecurityRole.ISSUER_AGENT | SecurityRole.FUND_MANAGER
    assert register.security_roles(8, alice) == 0  # per id


def test_grant_security_role__zero_address__reverts(register, governance):
    with ape.reverts("roles: zero address"):
        register.grant_security_role(1, ZERO, SecurityRole.ISSUER_AGENT, doc("grant"), sender=governance)


def test_grant_security_role__no_role__reverts(register, governance, alice):
    with ape.reverts("roles: no role given"):
        register.grant_security_role(1, alice, 0, doc("grant"), sender=governance)


def test_revoke_security_role__clears_and_logs(register, governance, alice):
    register.grant_security_role(3, alice, SecurityRole.ISSUER_AGENT | SecurityRole.FUND_MANAGER, doc("grant"),
                                 sender=governance)

    receipt = register.revoke_security_role(3, alice, SecurityRole.ISSUER_AGENT, doc("revoke"), sender=governance)

    assert only_event(receipt, register.SecurityRoleRevoked) == {
        "id": 3, "account": alice.address, "role": SecurityRole.ISSUER_AGENT, "actor": governance.address,
        "doc": doc("revoke"),
    }
    assert register.security_roles(3, alice) == SecurityRole.FUND_MANAGER


def test_revoke_security_role__no_role__reverts(register, governance, alice):
    with ape.reverts("roles: no role given"):
        register.revoke_security_role(1, alice, 0, doc("revoke"), sender=governance)


def test_revoke_security_role__agent_loses_access(
    register, governance, issuer_agent, alice, open_account, new_security, today
):
    open_account(alice)
    sid = new_security([(alice, 100)])
    register.revoke_security_role(sid, issuer_agent, SecurityRole.ISSUER_AGENT, doc("revoke"), sender=governance)

    with ape.reverts("roles: caller is not issuer agent"):
        register.set_register_closure(sid, today + 30, 0, doc("agm"), sender=issuer_agent)


# ------------------------------------------------------------------------- pause


def test_pause__sets_flag_and_logs(register, governance):
    receipt = register.pause(doc("halt"), sender=governance)

    assert only_event(receipt, register.Paused) == {"actor": governance.address, "doc": doc("halt")}
    assert register.paused()


def test_pause__already_paused__reverts(register, governance):
    register.pause(doc("halt"), sender=governance)

    with ape.reverts("calendar: already paused"):
        register.pause(doc("halt"), sender=governance)


def test_unpause__clears_flag_and_logs(register, governance):
    register.pause(doc("halt"), sender=governance)

    receipt = register.unpause(doc("resume"), sender=governance)

    assert only_event(receipt, register.Unpaused) == {"actor": governance.address, "doc": doc("resume")}
    assert not register.paused()


def test_unpause__not_paused__reverts(register, governance):
    with ape.reverts("calendar: not paused"):
        register.unpause(doc("resume"), sender=governance)


@pytest.fixture(scope="module")
def book(register, governance, registrar, alice, bob, open_account, new_security, today):
    """A sealed JSC and an LLC held by alice and bob, a pending JSC, and carol unopened."""
    open_account(alice)
    open_account(bob)
    jsc = new_security([(alice, 1000), (bob, 1000)])
    llc = new_security([(alice, 100, 50)], kind=Kind.LLC)
    pending = new_security([], seal=False, declared_total=10)
    return {"jsc": jsc, "llc": llc, "pending": pending}


def _paused_calls(r, b, a):
    """(label, caller name, function name, args) for every state change the pause stops."""
    jsc, llc, pending, today = b["jsc"], b["llc"], b["pending"], a["today"]
    alice, bob, carol = a["alice"], a["bob"], a["carol"]
    d = doc("paused-call")
    return [
        # calendar
        ("publish_calendar", "registrar", "calendar: paused",
         (r.horizon_day() + 1, r.horizon_day() + 1, [], d)),
        ("amend_calendar", "registrar", "calendar: paused",
         (today + 3, not r.is_trading_day(today + 3), d)),
        # accounts
        ("open_account", "registrar", "accounts: paused", (carol, d, 1, True, d)),
        ("open_accounts", "registrar", "accounts: paused", ([(carol.address, d, 1, True)], d)),
        ("suspend_account", "registrar", "accounts: paused", (alice, d)),
        ("reactivate_account", "registrar", "accounts: paused", (alice, d)),
        ("close_account", "registrar", "accounts: paused", (alice, d)),
        ("set_qualified", "registrar", "accounts: paused", (alice, False, d)),
        # ledger: holders
        ("transfer", "alice", "ledger: paused", (bob, jsc, 1)),
        ("transferFrom", "alice", "ledger: paused", (alice, bob, jsc, 1)),
        ("approve", "alice", "ledger: paused", (bob, jsc, 1)),
        ("setOperator", "alice", "ledger: paused", (bob, True)),
        # registration, corporate_actions, recovery: registrar
        ("register_security", "registrar", "registration: paused", (doc("paused-code"), Kind.JSC, 0, 10, d)),
        ("register_holdings", "registrar", "registration: paused", (pending, [(alice.address, 10, 10, today, 0, False)], d)),
        ("seal_security", "registrar", "registration: paused", (pending, d)),
        ("set_security_status", "registrar", "corporate_actions: paused", (jsc, 3, d)),
        ("increase_capital", "registrar", "corporate_actions: paused", (jsc, [(alice.address, 10, 10)], d)),
        ("decrease_capital", "registrar", "corporate_actions: paused", (jsc, [(alice.address, 10)], d)),
        ("record_paid_in", "registrar", "corporate_actions: paused", (alice, llc, 60, d)),
        ("set_lockup", "registrar", "corporate_actions: paused", (alice, jsc, today + 5, d)),
        ("recover", "registrar", "recovery: paused", (alice, FRESH, [jsc], d)),
        # corporate_actions: issuer agent
        ("set_insider", "issuer_agent", "corporate_actions: paused", (alice, jsc, True, d)),
        ("set_register_closure", "issuer_agent", "corporate_actions: paused", (jsc, today + 30, 0, d)),
    ]


PAUSED_FUNCTIONS = [
    "publish_calendar", "amend_calendar", "open_account", "open_accounts", "suspend_account",
    "reactivate_account", "close_account", "set_qualified", "transfer", "transferFrom", "approve",
    "setOperator", "register_security", "register_holdings", "seal_security", "set_security_status",
    "increase_capital", "decrease_capital", "record_paid_in", "set_lockup", "recover", "set_insider",
    "set_register_closure",
]


@pytest.mark.parametrize("function", PAUSED_FUNCTIONS)
def test_pause__blocks_every_state_change(
    request, register, governance, book, today, alice, bob, carol, function
):
    actors = {"today": today, "alice": alice, "bob": bob, "carol": carol}
    calls = {c[0]: c[1:] for c in _paused_calls(register, book, actors)}
    assert set(calls) == set(PAUSED_FUNCTIONS)
    caller_name, reason, args = calls[function]
    caller = request.getfixturevalue(caller_name)
    if function == "reactivate_account":
        register.suspend_account(alice, doc("s"), sender=request.getfixturevalue("registrar"))
    register.pause(doc("halt"), sender=governance)

    with ape.reverts(reason):
        getattr(register, function)(*args, sender=caller)


def test_pause__transfer_preview_says_paused(register, governance, book, alice, bob):
    register.pause(doc("halt"), sender=governance)

    assert register.can_transfer(alice, bob, book["jsc"], 1) == (False, "ledger: paused")


def test_pause__governance_still_manages_roles(register, governance, alice, bob):
    register.pause(doc("halt"), sender=governance)

    register.grant_role(alice, Role.ACCOUNT_MANAGER, doc("grant"), sender=governance)
    register.revoke_role(alice, Role.ACCOUNT_MANAGER, doc("revoke"), sender=governance)
    register.grant_security_role(1, alice, SecurityRole.ISSUER_AGENT, doc("grant"), sender=governance)
    register.transfer_governance(bob, doc("hand-over"), sender=governance)
    register.accept_governance(doc("accept governance"), sender=bob)
    register.unpause(doc("resume"), sender=bob)
    assert not register.paused()


def test_unpause__state_changes_resume(register, governance, book, alice, bob):
    register.pause(doc("halt"), sender=governance)
    register.unpause(doc("resume"), sender=governance)

    assert register.can_transfer(alice, bob, book["jsc"], 1) == (True, "")
    register.transfer(bob, book["jsc"], 1, sender=alice)
    assert register.balanceOf(bob, book["jsc"]) == 1001
