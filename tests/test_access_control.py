"""Every state-changing function of the suite, called by someone without the role it needs,
reverts with the exact reason; called by the role holder, it goes through."""

from __future__ import annotations

import ape
import pytest

from conftest import doc
from regchain.constants import InvestorClass, Kind, Role, SecurityRole, holding_words

FRESH = "0x00000000000000000000000000000000000ACC55"  # an address with no account

NOT_GOVERNANCE = "roles: caller is not governance"
NOT_ACCOUNT_MANAGER = "roles: caller is not account manager"
NOT_SECURITY_MANAGER = "roles: caller is not security manager"
NOT_CALENDAR_MANAGER = "roles: caller is not calendar manager"
NOT_RECOVERY_MANAGER = "roles: caller is not recovery manager"
NOT_ISSUER_AGENT = "roles: caller is not issuer agent"
NOT_PENDING = "roles: caller is not pending governance"
NOT_COURT_AGENT = "roles: caller is not court agent"

# Which global role each reason stands for (to build a caller with every other role).
ROLE_OF_REASON = {
    NOT_ACCOUNT_MANAGER: Role.ACCOUNT_MANAGER,
    NOT_SECURITY_MANAGER: Role.SECURITY_MANAGER,
    NOT_CALENDAR_MANAGER: Role.CALENDAR_MANAGER,
    NOT_RECOVERY_MANAGER: Role.RECOVERY_MANAGER,
    NOT_COURT_AGENT: Role.COURT_AGENT,
}
ALL_GLOBAL_ROLES = Role.REGISTRAR | Role.COURT_AGENT


@pytest.fixture(scope="module")
def ctx(register, alice, bob, open_account, new_security, today):
    """alice and bob hold a sealed JSC and alice an LLC; two PENDING securities (one empty,
    one holding its declared total); carol has no account."""
    open_account(alice)
    open_account(bob)
    return {
        "jsc": new_security([(alice, 1000), (bob, 1000)]),
        "llc": new_security([(alice, 100, 50)], kind=Kind.LLC),
        "empty": new_security([], seal=False, declared_total=10),
        "full": new_security([(bob, 10)], seal=False),
        "today": today,
    }


def _calls(register, c, alice, bob, carol):
    """function -> (args, reason for a caller without the role)."""
    d = doc("access")
    jsc, llc, today = c["jsc"], c["llc"], c["today"]
    horizon = register.horizon_day()
    next_freeze = register.freeze_count() + 1
    return {
        # governance
        "transfer_governance": ((alice, d), NOT_GOVERNANCE),
        "grant_role": ((carol, Role.ACCOUNT_MANAGER, d), NOT_GOVERNANCE),
        "revoke_role": ((alice, Role.ACCOUNT_MANAGER, d), NOT_GOVERNANCE),
        "grant_security_role": ((jsc, carol, SecurityRole.ISSUER_AGENT, d), NOT_GOVERNANCE),
        "revoke_security_role": ((jsc, alice, SecurityRole.ISSUER_AGENT, d), NOT_GOVERNANCE),
        "pause": ((d,), NOT_GOVERNANCE),
        "unpause": ((d,), NOT_GOVERNANCE),
        "accept_governance": ((d,), NOT_PENDING),
        # account manager
        "open_account": ((carol, d, InvestorClass.INDIVIDUAL, True, d), NOT_ACCOUNT_MANAGER),
        "open_accounts": (([(carol.address, d, InvestorClass.INDIVIDUAL, True)], d), NOT_ACCOUNT_MANAGER),
        "suspend_account": ((alice, d), NOT_ACCOUNT_MANAGER),
        "reactivate_account": ((alice, d), NOT_ACCOUNT_MANAGER),
        "close_account": ((alice, d), NOT_ACCOUNT_MANAGER),
        "set_qualified": ((alice, False, d), NOT_ACCOUNT_MANAGER),
        # security manager
        "register_security": ((doc("access-code"), Kind.JSC, 0, 100, d), NOT_SECURITY_MANAGER),
        "register_holdings": ((c["empty"], [(alice.address, 10, 10, today, 0, False)], d), NOT_SECURITY_MANAGER),
        "register_holdings_many": (([holding_words(c["empty"], alice.address, 10, 10, today)], d),
                                   NOT_SECURITY_MANAGER),
        "seal_security": ((c["full"], d), NOT_SECURITY_MANAGER),
        "set_security_status": ((jsc, 3, d), NOT_SECURITY_MANAGER),
        "increase_capital": ((jsc, [(alice.address, 10, 10)], d), NOT_SECURITY_MANAGER),
        "increase_capital_waived": ((jsc, [(alice.address, 10, 10)], doc("waiver"), d), NOT_SECURITY_MANAGER),
        "decrease_capital": ((jsc, [(alice.address, 10)], d), NOT_SECURITY_MANAGER),
        "record_paid_in": ((alice, llc, 60, d), NOT_SECURITY_MANAGER),
        "set_lockup": ((alice, jsc, today + 5, d), NOT_SECURITY_MANAGER),
        # calendar manager
        "publish_calendar": ((horizon + 1, horizon + 7, [], d), NOT_CALENDAR_MANAGER),
        "amend_calendar": ((today + 3, not register.is_trading_day(today + 3), d), NOT_CALENDAR_MANAGER),
        # recovery manager
        "recover": ((alice, FRESH, [jsc, llc], d), NOT_RECOVERY_MANAGER),
        # issuer agent of the security
        "set_insider": ((alice, jsc, True, d), NOT_ISSUER_AGENT),
        "set_register_closure": ((jsc, today + 30, today + 40, d), NOT_ISSUER_AGENT),
        # security manager, on both parties' written instruction
        "register_pledge": ((alice, bob, jsc, 10, d), NOT_SECURITY_MANAGER),
        # migration of old books onto a PENDING security (bob holds all 10 units of "full")
        "import_pledges": ((c["full"], [(bob.address, alice.address, 5, 1_600_000_000)], d), NOT_SECURITY_MANAGER),
        "import_freezes": ((c["full"], [(bob.address, 5, d, 1_600_000_000, today + 30)], d), NOT_SECURITY_MANAGER),
        "set_transfer_terms": ((llc, False, False, 0, d), NOT_SECURITY_MANAGER),
        # court agent (the freeze _setup makes for the last three has id `next_freeze`)
        "freeze": ((alice, jsc, 100, d, today + 30, d), NOT_COURT_AGENT),
        "lift_freeze": ((next_freeze, d), NOT_COURT_AGENT),
        "renew_freeze": ((next_freeze, today + 60, d), NOT_COURT_AGENT),
        "court_transfer": ((next_freeze, bob, 10, d), NOT_COURT_AGENT),
    }


