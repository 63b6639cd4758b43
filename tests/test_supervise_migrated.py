"""A migrated sample export (pledges, freezes, merged accounts) through the books and the generator:
the books are written idempotently, every snapshot validates and is anchored, rights records equal
the chain's balances."""

from __future__ import annotations

import json

import pytest
from supervise_support import PRIV, abi, deploy_anchor, rpc  # noqa: F401  (fixtures)

from regchain import calendar as cal
from regchain import migrate
from regchain.legacy import synth
from regchain.legacy.clean import clean_folder
from regchain.supervise import anchor as anchor_mod, books as books_mod, generate, seal, validate
from regchain.supervise.store import Store

SECRET = "test-operator-secret-0123456789"


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, register, registrar):
    folder = tmp_path_factory.mktemp("export")
    as_of = cal.date_of(register.today())
    synth.write_export(synth.generate(seed=11, securities=4, dirty=0.2, as_of=as_of), folder)
    cleaned = clean_folder(folder, as_of=register.today())
    plan = migrate.Plan.build(cleaned, migrate.Identities(SECRET.encode()))
    migrate.write(cleaned, plan, migrate.Chain(register, registrar))
    return folder, cleaned, plan


def books_of(path, migrated) -> books_mod.Books:
    folder, cleaned, plan = migrated
    b = books_mod.Books(path)
    b.set_operator("示例股权托管交易中心", "91310000MA1K30XK55", "rc-31337")
    books_mod.write_migration_books(b, folder, cleaned, plan)
    return b


def test_write_migration_books__twice__same_rows(tmp_path, migrated):
    _, cleaned, _ = migrated
    b = books_of(tmp_path / "books.sqlite", migrated)
    dump = list(b.db.iterdump())
    counts = b.counts()
    assert counts["securities"] == len(cleaned.securities) and counts["holders"] == len(cleaned.accounts)
    assert counts["cases"] == len({f.case_no for f in cleaned.freezes})
    books_mod.write_migration_books(b, migrated[0], cleaned, migrated[2])
    assert list(b.db.iterdump()) == dump


def test_sync__migrated_export__valid_anchored_and_equal_to_the_chain(tmp_path, migrated, register, governance,
                                                                     registrar, rpc, abi):
    _, cleaned, _ = migrated
    assert cleaned.pledges and cleaned.freezes
    b = books_of(tmp_path / "books.sqlite", migrated)
    store = Store(tmp_path / "store")
    anchor = deploy_anchor(register, governance)
    result = generate.sync(rpc, register.address, abi, store, b, seal.Signer(PRIV),
                           anchor_mod.Anchorer(anchor, registrar, rpc))
    counts = store.counts()
    assert counts["product"] >= 2 * len(cleaned.securities)  # created, then sealed
    assert counts["account"] == len(cleaned.accounts)
    assert counts["transactionreport"] == len(cleaned.pledges)  # one type-6 report per migrated pledge
    assert result.anchored == result.snapshots == sum(counts.values())
    signer = seal.Signer(PRIV)
    last = {}  # (wallet, id, block) -> the holding's last rights record in that block (a block holds many steps)
    for r in store.rows():
        obj = json.loads(store.read_bytes(r.object_id, r.version))
        assert validate.errors(obj) == []
        assert seal.seal_problem(obj, signer.public_hex) is None
        if r.type == "registration" and ":roll:" not in r.object_id:
            rr = obj["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
            sid = int(rr["basic_information_description"]["register_product_ref"].split(":")[2].split("/")[0])
            key = (obj["header"]["metadata"]["wallet"], sid, r.block)
            if key not in last or last[key][0] < r.log_index:
                last[key] = (r.log_index, rr)
    scale = {register.security_id(migrate.code_hash(s.code)): s.unit_scale for s in cleaned.securities}
    assert len(last) >= len(cleaned.pledges)
    for (wallet, sid, block), (_, rr) in last.items():
        b = register.balanceOf(wallet, sid, block_id=block)
        p = register.pledged_balance_of(wallet, sid, block_id=block)
        f = register.frozen_balance_of(wallet, sid, block_id=block)
        n = lambda u: generate.number(u, scale[sid])  # noqa: E731
        assert rr["pledge_registration"]["register_pledge_balance_after"] == n(p)
        assert rr["freezing_registration"]["register_frozen_balance_after"] == n(f)
        assert rr["available_registration"]["register_asset_balance_after"] == n(max(0, b - p - f))
