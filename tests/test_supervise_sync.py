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
    NS, OPERATOR, PRIV, Crash, abi, actors, deploy_anchor, rpc, run, scenario, stored, synced, write_books)

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
    rights = [r for r in store.rows("type = 'registration' AND object_id NOT LIKE '%:roll:%'")]
    assert len(rights) >= 10
    for r in rights:
        obj = json.loads(store.read_bytes(r.object_id, r.version))
        wallet = obj["header"]["metadata"]["wallet"]
        rr = obj["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
        sid = int(rr["basic_information_description"]["register_product_ref"].split(":")[2].split("/")[0])
        scale = 2 if sid == scenario["llc"] else 0
        block = r.block
        b = register.balanceOf(wallet, sid, block_id=block)
        p = register.pledged_balance_of(wallet, sid, block_id=block)
        f = register.frozen_balance_of(wallet, sid, block_id=block)
        assert rr["available_registration"]["register_asset_balance_after"] == generate.number(max(0, b - p - f), scale)
        assert rr["pledge_registration"]["register_pledge_balance_after"] == generate.number(p, scale)
        assert rr["freezing_registration"]["register_frozen_balance_after"] == generate.number(f, scale)


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
    assert [f["freezing_registration"]["register_frozen_balance_change"] for f in frozen] == [300, 0]
    assert "轮候冻结" in frozen[1]["basic_information_description"]["register_description"]
    lifted = steps["Freeze lifted"][0]["body"]["registration_information"]["registration_rights"][
        "basic_information_rights"]
    assert lifted["freezing_registration"]["register_frozen_balance_change"] == 100  # −300 lifted, +400 promoted
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


@pytest.mark.parametrize("point,after", [("stored", 7), ("stored", 40), ("committed", 1), ("anchor_sent", 1)])
def test_sync__killed_then_rerun__equals_uninterrupted(tmp_path, synced, scenario, register, governance, registrar,
                                                       rpc, abi, actors, point, after):
    anchor = deploy_anchor(register, governance)
    seen = {"n": 0}

    def crash_at(p):
        if p == point:
            seen["n"] += 1
            if seen["n"] == after:
                raise Crash(p)

    with pytest.raises(Crash):
        run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario, crash_at=crash_at)
    result, _ = run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario)
    assert stored(tmp_path) == stored(synced["tmp"])
    anchors = anchor_mod.read_anchors(rpc, str(anchor.address))
    keys = [(a.object_id, a.version) for a in anchors]
    assert len(keys) == len(set(keys)) == len(stored(tmp_path))  # each snapshot anchored once
    store = Store(tmp_path / "store", readonly=True)
    assert {(a.object_id, a.version, a.digest) for a in anchors} == {(r.object_id, r.version, r.digest)
                                                                       for r in store.rows()}
    assert store.anchored_count() == len(store.rows())


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
    assert fr["freezing_registration"]["register_frozen_balance"] == 800
    assert fr["freezing_registration"]["register_frozen_balance_after"] == 100
    assert fr["available_registration"]["register_asset_balance_change"] == 700
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