GOVERNANCE_FUNCTIONS = [
    "transfer_governance", "grant_role", "revoke_role", "grant_security_role",
    "revoke_security_role", "pause", "unpause",
]
REGISTRAR_FUNCTIONS = [
    "open_account", "open_accounts", "suspend_account", "reactivate_account", "close_account",
    "set_qualified", "register_security", "register_holdings", "register_holdings_many", "seal_security",
    "set_security_status", "increase_capital", "increase_capital_waived", "decrease_capital", "record_paid_in",
    "set_lockup", "publish_calendar", "amend_calendar", "recover",
]
ISSUER_AGENT_FUNCTIONS = ["set_insider", "set_register_closure"]
REGISTRAR_FUNCTIONS += ["register_pledge", "import_pledges", "import_freezes", "set_transfer_terms"]
COURT_FUNCTIONS = ["freeze", "lift_freeze", "renew_freeze", "court_transfer"]
# Parties' own actions (pledgor, pledgee) and anyone's tidy-up: their caller checks are
# specified in tests/test_pledges.py and tests/test_freezes.py.
PARTY_FUNCTIONS = {
    "offer_pledge", "accept_pledge", "cancel_pledge_offer", "release_pledge", "enforce_pledge",
    "consent_pledged_transfer", "transfer_pledged", "tidy_freezes",
    # the fund manager's consent to a pledgee's enforcement: specified in tests/test_rules_paths.py
    "consent_enforcement",
    # transfer instructions: seller, buyer, manager, exercising holders, refund owners,
    # and the governance-only cash-token list; specified in tests/test_instructions*.py
    "propose_transfer", "propose_court_sale", "accept_transfer", "consent_transfer",
    "reject_transfer", "withdraw_transfer", "exercise_first_refusal", "settle_transfer",
    "claim_refund", "reclaim_lapsed", "set_cash_token",
    # one-way bidding: seller, bidders, anyone closing, the fund manager's consent
    "list_units", "consent_listing", "bid", "close_listing", "withdraw_listing",
}

# Who may call each function (the positive control).
HOLDER_OF_ROLE = {
    **{f: "governance" for f in GOVERNANCE_FUNCTIONS},
    **{f: "registrar" for f in REGISTRAR_FUNCTIONS},
    **{f: "issuer_agent" for f in ISSUER_AGENT_FUNCTIONS},
    **{f: "court" for f in COURT_FUNCTIONS},
}

CASES = (
    [(f, who) for f in GOVERNANCE_FUNCTIONS for who in ("registrar", "outsider", "alice")]
    + [(f, who) for f in REGISTRAR_FUNCTIONS for who in ("governance", "issuer_agent", "outsider", "alice")]
    + [(f, who) for f in ISSUER_AGENT_FUNCTIONS for who in ("registrar", "governance", "outsider")]
    + [(f, who) for f in COURT_FUNCTIONS for who in ("registrar", "governance", "outsider", "alice")]
)


