"""Issue 12's events in the supervisory objects, from a real run: the LLC capital increase without
pro-rata pre-emption (PreemptionWaived), a fund manager's consent to a pledgee's enforcement
(EnforcementConsented), who moved the units of an enforced pledge (ForcedTransfer.path), and a key
recovery continued in a later transaction (no transfer is reported)."""

from __future__ import annotations

import json

import pytest
from conftest import doc

from regchain import indexer as ix
from regchain.constants import Kind, SecurityRole
from regchain.supervise import generate
from regchain.supervise.store import Store

from supervise_support import (  # noqa: F401  (fixtures)
    abi, actors, deploy_anchor, rights_equal_chain, rpc, run, scenario, synced, write_books)


def by_step(store: Store) -> dict:
    out = {}
    for r in store.rows():
        out.setdefault(r.step, []).append(json.loads(store.read_bytes(r.object_id, r.version)))
    return out


def report_of(objs: list) -> list:
    return [o["body"]["transaction_report_information"] for o in objs if o["header"]["content"]["type"] ==
            "transactionreport"]


def test_sync__capital_increase_waived__waiver_in_product_and_reports(synced, scenario):
    store = Store(synced["tmp"] / "store", readonly=True)
    objs = by_step(store)["Capital increase"]
    product = [o for o in objs if o["header"]["content"]["type"] == "product"][-1]
    issue = product["body"]["product_information"]["release_information"]["equity_issue_information"]
    assert "不按出资比例优先认缴" in issue["release_note_information"]
    assert issue["product_registered_capital_before_issuance"] == 1000 and \
        issue["product_registered_capital_issuance"] == 1250
    reports = report_of(objs)
    assert len(reports) == 1  # bob alone subscribes
    proofs = reports[0]["transaction_information"]["transaction_verification_information"]["transaction_verification_doc"]
    assert [p["hash"] for p in proofs] == ["0x" + doc("resolution").hex(), "0x" + doc("waiver").hex()]
    assert proofs[1]["summary"] == "放弃优先认缴权的股东会决议或章程"


@pytest.fixture(scope="module")
def fund_run(tmp_path_factory, scenario, register, governance, registrar, issuer_agent, court, rpc, abi, actors,
             alice, carol, dave, new_security, accounts):
    """After the shared scenario: a fund pledged by carol to dave, the manager's consent, dave's own
    enforcement; a JSC pledge of alice enforced by the court agent; alice's key recovered in two
    transactions."""
    fund = new_security([(carol, 3_000_000), (dave, 3_000_000)], kind=Kind.LP_FUND)
    register.grant_security_role(fund, issuer_agent, SecurityRole.FUND_MANAGER, doc("manager"), sender=governance)
    register.offer_pledge(fund, dave, 1_000_000, doc("fund pledge"), sender=carol)
    fpid = register.pledge_count()
    register.accept_pledge(fpid, doc("fund acceptance"), sender=dave)
    register.consent_enforcement(fpid, dave, 1_000_000, doc("manager consent"), sender=issuer_agent)
    register.enforce_pledge(fpid, dave, 1_000_000, doc("fund default"), sender=dave)
    jsc = scenario["jsc"]
    register.offer_pledge(jsc, carol, 100, doc("jsc pledge"), sender=alice)
    jpid = register.pledge_count()
    register.accept_pledge(jpid, doc("jsc acceptance"), sender=carol)
    register.enforce_pledge(jpid, dave, 100, doc("court order"), sender=court)
    new_key = accounts[9]
    first = register.recover(alice, new_key, [jsc], doc("recovery 1"), sender=registrar)
    second = register.recover(alice, new_key, [scenario["llc"]], doc("recovery 2"), sender=registrar)  # continued
    tmp = tmp_path_factory.mktemp("supervise-events")
    books = write_books(tmp / "books.sqlite", register, actors, scenario)
    books.add_security(register.code_hash_of(fund), "FUND01", "示例创业投资基金", "91310000MA1FL0000X",
                       "示例创业投资合伙企业（有限合伙）", "2020-01-02")
    books.add_document(doc("manager consent"), "GP-2024-001", "基金管理人同意函.pdf")
    run(tmp, register, deploy_anchor(register, governance), registrar, rpc, abi, actors, scenario, books=books)
    return {"store": Store(tmp / "store", readonly=True), "fund": fund, "fpid": fpid, "jpid": jpid,
            "recovery_blocks": (first.block_number, second.block_number)}


