"""The generator over a real scenario on anvil: accounts, two securities, a transfer, a pledge and
its release, a freeze (and a queued one it promotes on lifting), a capital increase. Every stored
snapshot validates, every seal verifies, every anchor matches, rights records equal the chain's
balances after each step; a re-run sends nothing; runs killed at several points finish equal."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import doc

from regchain.supervise import SuperviseError, anchor as anchor_mod, generate, seal, validate
from regchain.supervise.store import Store

from supervise_support import (  # noqa: F401  (fixtures)
    NS, OPERATOR, PRIV, Crash, abi, actors, deploy_anchor, rights_equal_chain, rpc, run, scenario, stored, synced,
    write_books)

# ---------------------------------------------------------------- one run


def test_sync__scenario__every_type_written(synced):
    store = Store(synced["tmp"] / "store", readonly=True)
    counts = store.counts()
    assert set(counts) == {"subject", "account", "product", "registration", "transactionreport"}
    assert counts == {"account": 4, "product": 5, "registration": 22, "subject": 12, "transactionreport": 7}
    assert synced["result"].snapshots == sum(counts.values()) == synced["result"].anchored
    assert store.errors() == []


def test_sync__stored_snapshots__validate_seal_and_anchor(synced, rpc):
    store = Store(synced["tmp"] / "store", readonly=True)
    anchors = {(a.object_id, a.version): a for a in anchor_mod.read_anchors(rpc, str(synced["anchor"].address))}
    rows = store.rows()
    assert len(anchors) == len(rows)
    signer = seal.Signer(PRIV)
    for r in rows:
        data = store.read_bytes(r.object_id, r.version)
        obj = json.loads(data)
        assert validate.errors(obj) == [], r.object_id
        assert seal.seal_problem(obj, signer.public_hex) is None
        assert seal.canonical(obj) == data  # stored bytes are canonical
        a = anchors[(r.object_id, r.version)]
        assert a.digest == seal.sm3(data) == r.digest
        assert a.business_tx == r.business_tx
        assert obj["header"]["content"]["timestamp"] < 10**10


def test_sync__rights_records__equal_chain_balances_after_each_step(synced, register, scenario):
    store = Store(synced["tmp"] / "store", readonly=True)
    assert rights_equal_chain(store, register, {scenario["jsc"]: 0, scenario["llc"]: 2}) >= 10


def test_sync__pledge_and_freeze_records__carry_the_changes(synced, bob):
    store = Store(synced["tmp"] / "store", readonly=True)
    steps = {}
    for r in store.rows("type = 'registration' AND object_id NOT LIKE '%:roll:%'"):
        steps.setdefault(r.step, []).append(json.loads(store.read_bytes(r.object_id, r.version)))
    pledge = steps["Pledge registered"][0]["body"]["registration_information"]["registration_rights"][
        "basic_information_rights"]
    assert pledge["pledge_registration"] == {"register_pledge_balance_change": 200, "register_pledge_balance_before": 0,
                                             "register_pledge_balance_after": 200}
    assert pledge["available_registration"]["register_asset_balance_change"] == -200
    frozen = [o["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
              for o in steps["Freeze registered"]]
    assert [f["freezing_registration"]["register_frozen_balance_change"] for f in frozen] == [300, 300]  # the queued freeze claims the 300 free units at once (issue 12)
    assert "轮候冻结" in frozen[1]["basic_information_description"]["register_description"]
    lifted = steps["Freeze lifted"][0]["body"]["registration_information"]["registration_rights"][
        "basic_information_rights"]
    assert lifted["freezing_registration"]["register_frozen_balance_change"] == -200  # −300 lifted; the queued one claimed 300 already and takes 100 more
    assert "上海市浦东新区人民法院" in lifted["freezing_registration"]["register_thaw_description"]


def test_sync__rerun__sends_and_stores_nothing_new(synced, scenario, register, registrar, rpc, abi, actors):
    before = stored(synced["tmp"])
    result, anchorer = run(synced["tmp"], register, synced["anchor"], registrar, rpc, abi, actors, scenario)
    assert result.snapshots == 0 and result.steps == 0 and anchorer.sent == 0
    assert stored(synced["tmp"]) == before


def test_sync__stored_snapshot_differs__stops_naming_it(tmp_path, scenario, register, governance, registrar, rpc,
                                                        abi, actors):
    anchor = deploy_anchor(register, governance)
    books = write_books(tmp_path / "books.sqlite", register, actors, scenario)
    oid = f"{NS}:subject:org:{OPERATOR[1]}"
    path = tmp_path / "store" / "objects" / oid / "0.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"header":{"model":{},"content":{}},"body":{}}')
    with pytest.raises(SuperviseError, match=f"stored snapshot {oid}/0 differs from the one generated now"):
        run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, books=books)


def test_sync__holder_missing_from_books__stops_naming_the_identity(tmp_path, scenario, register, governance,
                                                                    registrar, rpc, abi, actors, alice):
    anchor = deploy_anchor(register, governance)
    books = write_books(tmp_path / "books.sqlite", register, actors, scenario)
    books.db.execute("DELETE FROM holders WHERE identity = ?", ("0x" + doc(f"id:{alice.address}").hex(),))
    books.db.commit()
    books._cache.clear()
    with pytest.raises(SuperviseError, match=f"books: no holder for identity 0x{doc(f'id:{alice.address}').hex()}"):
        run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, books=books)
    assert anchor_mod.read_anchors(rpc, str(anchor.address)) == []  # the step rolled back, nothing anchored


def test_sync__invalid_snapshot__neither_stored_nor_anchored_and_logged(tmp_path, scenario, register, governance,
                                                                        registrar, rpc, abi, actors, monkeypatch):
    anchor = deploy_anchor(register, governance)
    real = generate.Generator.write_account

    def buggy(self, wallet, step):  # a bug injected: an account status the model does not have
        self.gen["acct"][self.root(wallet)]["wallet"] = wallet
        original = self.emit

        def emit(typ, object_id, inner, step_, **kw):
            inner["basic_account_information"]["account_status"] = 0
            return original(typ, object_id, inner, step_, **kw)

        self.emit = emit
        try:
            return real(self, wallet, step)
        finally:
            del self.emit

    monkeypatch.setattr(generate.Generator, "write_account", buggy)
    with pytest.raises(SuperviseError, match=r"account:[0-9a-f]{40}/0 is invalid: .*account_status: 0 is not one of"):
        run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario)
    store = Store(tmp_path / "store", readonly=True)
    assert not any(r.type == "account" for r in store.rows())
    assert not list((tmp_path / "store" / "objects").glob("*:account:*"))
    assert len(store.errors()) == 1 and "account_status" in store.errors()[0][3]
    assert anchor_mod.read_anchors(rpc, str(anchor.address)) == []


# ---------------------------------------------------------------- killed runs


@pytest.mark.parametrize("point,after,commit_every", [
    ("stored", 7, generate.COMMIT_EVERY), ("stored", 40, generate.COMMIT_EVERY),
    ("committed", 1, generate.COMMIT_EVERY), ("anchor_sent", 1, generate.COMMIT_EVERY),
    # a commit every few snapshots: the anchoring thread sends one commit's snapshots while the
    # next are generated; killed between commits, while anchors are on their way, or not at all
    (None, 0, 8), ("committed", 3, 8), ("anchor_sent", 2, 8), ("stored", 30, 8)])
def test_sync__killed_then_rerun__equals_uninterrupted(tmp_path, synced, scenario, register, governance, registrar,
                                                       rpc, abi, actors, point, after, commit_every):
    anchor = deploy_anchor(register, governance)
    seen = {"n": 0}

    def crash_at(p):
        if p == point:
            seen["n"] += 1
            if seen["n"] == after:
                raise Crash(p)

    if point is not None:
        with pytest.raises(Crash):
            run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, crash_at=crash_at,
                commit_every=commit_every)
        assert seen["n"] == after
    result, _ = run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, commit_every=commit_every)
    assert stored(tmp_path) == stored(synced["tmp"])
    anchors = anchor_mod.read_anchors(rpc, str(anchor.address))
    keys = [(a.object_id, a.version) for a in anchors]
    assert len(keys) == len(set(keys)) == len(stored(tmp_path))  # each snapshot anchored once
    store = Store(tmp_path / "store", readonly=True)
    assert {(a.object_id, a.version, a.digest) for a in anchors} == {(r.object_id, r.version, r.digest)
                                                                       for r in store.rows()}
    assert store.anchored_count() == len(store.rows())


def test_sync__commit_inside_a_chunk__checkpoint_at_a_block_end_and_anchoring_beside(
        tmp_path, synced, scenario, register, governance, registrar, rpc, abi, actors, monkeypatch):
    """With a commit every 8 snapshots, the run commits at block ends inside its one chunk; each
    commit's snapshots are handed to the anchoring thread, whose anchors are recorded at a later
    commit: the checkpoints are block numbers of the scenario, increasing; all ends anchored."""
    anchor = deploy_anchor(register, governance)
    commits, blocks = [], []
    real = generate.Generator.save

    def save(self):
        blocks.append(self.state.last_block)
        real(self)

    def crash_at(p):
        if p == "committed":
            commits.append(p)

    monkeypatch.setattr(generate.Generator, "save", save)
    result, anchorer = run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, crash_at=crash_at,
                           commit_every=8)
    assert len(commits) == len(blocks) > 3 and blocks == sorted(set(blocks)) and blocks[-1] == result.last_block
    assert result.snapshots == synced["result"].snapshots and result.anchored == result.snapshots
    assert anchorer.sent == result.snapshots


def test_sync__anchoring_thread_fails__one_line_error_nothing_lost_and_rerun_finishes(
        tmp_path, synced, scenario, register, governance, registrar, rpc, abi, actors, monkeypatch):
    """The anchoring thread's second transaction window is refused by the node: sync stops with the
    anchorer's one-line error (raised on the generator's thread at its next commit), what was
    committed stays; a re-run anchors the rest, each snapshot once, the store equal to one run's."""
    anchor = deploy_anchor(register, governance)
    real, calls = anchor_mod.Anchorer.send_all, {"n": 0}

    def refused(self, batches):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SuperviseError(f"anchoring {sum(len(b) for b in batches)} snapshots: node refused the transaction")
        return real(self, batches)

    monkeypatch.setattr(anchor_mod.Anchorer, "send_all", refused)
    with pytest.raises(SuperviseError, match=r"^anchoring \d+ snapshots: node refused the transaction$"):
        run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, commit_every=8)
    store = Store(tmp_path / "store", readonly=True)
    committed, anchored = len(store.rows()), store.anchored_count()
    store.close()
    assert 0 < anchored < committed < len(stored(synced["tmp"]))
    monkeypatch.setattr(anchor_mod.Anchorer, "send_all", real)
    run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, commit_every=8)
    assert stored(tmp_path) == stored(synced["tmp"])
    keys = [(a.object_id, a.version) for a in anchor_mod.read_anchors(rpc, str(anchor.address))]
    assert len(keys) == len(set(keys)) == len(stored(tmp_path))


