"""Shared scenario of the supervisory tests: real transactions on anvil, books, a synced store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ape import project
from conftest import doc

from regchain import indexer
from regchain.constants import InvestorClass, Kind
from regchain.supervise import anchor as anchor_mod, books as books_mod, generate, seal
from regchain.supervise.store import Store

PRIV = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
NS = "rc-31337"
OPERATOR = ("示例股权托管交易中心", "91310000MA1K30XK55")
ISSUERS = {"jsc": ("示例科技股份有限公司", "91310115MA1H7QJ435"), "llc": ("示例光电科技有限公司", "91310115MA1H7QJ44X")}
PEOPLE = {  # name, holder type, id type, id number
    "alice": ("张三", "INDIVIDUAL", "RESIDENT_ID", "11010519491231002X"),
    "bob": ("李四", "INDIVIDUAL", "RESIDENT_ID", "110105198001010015"),
    "carol": ("示例银行股份有限公司", "INSTITUTION", "USCC", "91310000100000000X"),
    "dave": ("示例创业投资合伙企业（有限合伙）", "INSTITUTION", "USCC", "91310000MA1FL0000X"),
}


class Crash(Exception):
    pass


def write_books(path: Path, register, actors: dict, sids: dict) -> books_mod.Books:
    b = books_mod.Books(path)
    b.set_operator(*OPERATOR, NS)
    for who, (name, htype, itype, number) in PEOPLE.items():
        address = actors[who].address
        b.add_holder(doc(f"id:{address}"), name, htype, itype, number)
        b.add_account(address, f"A{address[2:10].upper()}", doc(f"id:{address}"))
    for key, sid in sids.items():
        issuer, uscc = ISSUERS[key]
        b.add_security(register.code_hash_of(sid), f"30012{sid}", issuer, uscc, issuer, "2019-04-18")
    b.add_case(doc("case-1"), "上海市浦东新区人民法院", "（2024）沪0115执1234号")
    b.add_case(doc("case-2"), "上海市第一中级人民法院", "（2024）沪01执567号")
    b.add_document(doc("transfer agreement"), "SHZX-2024-0613-017", "股权转让协议.pdf")
    return b


@pytest.fixture(scope="module")
def scenario(register, registrar, court, alice, bob, carol, dave, open_account, new_security, today):
    for who in (alice, bob):
        open_account(who)
    open_account(carol, investor_class=InvestorClass.INSTITUTION)
    open_account(dave, investor_class=InvestorClass.INSTITUTION)
    jsc = new_security([(alice, 1000), (bob, 500)])
    llc = new_security([(alice, 100000, 80000)], kind=Kind.LLC, scale=2)
    register.transfer(bob, jsc, 100, sender=alice)
    register.approve(registrar, jsc, 50, sender=alice)
    register.transferFrom(alice, dave, jsc, 50, sender=registrar)  # a paper deal the registrar records
    register.offer_pledge(jsc, carol, 200, doc("pledge contract"), sender=alice)
    pid = register.pledge_count()
    register.accept_pledge(pid, doc("acceptance"), sender=carol)
    register.release_pledge(pid, 50, doc("partial release"), sender=carol)
    register.freeze(bob, jsc, 300, doc("case-1"), today + 30, doc("ruling 1"), sender=court)
    register.freeze(bob, jsc, 400, doc("case-2"), today + 30, doc("ruling 2"), sender=court)  # queued: 700 > 600
    register.lift_freeze(register.freeze_count() - 1, doc("lifting"), sender=court)  # promotes the queued one
    register.court_transfer(register.freeze_count(), dave, 100, doc("enforcement ruling"), sender=court)
    register.release_pledge(pid, 150, doc("final release"), sender=carol)
    # bob alone subscribes: the shareholders' resolution waives pre-emption (Company Law art 227)
    register.increase_capital_waived(llc, [(bob.address, 25000, 25000)], doc("waiver"), doc("resolution"),
                                     sender=registrar)
    return {"jsc": jsc, "llc": llc}


@pytest.fixture(scope="module")
def actors(alice, bob, carol, dave):
    return {"alice": alice, "bob": bob, "carol": carol, "dave": dave}


@pytest.fixture(scope="module")
def rpc():
    return indexer.HttpRpc.from_ape()


@pytest.fixture(scope="module")
def abi():
    return indexer.abi_of_suite()


def deploy_anchor(register, governance):
    return project.Anchor.deploy(register.address, sender=governance)


def run(tmp: Path, register, anchor, registrar, rpc, abi, actors, sids, *, crash_at=None, books=None, **sync_kw):
    store = Store(tmp / "store")
    b = books or write_books(tmp / "books.sqlite", register, actors, sids)
    anchorer = anchor_mod.Anchorer(anchor, registrar, rpc)
    try:
        result = generate.sync(rpc, register.address, abi, store, b, seal.Signer(PRIV), anchorer, crash_at=crash_at,
                               **sync_kw)
    finally:
        store.close()
    return result, anchorer


def stored(tmp: Path) -> dict:
    """(object_id, version) -> the snapshot's unsigned content, for every stored file."""
    out = {}
    for path in (tmp / "store" / "objects").glob("*/*.json"):
        obj = json.loads(path.read_bytes())
        out[(path.parent.name, int(path.stem))] = seal.canonical(seal.unsigned(obj))
    return out


@pytest.fixture(scope="module")
def synced(tmp_path_factory, scenario, register, governance, registrar, rpc, abi, actors):
    tmp = tmp_path_factory.mktemp("supervise")
    anchor = deploy_anchor(register, governance)
    result, anchorer = run(tmp, register, anchor, registrar, rpc, abi, actors, scenario)
    return {"tmp": tmp, "anchor": anchor, "result": result, "anchorer": anchorer}




def rights_equal_chain(store: Store, register, scale: dict) -> int:
    """Every rights record's after-balances (free, pledged, frozen) equal the chain's views at the
    record's block (one transaction per block here); returns how many were compared."""
    n = 0
    for r in store.rows("type = 'registration' AND object_id NOT LIKE '%:roll:%'"):
        obj = json.loads(store.read_bytes(r.object_id, r.version))
        wallet = obj["header"]["metadata"]["wallet"]
        rr = obj["body"]["registration_information"]["registration_rights"]["basic_information_rights"]
        sid = int(rr["basic_information_description"]["register_product_ref"].split(":")[2].split("/")[0])
        b = register.balanceOf(wallet, sid, block_id=r.block)
        p = register.pledged_balance_of(wallet, sid, block_id=r.block)
        f = register.frozen_balance_of(wallet, sid, block_id=r.block)
        num = lambda u: generate.number(u, scale[sid])  # noqa: E731
        assert rr["available_registration"]["register_asset_balance_after"] == num(max(0, b - p - f)), r.object_id
        assert rr["pledge_registration"]["register_pledge_balance_after"] == num(p), r.object_id
        assert rr["freezing_registration"]["register_frozen_balance_after"] == num(f), r.object_id
        n += 1
    return n