def test_sync__enforcement_consented__nothing_then_consent_in_the_enforcement_report(fund_run):
    store = fund_run["store"]
    assert store.errors() == []
    steps = by_step(store)
    assert "Enforcement consented" not in steps  # a consent writes no object of its own
    enforced = [r for r in report_of(steps["Pledge enforced"])
                if f"质押编号 {fund_run['fpid']}" in r["basic_transaction_information"]["basic_information_remark"][
                    "transaction_description"]]
    assert len(enforced) == 1
    remark = enforced[0]["basic_transaction_information"]["basic_information_remark"]
    assert remark["transaction_type"] == 5 and remark["transaction_description"].startswith(
        f"质权实现（质权人，质押编号 {fund_run['fpid']}）；基金管理人同意（")
    proofs = enforced[0]["transaction_information"]["transaction_verification_information"][
        "transaction_verification_doc"]
    assert [(p["hash"], p.get("file_number")) for p in proofs] == [
        ("0x" + doc("fund default").hex(), None), ("0x" + doc("manager consent").hex(), "GP-2024-001")]
    assert enforced[0]["transaction_information"]["transaction_content_information"][
        "transaction_settlement_quantity"] == 1_000_000


def test_sync__court_enforces_pledge__report_says_court(fund_run):
    steps = by_step(fund_run["store"])
    texts = [r["basic_transaction_information"]["basic_information_remark"]["transaction_description"]
             for r in report_of(steps["Pledge enforced"])]
    assert f"质权实现（法院执行，质押编号 {fund_run['jpid']}）" in texts
    assert not any("基金管理人同意" in t for t in texts if f"编号 {fund_run['jpid']}）" in t)


def test_sync__key_recovery_continued__no_transfer_reported(fund_run, register, scenario):
    """The first recovery updates the account (same object); the second, without AccountRecovered,
    moves the LLC holding to the new key and reports nothing (before: a type-3 transfer)."""
    store = fund_run["store"]
    first, second = fund_run["recovery_blocks"]
    assert {(r.type, r.step) for r in store.rows("block = ?", (first,))} == {("account", "Key recovery")}
    assert store.rows("block = ?", (second,)) == []
    assert rights_equal_chain(store, register, {scenario["jsc"]: 0, scenario["llc"]: 2, fund_run["fund"]: 0}) >= 20


def ev(name, i, **args):
    return ix.Event(name, 10, "0x" + "ab" * 32, i, args, 1_700_000_000)


def test_split_steps__recovery_continued__applied_not_reported():
    events = [ev("Transfer", 0, sender="0x1", receiver="0x2", id=1, amount=5, caller="0x9"),
              ev("ForcedTransfer", 1, path=ix.RECOVERY), ev("HoldingRecovered", 2)]
    steps = generate.Generator.split_steps(None, events)
    assert steps == [(None, events)]


def test_split_steps__plain_transfers__one_step_each_other_events_applied():
    t1 = ev("Transfer", 0, sender="0x1", receiver="0x2", id=1, amount=5, caller="0x1")
    t2 = ev("Transfer", 1, sender="0x2", receiver="0x3", id=1, amount=5, caller="0x2")
    other = ev("OperatorSet", 2)
    assert generate.Generator.split_steps(None, [t1, t2, other]) == [(t1, [t1]), (t2, [t2]), (None, [other])]
