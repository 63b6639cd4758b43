"""The gas table (regchain.gaslimits) against the gas the functions really use.

Every function `ops`, the setup and the calendar send has a gas limit in
regchain.gaslimits.GAS: the measured worst case (loops at the contracts' MAX_* bounds)
or, for functions without loops, the measured cost on a cold path, plus the stated
margin. This test measures them again on a fresh anvil (a port it picks itself): the
worst cases with tests/test_robustness_contracts.py `worst_cases` (~2 minutes), the
constant-cost functions with `cold_cases` below, and fails if any function uses more
than its limit, or if a function measured here is missing from the table; so the table
cannot silently go stale when a contract changes.
"""

from __future__ import annotations

import socket

import pytest

from regchain import gaslimits
from regchain.constants import Kind, SecurityRole, SecurityStatus

from regchain.testing.worstcase import BoundsNode, Sender, h, worst_cases

ZERO = "0x" + "00" * 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cold_cases(backend, gov: str, registrar: str, court: str, alice: str, bob: str, manager: str,
               bank: str, heir: str) -> dict[str, int]:
    """Gas of the functions without loops, each on a cold path (first write of its slots).
    alice, bob, manager and bank hold open qualified accounts; heir holds none; the
    registrar holds REGISTRAR and the court COURT_AGENT; governance is `gov`."""
    send = Sender(backend, 30_000_000)
    call = backend.call
    gas: dict[str, int] = {}
    today = call("today")
    gas["open_account"] = send(registrar, "open_account", heir, h(f"id {heir}"), 1, True, h("open"))
    gas["set_qualified"] = send(registrar, "set_qualified", heir, False, h("q"))
    gas["suspend_account"] = send(registrar, "suspend_account", heir, h("s"))
    gas["reactivate_account"] = send(registrar, "reactivate_account", heir, h("r"))
    gas["close_account"] = send(registrar, "close_account", heir, h("c"))

    def security(label, kind, holdings, seal=True):
        code = h(f"cold {label}")
        g = send(registrar, "register_security", code, int(kind), 0, sum(u for _, u in holdings), h("reg"))
        sid = call("security_id", code)
        send(registrar, "register_holdings", sid, [(a, u, u, today - 60, 0, False) for a, u in holdings], h("hold"))
        if seal:
            gas["seal_security"] = send(registrar, "seal_security", sid, h("seal"))
        return sid, g

    sid, gas["register_security"] = security("jsc", Kind.JSC, [(alice, 1_000), (bob, 1_000)])
    gas["set_security_status"] = send(registrar, "set_security_status", sid, int(SecurityStatus.SUSPENDED), h("st"))
    send(registrar, "set_security_status", sid, int(SecurityStatus.ACTIVE), h("st"))
    gas["set_lockup"] = send(registrar, "set_lockup", bob, sid, today + 5, h("lock"))
    send(registrar, "set_lockup", bob, sid, 0, h("unlock"))
    gas["grant_security_role"] = send(gov, "grant_security_role", sid, manager, int(SecurityRole.ISSUER_AGENT), h("g"))
    gas["set_insider"] = send(manager, "set_insider", bob, sid, True, h("insider"))
    gas["set_transfer_terms"] = send(registrar, "set_transfer_terms", sid, False, True, 0, h("terms"))
    send(registrar, "set_transfer_terms", sid, False, False, 0, h("terms"))
    gas["revoke_security_role"] = send(gov, "revoke_security_role", sid, manager, int(SecurityRole.ISSUER_AGENT),
                                       h("r"))
    gas["grant_role"] = send(gov, "grant_role", manager, 1, h("grant"))
    gas["revoke_role"] = send(gov, "revoke_role", manager, 1, h("revoke"))

    # holder actions
    gas["approve"] = send(alice, "approve", manager, sid, 5, h("a"))
    gas["setOperator"] = send(alice, "setOperator", manager, True)
    gas["transferFrom"] = send(manager, "transferFrom", alice, bank, sid, 1)

    # pledges without loops
    gas["register_pledge"] = send(registrar, "register_pledge", alice, bank, sid, 10, h("p"))
    pid = call("pledge_count")
    gas["accept_pledge (the first on a holding)"] = send(bank, "accept_pledge", pid, h("accept"))
    gas["release_pledge"] = send(bank, "release_pledge", pid, 2, h("rel"))
    gas["consent_pledged_transfer"] = send(bank, "consent_pledged_transfer", pid, bob, 3, h("consent"))
    gas["transfer_pledged (one pledge)"] = send(alice, "transfer_pledged", pid, h("sale"))
    gas["enforce_pledge (one pledge, by the pledgee)"] = send(bank, "enforce_pledge", pid, manager, 1, h("enf"))
    gas["offer_pledge (the second on a holding)"] = send(alice, "offer_pledge", sid, bank, 10, h("offer"))
    gas["cancel_pledge_offer"] = send(alice, "cancel_pledge_offer", call("pledge_count"), h("cancel"))

    # freezes without others on the holding
    gas["transfer (new holder, first of the day)"] = send(alice, "transfer", manager, sid, 1)
    gas["freeze (the first on a holding)"] = send(court, "freeze", bob, sid, 10, h("case"), today + 30, h("ruling"))
    fid = call("freeze_count")
    gas["renew_freeze (the only one)"] = send(court, "renew_freeze", fid, today + 60, h("renew"))
    gas["court_transfer (the only freeze)"] = send(court, "court_transfer", fid, manager, 5, h("order"))
    gas["lift_freeze (none waiting)"] = send(court, "lift_freeze", fid, h("lift"))

    # an LLC: paid-in capital, the waived increase
    llc, _ = security("llc", Kind.LLC, [(alice, 100), (bob, 100)])
    gas["record_paid_in"] = send(registrar, "record_paid_in", alice, llc, 50, h("paid"))

    # a fund: the manager's consent to an enforcement and to a transfer
    fund, _ = security("fund", Kind.LP_FUND, [(alice, 1_000), (bob, 1_000)])
    send(gov, "grant_security_role", fund, manager, int(SecurityRole.FUND_MANAGER), h("g"))
    send(registrar, "register_pledge", alice, bank, fund, 100, h("p"))
    send(bank, "accept_pledge", call("pledge_count"), h("accept"))
    gas["consent_enforcement"] = send(manager, "consent_enforcement", call("pledge_count"), bob, 10, h("ce"))
    send(alice, "propose_transfer", bob, fund, 10, 100, ZERO, h("fop"))
    iid = call("instruction_count")
    gas["consent_transfer"] = send(manager, "consent_transfer", iid, h("c"))
    send(alice, "propose_transfer", bob, fund, 10, 100, ZERO, h("fop"))
    gas["reject_transfer"] = send(manager, "reject_transfer", call("instruction_count"), h("rej"))

    # free-of-payment instructions (no exercisers)
    gas["propose_transfer"] = send(alice, "propose_transfer", bob, sid, 10, 100, ZERO, h("fop"))
    iid = call("instruction_count")
    gas["accept_transfer"] = send(bob, "accept_transfer", iid, h("acc"))
    gas["settle_transfer (free of payment, no exercisers)"] = send(registrar, "settle_transfer", iid, h("settle"))
    send(alice, "propose_transfer", bob, sid, 10, 100, ZERO, h("fop"))
    gas["withdraw_transfer"] = send(alice, "withdraw_transfer", call("instruction_count"), h("w"))
    gas["propose_court_sale"] = send(court, "propose_court_sale", alice, bob, sid, 10, 0, ZERO, h("ruling"))

    # delivery versus payment and one-way bidding with a cash token
    token = _deploy_cash_token(backend, gov)
    gas["set_cash_token"] = send(gov, "set_cash_token", token, True, h("token"))
    for who in (bob, manager, bank):
        _token_call(backend, token, gov, "mint", who, 10**9)
        _token_call(backend, token, who, "approve", backend.address, 10**9)
    send(alice, "propose_transfer", bob, sid, 10, 1_000, token, h("dvp"))
    iid = call("instruction_count")
    gas["accept_transfer (escrows the price)"] = send(bob, "accept_transfer", iid, h("acc"))
    gas["settle_transfer (delivery versus payment, no exercisers)"] = send(alice, "settle_transfer", iid, h("s"))
    gas["list_units"] = send(alice, "list_units", sid, 10, 100, token, today + 3, h("list"))
    lid = call("listing_count")
    gas["bid (the first)"] = send(bob, "bid", lid, 200, h("bid"))
    gas["bid (outbids, refund owed)"] = send(bank, "bid", lid, 300, h("bid"))
    gas["claim_refund"] = send(bob, "claim_refund", token, h("refund"))
    send(alice, "list_units", sid, 10, 100, token, today + 3, h("list"))
    gas["withdraw_listing"] = send(alice, "withdraw_listing", call("listing_count"), h("w"))
    send(alice, "list_units", fund, 10, 100, token, today + 3, h("list"))
    gas["consent_listing"] = send(manager, "consent_listing", call("listing_count"), h("c"))
    backend.rpc.call("evm_increaseTime", [hex(5 * 86400)])
    backend.rpc.call("evm_mine")
    gas["close_listing (sold)"] = send(alice, "close_listing", lid, h("close"))

    # governance
    gas["pause"] = send(gov, "pause", h("pause"))
    gas["unpause"] = send(gov, "unpause", h("unpause"))
    gas["transfer_governance"] = send(gov, "transfer_governance", manager, h("tg"))
    gas["accept_governance"] = send(manager, "accept_governance", h("ag"))
    return gas


