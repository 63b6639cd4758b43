"""The indexer rebuilds the register from events alone: the rebuild equals contract state
after a scenario touching every kind of event, a resumed rebuild equals an uninterrupted
one, chunks the node refuses are halved, and the supervisory feed is categorised."""

from __future__ import annotations

import json

import pytest

from regchain import audit, indexer
from regchain.constants import InvestorClass, Kind, SecurityRole
from regchain.migrate import Chain

from conftest import doc


@pytest.fixture(scope="module")
def scenario(chain, accounts, register, registrar, court, issuer_agent, governance, alice, bob, carol, dave,
             outsider, open_account, new_security, advance_days, today):
    """Accounts, two securities, transfers, capital changes, pledges, freezes (a lift, a lapse
    tidied and one not), a court transfer, a recovery. Returns (ids, the chain's head)."""
    new_carol = accounts[9]
    for who in (alice, bob, carol, dave):
        open_account(who)
    open_account(outsider, qualified=False, investor_class=InvestorClass.INSTITUTION)
    llc = new_security([(alice, 1000, 600), (bob, 500, 0)], kind=Kind.LLC)
    jsc = new_security([(alice, 1000), (bob, 1000), (carol, 500)], kind=Kind.JSC)

    register.transfer(dave, jsc, 100, sender=alice)
    register.transfer(bob, llc, 300, sender=alice)             # paid-in moves first (bob is a member: no notice)
    register.set_insider(bob, jsc, True, doc("insider"), sender=issuer_agent)
    register.transfer(carol, jsc, 100, sender=bob)             # insider quota
    register.set_lockup(carol, jsc, today + 30, doc("lockup"), sender=registrar)
    register.record_paid_in(bob, llc, 200, doc("paid"), sender=registrar)
    register.increase_capital(llc, [(dave.address, 100, 50)], doc("increase"), sender=registrar)
    register.decrease_capital(jsc, [(carol.address, 50)], doc("decrease"), sender=registrar)
    register.approve(bob, jsc, 50, sender=alice)
    register.transferFrom(alice, carol, jsc, 20, sender=bob)   # spends 20 of the allowance
    register.setOperator(carol, True, sender=dave)
    register.set_register_closure(jsc, today + 200, 0, doc("agm"), sender=issuer_agent)
    register.suspend_account(outsider, doc("suspend"), sender=registrar)
    register.reactivate_account(outsider, doc("reactivate"), sender=registrar)
    register.set_qualified(outsider, True, doc("qualify"), sender=registrar)
    register.set_security_status(llc, 3, doc("suspend llc"), sender=registrar)
    register.set_security_status(llc, 2, doc("resume llc"), sender=registrar)
    register.grant_security_role(jsc, dave, SecurityRole.FUND_MANAGER, sender=governance)
    register.revoke_security_role(jsc, dave, SecurityRole.FUND_MANAGER, sender=governance)

    # pledges: offer/accept, partial release, enforcement, a registered one, a cancelled offer
    register.offer_pledge(jsc, bob, 200, doc("pledge A"), sender=alice)
    pa = register.pledge_count()
    register.accept_pledge(pa, doc("accept A"), sender=bob)
    register.release_pledge(pa, 50, doc("release A"), sender=bob)
    register.register_pledge(dave, carol, jsc, 30, doc("pledge B"), sender=registrar)
    pb = register.pledge_count()
    register.accept_pledge(pb, doc("accept B"), sender=carol)
    register.offer_pledge(llc, dave, 10, doc("pledge C"), sender=bob)
    register.cancel_pledge_offer(register.pledge_count(), doc("withdrawn"), sender=bob)
    register.enforce_pledge(pa, bob, 100, doc("enforce A"), sender=bob)
    register.consent_pledged_transfer(pb, bob, 10, doc("consent B"), sender=carol)

    # freezes: alice holds 780 JSC, 50 of them pledged
    register.freeze(alice, jsc, 300, doc("case 1"), today + 10, doc("freeze 1"), sender=court)
    f1 = register.freeze_count()
    register.freeze(alice, jsc, 600, doc("case 2"), today + 100, doc("freeze 2"), sender=court)  # waits
    f2 = register.freeze_count()
    register.freeze(alice, jsc, 100, doc("case 3"), today + 100, doc("freeze 3"), sender=court)  # waits
    register.freeze(bob, jsc, 100, doc("case 4"), today + 2, doc("freeze 4"), sender=court)      # lapses, tidied
    register.freeze(dave, jsc, 10, doc("case 5"), today + 1, doc("freeze 5"), sender=court)      # lapses, stays
    register.lift_freeze(f1, doc("lift 1"), sender=court)    # freeze 2 takes effect, 3 too
    register.renew_freeze(f2, today + 300, doc("renew 2"), sender=court)
    advance_days(7)
    register.tidy_freezes(bob, jsc, sender=outsider)
    register.court_transfer(f2, bob, 100, doc("court order"), sender=court)
    register.transfer_pledged(pb, doc("sale B"), sender=dave)

    # lost key: carol's holdings and account move to a fresh address
    register.recover(carol, new_carol, [jsc], doc("recovery"), sender=registrar)
    return {"llc": llc, "jsc": jsc, "head": chain.blocks.head.number, "new_carol": new_carol}