def _setup(register, function, governance, registrar, alice, ctx=None):
    """Put the state where the role holder's call would succeed."""
    if function == "unpause":
        register.pause(doc("halt"), sender=governance)
    elif function == "reactivate_account":
        register.suspend_account(alice, doc("suspend"), sender=registrar)
    elif function in ("lift_freeze", "renew_freeze", "court_transfer"):
        court = next(a for a in ape.accounts.test_accounts if Role.COURT_AGENT in Role(register.roles_of(a)))
        register.freeze(alice, ctx["jsc"], 100, doc("case"), register.today() + 30, doc("freeze"), sender=court)


def test_suite_functions__table_covers_every_state_changing_function(register, ctx, alice, bob, carol):
    """The table below must name every non-view function of the merged ABI."""
    holder_functions = {"transfer", "transferFrom", "approve", "setOperator"}  # no role: tested below
    holder_functions |= PARTY_FUNCTIONS
    mutating = {
        item.name for item in register.contract_type.abi
        if item.type == "function" and item.stateMutability not in ("view", "pure")
    }
    assert mutating == set(_calls(register, ctx, alice, bob, carol)) | holder_functions


@pytest.mark.parametrize("function,caller", CASES, ids=[f"{f}-{w}" for f, w in CASES])
def test_role_check__caller_without_role__reverts(
    request, register, ctx, governance, registrar, alice, bob, carol, function, caller
):
    args, reason = _calls(register, ctx, alice, bob, carol)[function]
    _setup(register, function, governance, registrar, alice, ctx)

    with ape.reverts(reason):
        getattr(register, function)(*args, sender=request.getfixturevalue(caller))


@pytest.mark.parametrize("function", sorted(HOLDER_OF_ROLE))
def test_role_check__role_holder__succeeds(
    request, register, ctx, governance, registrar, alice, bob, carol, function
):
    args, _ = _calls(register, ctx, alice, bob, carol)[function]
    _setup(register, function, governance, registrar, alice, ctx)

    receipt = getattr(register, function)(*args, sender=request.getfixturevalue(HOLDER_OF_ROLE[function]))

    assert not receipt.failed


@pytest.mark.parametrize(
    "function", [f for f in REGISTRAR_FUNCTIONS], ids=lambda f: f,
)
def test_role_check__every_other_global_role__reverts(
    register, ctx, governance, registrar, alice, bob, carol, dave, function
):
    """One role per action: holding all the others does not open it."""
    args, reason = _calls(register, ctx, alice, bob, carol)[function]
    register.grant_role(dave, ALL_GLOBAL_ROLES & ~ROLE_OF_REASON[reason], doc("grant"), sender=governance)
    _setup(register, function, governance, registrar, alice, ctx)

    with ape.reverts(reason):
        getattr(register, function)(*args, sender=dave)


@pytest.mark.parametrize("function", ISSUER_AGENT_FUNCTIONS)
def test_role_check__issuer_agent_of_another_security__reverts(
    register, ctx, governance, alice, bob, carol, dave, function
):
    args, reason = _calls(register, ctx, alice, bob, carol)[function]
    register.grant_security_role(ctx["llc"], dave, SecurityRole.ISSUER_AGENT | SecurityRole.FUND_MANAGER,
                                 doc("grant"), sender=governance)

    with ape.reverts(reason):
        getattr(register, function)(*args, sender=dave)


@pytest.mark.parametrize("caller", ["governance", "registrar", "alice", "bob"])
def test_accept_governance__not_pending__reverts(request, register, governance, carol, caller):
    register.transfer_governance(carol, doc("hand-over"), sender=governance)

    with ape.reverts(NOT_PENDING):
        register.accept_governance(doc("accept governance"), sender=request.getfixturevalue(caller))


@pytest.mark.parametrize("caller", ["outsider", "bob", "registrar"])
def test_transferFrom__neither_owner_operator_nor_allowed__reverts(request, register, ctx, alice, bob, caller):
    with ape.reverts("ledger: insufficient allowance"):
        register.transferFrom(alice, bob, ctx["jsc"], 1, sender=request.getfixturevalue(caller))


@pytest.mark.parametrize(
    "calldata",
    [bytes.fromhex("12345678"), bytes.fromhex("deadbeef") + bytes(32), b"", b"\x01"],
    ids=["selector", "selector-with-args", "empty", "short"],
)
def test_fallback__unknown_function__reverts(register, outsider, calldata):
    with ape.reverts("register: unknown function"):
        outsider.transfer(register.address, 0, data=calldata)