def _deploy_cash_token(backend, sender: str) -> str:
    from ape import project
    from eth_utils import to_checksum_address

    code = project.CashToken.contract_type.deployment_bytecode.bytecode
    receipt = backend.rpc.call("eth_sendTransactionSync", [{"from": sender, "data": code, "gas": hex(5_000_000),
                                                            "gasPrice": "0x0"}])
    assert int(receipt["status"], 16) == 1
    return to_checksum_address(receipt["contractAddress"])


def _token_call(backend, token: str, sender: str, fn: str, *args) -> None:
    from regchain.abi import CASH_TOKEN_ABI, Function

    item = next(i for i in CASH_TOKEN_ABI if i["name"] == fn)
    data = Function(item).encode(args)
    receipt = backend.rpc.call("eth_sendTransactionSync", [{"from": sender, "to": token, "data": "0x" + data.hex(),
                                                            "gas": hex(1_000_000), "gasPrice": "0x0"}])
    assert int(receipt["status"], 16) == 1, fn


def _table_name(case: str) -> str:
    """'transfer (8 pledges + 64 freezes, ...)' -> 'transfer'."""
    return case.split(" (")[0]


@pytest.fixture(scope="module")
def measured():
    with BoundsNode(_free_port()) as node:
        a = node.accounts
        backend = node.deploy_world()
        gas = cold_cases(backend, a[0], a[1], a[3], a[4], a[5], a[6], a[7], a[8])
        backend = node.deploy_world()
        gas.update(worst_cases(backend, a[0], a[1], a[3], a[4], a[5], a[7], encumbered_holders=25, recover_ids=200))
    return gas


def test_gas_table__every_measured_function__uses_less_than_its_limit(measured):
    over = {case: (g, gaslimits.GAS[_table_name(case)]) for case, g in measured.items()
            if _table_name(case) in gaslimits.GAS and g > gaslimits.GAS[_table_name(case)]}
    assert not over, f"measured gas above the table's limit (gas, limit): {over}"


def test_gas_table__every_measured_function__is_in_the_table(measured):
    missing = sorted({_table_name(case) for case in measured} - set(gaslimits.GAS))
    assert missing == []


def test_gas_table__limit__is_the_recorded_measurement_plus_the_margin():
    for fn, (gas, kind, _case) in gaslimits.MEASURED.items():
        assert gaslimits.GAS[fn] == gaslimits.limit_of(gas, kind), fn


def test_gas_limit__unknown_function__names_it():
    with pytest.raises(KeyError, match="no gas limit for 'no_such_function'"):
        gaslimits.gas_limit("no_such_function")