def _indexer(register, tmp_path, **kw):
    return indexer.Indexer(indexer.HttpRpc.from_ape(), register.address, indexer.abi_of_suite(),
                           checkpoint=tmp_path / "idx.json", network_key="test", **kw)


def test_rebuild__after_scenario__equals_contract_state(scenario, register, tmp_path):
    state = _indexer(register, tmp_path).sync(scenario["head"])
    assert state.notes == []
    assert audit.compare(state, Chain(register, None)) == []
    jsc = scenario["jsc"]
    # the rebuild holds what the scenario did
    statuses = {f["status"] for f in state.freezes.values()}
    assert statuses == {indexer.OPEN, indexer.LIFTED, indexer.LAPSED}
    new_carol = scenario["new_carol"].address
    assert state.holdings[indexer.hkey(new_carol, jsc)]["balance"] > 0
    assert state.accounts[new_carol]["status"] == 1
    day = register.today()
    kinds = {state.freeze_status(int(f), day) for f in state.freezes}
    assert {"IN_FORCE", "LIFTED", "LAPSED"} <= kinds


def test_rebuild__tampered_state__lists_the_difference(scenario, register, alice, tmp_path):
    state = _indexer(register, tmp_path).sync(scenario["head"])
    state.holdings[indexer.hkey(alice.address, scenario["jsc"])]["balance"] += 1
    diffs = audit.compare(state, Chain(register, None))
    assert any(d.startswith(f"holding {alice.address}/{scenario['jsc']}: balance") for d in diffs)


def test_rebuild__resumed_from_checkpoint__same_result(scenario, register, tmp_path):
    whole = _indexer(register, tmp_path / "a").sync(scenario["head"]).to_json()
    first = _indexer(register, tmp_path / "b", chunk=4)
    first.sync(scenario["head"], stop_after_chunks=3)
    saved = json.loads((tmp_path / "b" / "idx.json").read_text())["test"]
    assert saved["last_block"] < scenario["head"]
    resumed = _indexer(register, tmp_path / "b", chunk=4).sync(scenario["head"]).to_json()
    assert resumed == whole


class _Refusing:
    """An RPC whose eth_getLogs refuses ranges of more than 5 blocks, like a capped node."""

    def __init__(self, rpc):
        self.rpc, self.refused = rpc, 0

    def call(self, method, params):
        if method == "eth_getLogs":
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) + 1
            if span > 5:
                self.refused += 1
                raise indexer.RpcError("query returned more than 10000 results", -32005)
        return self.rpc.call(method, params)

    def batch(self, calls):
        return self.rpc.batch(calls)


def test_rebuild__node_refuses_large_chunks__halves_and_gets_the_same(scenario, register, tmp_path):
    whole = _indexer(register, tmp_path / "a").sync(scenario["head"]).to_json()
    rpc = _Refusing(indexer.HttpRpc.from_ape())
    idx = indexer.Indexer(rpc, register.address, indexer.abi_of_suite(), chunk=64)
    got = idx.sync(scenario["head"]).to_json()
    assert {**got, "last_block_hash": None} == {**whole, "last_block_hash": None}
    assert rpc.refused > 0


def test_feed__categories_and_document_hashes(scenario, register):
    events = []
    indexer.replay(indexer.HttpRpc.from_ape(), register.address, indexer.abi_of_suite(),
                   to_block=scenario["head"], on_event=events.append)
    lines = list(indexer.feed_lines(events))
    assert {ln["category"] for ln in lines} == set(indexer.CATEGORIES) - {indexer.CASH}
    by_event = {}
    for ln in lines:
        by_event.setdefault(ln["event"], []).append(ln)
        json.dumps(ln, ensure_ascii=False)  # every line is JSON
    assert by_event["CourtTransferred"][0]["category"] == indexer.SETTLEMENT
    assert by_event["CourtTransferred"][0]["doc"] == "0x" + doc("court order").hex()
    assert by_event["Frozen"][0]["category"] == indexer.ASSET_MAP
    assert by_event["Frozen"][0]["doc"] == "0x" + doc("freeze 1").hex()
    assert by_event["AccountOpened"][0]["category"] == indexer.USERS
    # a Transfer takes its category and document from its transaction
    court_tx = by_event["CourtTransferred"][0]["tx"]
    moved = [ln for ln in by_event["Transfer"] if ln["tx"] == court_tx]
    assert moved and moved[0]["category"] == indexer.SETTLEMENT and moved[0]["doc"] == moved[0]["doc"]
    decrease = [ln for ln in by_event["Transfer"] if ln["fields"]["receiver"] == indexer.ZERO]
    assert decrease[0]["category"] == indexer.ASSETS and decrease[0]["doc"] == "0x" + doc("decrease").hex()
    plain = [ln for ln in by_event["Transfer"] if ln["category"] == indexer.TRANSFERS]
    assert plain and all(ln["doc"] is None for ln in plain if ln["tx"] not in
                         {x["tx"] for x in by_event.get("PledgeReleased", [])})
    for ln in lines:
        assert {"block", "tx", "log_index", "category", "event", "doc", "fields"} <= set(ln)