# ---------------------------------------------------------------- the day boundary


def test_sync_daily__freeze_lapses_and_queued_one_takes_effect__records_at_midnight(
        tmp_path, scenario, register, governance, registrar, court, rpc, abi, actors, alice, today, advance_days):
    jsc = scenario["jsc"]
    register.freeze(alice, jsc, 800, doc("case-1"), today + 1, doc("ruling 3"), sender=court)
    lapsing = register.freeze_count()
    register.freeze(alice, jsc, 100, doc("case-2"), today + 30, doc("ruling 4"), sender=court)  # queued: 900 > 850
    queued = register.freeze_count()
    advance_days(3)
    anchor = deploy_anchor(register, governance)
    store = Store(tmp_path / "store")
    books = write_books(tmp_path / "books.sqlite", register, actors, scenario)
    anchorer = anchor_mod.Anchorer(anchor, registrar, rpc)
    generate.sync(rpc, register.address, abi, store, books, seal.Signer(PRIV), anchorer, daily=True)
    day = today + 2  # the lapse: 00:00 of the day after expiry
    stamp = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).strftime("%Y%m%d")
    wallet = alice.address.lower()[2:]
    rows = {r.object_id: r for r in store.rows()}
    lapse = json.loads(store.read_bytes(f"{NS}:registration:d{stamp}-f{lapsing}-{wallet}", 0))
    promoted = json.loads(store.read_bytes(f"{NS}:registration:d{stamp}-f{queued}-{wallet}", 0))
    fr = lapse["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
    assert fr["freezing_registration"]["register_frozen_balance"] == 850  # 800, and the 50 units the queued freeze claims at once (issue 12)
    assert fr["freezing_registration"]["register_frozen_balance_after"] == 100
    assert fr["available_registration"]["register_asset_balance_change"] == 750
    assert fr["basic_information_description"]["register_time"].endswith("T00:00:00+08:00")
    assert lapse["header"]["content"]["timestamp"] == day * 86400 - 8 * 3600
    assert register.frozen_balance_of(alice, jsc) == 100  # the chain agrees, with no transaction
    pr = promoted["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
    assert pr["freezing_registration"]["register_frozen_balance_change"] == 0
    assert "轮候冻结生效" in pr["basic_information_description"]["register_description"]
    assert rows[f"{NS}:registration:d{stamp}-f{lapsing}-{wallet}"].anchor_tx is not None
    # a second daily run on the same day writes nothing
    before = len(store.rows())
    generate.sync(rpc, register.address, abi, store, books, seal.Signer(PRIV), anchorer, daily=True)
    assert len(store.rows()) == before


# ---------------------------------------------------------------- DvP and one-way bidding


def test_sync__dvp_and_bid__reports_rights_and_payment_legs(tmp_path, scenario, register, governance, registrar,
                                                            rpc, abi, actors, alice, bob, carol, dave, advance_days,
                                                            today):
    from ape import project

    jsc = scenario["jsc"]
    cash = governance.deploy(project.CashToken)
    register.set_cash_token(cash, True, doc("cash"), sender=governance)
    register.propose_transfer(dave, jsc, 100, 1_600, cash, doc("transfer agreement"), sender=alice)
    iid = register.instruction_count()
    cash.mint(dave, 1_600, sender=dave)
    cash.approve(register, 1_600, sender=dave)
    register.accept_transfer(iid, doc("accept"), sender=dave)
    register.settle_transfer(iid, doc("settle"), sender=alice)
    register.list_units(jsc, 50, 500, cash, register.today() + 3, doc("listing"), sender=alice)
    lid = register.listing_count()
    cash.mint(carol, 600, sender=carol)
    cash.approve(register, 600, sender=carol)
    register.bid(lid, 600, doc("bid"), sender=carol)
    advance_days(4)
    register.close_listing(lid, doc("close"), sender=bob)
    anchor = deploy_anchor(register, governance)
    run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario)
    store = Store(tmp_path / "store", readonly=True)
    by_step = {}
    for r in store.rows():
        by_step.setdefault(r.step, []).append(json.loads(store.read_bytes(r.object_id, r.version)))
    dvp = {o["header"]["content"]["type"]: o for o in by_step["DvP settlement"]}
    assert set(dvp) == {"transactionreport", "registration", "settlement"}
    report = dvp["transactionreport"]["body"]["transaction_report_information"]
    assert report["basic_transaction_information"]["basic_information_remark"]["transaction_type"] == 3
    content = report["transaction_information"]["transaction_content_information"]
    assert content["transaction_settlement_quantity"] == 100 and content["transaction_settlement_price"] == 0.16
    docs = report["transaction_information"]["transaction_verification_information"]
    assert docs["transaction_orderplacing_verification_doc"][0]["file_number"] == "SHZX-2024-0613-017"
    assert docs["transaction_verification_doc"][0]["hash"] == "0x" + doc("settle").hex()
    pay = dvp["settlement"]["body"]["capital_settlement_information"]
    assert pay["basic_information_capital_settlement"]["settlement_value"] == 16
    ref = pay["basic_information_capital_settlement"]["settlement_transaction_ref"]
    assert ref == dvp["transactionreport"]["header"]["content"]["object_id"] + "/0"
    assert pay["transferor_information"]["settlement_out_account_balance_before_transfer"] == 16
    assert pay["transferee_information"]["settlement_in_bank_account"] == alice.address.lower()
    bid = {o["header"]["content"]["type"]: o for o in by_step["Bid settlement"]}
    assert bid["settlement"]["body"]["capital_settlement_information"]["basic_information_capital_settlement"][
        "settlement_value"] == 6
    assert "单向竞价" in bid["transactionreport"]["body"]["transaction_report_information"][
        "basic_transaction_information"]["basic_information_remark"]["transaction_description"]
    assert len([o for o in by_step["Bid settlement"] if o["header"]["content"]["type"] == "registration"
                and ":roll:" not in o["header"]["content"]["object_id"]]) == 2
    assert store.counts()["settlement"] == 2 and store.errors() == []
    assert rights_equal_chain(store, register, {scenario["jsc"]: 0, scenario["llc"]: 2}) >= 16


# ---------------------------------------------------------------- administrative steps


def test_sync__administrative_steps__objects_follow_the_chain(tmp_path, scenario, register, governance, registrar,
                                                             rpc, abi, actors, accounts, alice, bob, dave, today,
                                                             issuer_agent):
    jsc, llc = scenario["jsc"], scenario["llc"]
    register.set_qualified(dave, False, doc("qualification lapsed"), sender=registrar)
    register.suspend_account(dave, doc("ids expired"), sender=registrar)
    register.reactivate_account(dave, doc("ids renewed"), sender=registrar)
    register.set_security_status(jsc, 3, doc("suspension"), sender=registrar)
    register.set_security_status(jsc, 2, doc("resumption"), sender=registrar)
    register.set_lockup(bob, jsc, today + 100, doc("lock-up"), sender=registrar)
    register.set_insider(bob, jsc, True, doc("director"), sender=issuer_agent)
    register.record_paid_in(alice, llc, 90000, doc("paid-in"), sender=registrar)
    register.decrease_capital(llc, [(alice.address, 10000)], doc("reduction"), sender=registrar)
    new_key = accounts[9]
    register.recover(alice, new_key, [jsc, llc], doc("recovery"), sender=registrar)
    anchor = deploy_anchor(register, governance)
    run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario)
    store = Store(tmp_path / "store", readonly=True)
    assert store.errors() == []
    steps = {}
    for r in store.rows():
        steps.setdefault(r.step, []).append(json.loads(store.read_bytes(r.object_id, r.version)))
    alice_account = f"{NS}:account:{alice.address.lower()[2:]}"
    latest = json.loads(store.read_bytes(alice_account, max(r.version for r in store.rows()
                                                            if r.object_id == alice_account)))
    assert latest["header"]["metadata"]["wallet"] == new_key.address.lower()  # same object after key recovery
    assert latest["body"]["account_information"]["basic_account_information"]["account_status"] == 1
    dave_account = [o for o in steps["Account status changed"]
                    if o["header"]["content"]["object_id"].endswith(dave.address.lower()[2:])]
    assert [o["body"]["account_information"]["basic_account_information"]["account_status"]
            for o in dave_account] == [3, 1]
    assert "unfreezing_information" in dave_account[1]["body"]["account_information"]["account_cycle_information"]
    qual = steps["Qualification changed"][0]["body"]["subject_information"]["basic_information_subject"]
    assert qual["subject_qualification_information"][0]["investor_suitability_information"][0][
        "subject_investor_qualification_status"] is False
    status = [o["body"]["product_information"]["transaction_information"]["transaction_status"][
        "product_transaction_status"] for o in steps["Status changed"]]
    assert status == [2, 1]
    notes = [o["body"]["registration_information"]["registration_rights"]["basic_information_rights"][
        "description_status_information"]["register_asset_note"] for o in steps["Lock-up"] + steps["Insider"]]
    assert notes == [f"限售截止日（日序）{today + 100}", "董监高：是"]
    assert {o["header"]["content"]["type"] for o in steps["Capital decrease"]} >= {"product", "registration"}
    assert rights_equal_chain(store, register, {jsc: 0, llc: 2}) >= 12
