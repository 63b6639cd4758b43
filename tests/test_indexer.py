"""The indexer rebuilds the register from events alone: the rebuild equals contract state
after a scenario touching every kind of event, a resumed rebuild equals an uninterrupted
one, chunks the node refuses are halved, and the supervisory feed is categorised. The
console's indexer (regchain.indexdb) does the same with its checkpoint in a database, over
SQLite and over PostgreSQL (each test of it runs on both)."""

from __future__ import annotations

import json

import pytest

from regchain import audit, indexer
from regchain.constants import InvestorClass, Kind, SecurityRole
from regchain.indexdb import RECORDS_SCHEMA, TABLES, IndexDb, SqlIndexer, changed_records, track, tracking
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
    register.increase_capital_waived(llc, [(dave.address, 100, 50)], doc("waiver"), doc("increase"),
                                     sender=registrar)
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
    register.grant_security_role(jsc, dave, SecurityRole.FUND_MANAGER, doc("grant"), sender=governance)
    register.revoke_security_role(jsc, dave, SecurityRole.FUND_MANAGER, doc("revoke"), sender=governance)

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


def _sql_indexer(register, db, network_key, **kw):
    return SqlIndexer(indexer.HttpRpc.from_ape(), register.address, indexer.abi_of_suite(), db=db,
                      network_key=network_key, **kw)


def _rows(db, table, network_key):
    cols = {"events": "block, log_index, tx, timestamp, day, name, category, sid, doc, args",
            "holdings": "sid, owner, block, log_index, day, balance, paid, pledged, frozen, lock_until_day"}[table]
    return db.query(f"SELECT {cols} FROM {table} WHERE network_key = ? ORDER BY {cols}", (network_key,))


def test_sql_rebuild__after_scenario__equals_contract_state_and_the_chains_cap_table(scenario, register,
                                                                                    index_db_location):
    db = IndexDb(index_db_location)
    idx = _sql_indexer(register, db, "test")
    state = idx.sync(scenario["head"])
    idx.save(final=True)

    assert state.notes == []
    assert audit.compare(state, Chain(register, None)) == []
    assert db.query("SELECT COUNT(*) FROM events WHERE network_key = ?", ("test",))[0][0] == state.events
    day = register.today()
    for sid in (scenario["llc"], scenario["jsc"]):
        cap = {r["owner"]: (r["balance"], r["paid"]) for r in db.register_on("test", sid, day)}
        assert len(cap) == register.security(sid).holder_count > 1
        assert cap == {o: (register.balanceOf(o, sid), state.paid_view(o, sid)) for o in cap}
        assert cap == {o: (h["balance"], state.paid_view(o, sid)) for o, h in idx.holders_of(sid)}
    db.close()


def test_sql_rebuild__killed_between_state_writes__resumes_to_the_same_rows(scenario, register, index_db_location):
    """A kill loses what was applied since the state was last written (every ``state_every_s``);
    the rows written after it are written again on resume, and nothing doubles."""
    db = IndexDb(index_db_location)
    whole = _sql_indexer(register, db, "whole")
    whole.sync(scenario["head"])
    whole.save(final=True)

    killed = _sql_indexer(register, db, "k", chunk=4, state_every_s=3600)
    killed.sync(scenario["head"], stop_after_chunks=2)  # the first save writes the state
    saved = db.load("k")["last_block"]
    killed.sync(scenario["head"], stop_after_chunks=3)  # rows only: the state is not due for an hour
    assert db.load("k")["last_block"] == saved < killed.state.last_block < scenario["head"]
    assert max(r[0] for r in _rows(db, "events", "k")) > saved
    del killed  # killed: no final save

    resumed = _sql_indexer(register, db, "k", chunk=4)
    assert resumed.state.last_block == saved
    resumed.sync(scenario["head"])
    resumed.save(final=True)

    assert resumed.state.to_json() == whole.state.to_json()
    assert _rows(db, "events", "k") == _rows(db, "events", "whole")
    assert _rows(db, "holdings", "k") == _rows(db, "holdings", "whole")
    assert len(_rows(db, "events", "k")) == whole.state.events
    db.close()


def _record_count(state) -> int:
    return sum(len(getattr(state, name)) for name in TABLES)


def test_sql_indexer__one_new_block__writes_only_the_records_it_changed(scenario, register, registrar, outsider,
                                                                       index_db_location):
    """Following costs what the new blocks change: after a catch-up, a block that changes one
    account writes that account's record, not the register; a resume reads it back."""
    db = IndexDb(index_db_location)
    idx = _sql_indexer(register, db, "f", state_every_s=3600)
    idx.sync(scenario["head"])  # the first save writes the whole state
    total = _record_count(idx.state)
    assert db.query("SELECT COUNT(*) FROM state_records WHERE network_key = ?", ("f",))[0][0] == total > 20

    qualified = not idx.state.accounts[outsider.address]["qualified"]
    register.set_qualified(outsider, qualified, doc("assessment"), sender=registrar)
    idx.sync()  # rows only: the state is not due for an hour
    put, drop = changed_records(idx.state)
    assert [(part, item) for part, item, _ in put] == [("accounts", outsider.address)] and drop == []
    idx.save(final=True)
    assert changed_records(idx.state) == ([], [])
    record = db.query("SELECT record FROM state_records WHERE network_key = ? AND part = ? AND item = ?",
                      ("f", "accounts", outsider.address))
    assert json.loads(record[0][0])["qualified"] is qualified

    resumed = _sql_indexer(register, db, "f")
    assert resumed.state.last_block == idx.state.last_block > scenario["head"]
    assert resumed.state.to_json() == idx.state.to_json()
    db.close()


def test_sql_indexer__checkpoint_with_the_whole_state_in_its_row__resumes_and_moves_it_into_records(
        scenario, register, index_db_location):
    """A database written before state_records (the whole State as the checkpoint row's JSON)
    resumes as it is; its next state write moves the records into state_records."""
    db = IndexDb(index_db_location)
    idx = _sql_indexer(register, db, "old")
    idx.sync(scenario["head"])
    idx.save(final=True)
    whole = idx.state.to_json()

    def as_before(c):
        with db.dialect.transaction(c):
            c.execute(db.dialect.sql("UPDATE checkpoint SET state = ?, schema = ? WHERE network_key = ?"),
                      (json.dumps(whole), indexer.SCHEMA, "old"))
            c.execute(db.dialect.sql("DELETE FROM state_records WHERE network_key = ?"), ("old",))
    db.run(as_before)

    resumed = _sql_indexer(register, db, "old")
    assert resumed.state.to_json() == whole
    resumed.save(final=True)
    assert db.query("SELECT COUNT(*) FROM state_records WHERE network_key = ?", ("old",))[0][0] == \
        _record_count(resumed.state) > 20
    assert "holdings" not in json.loads(db.load("old")["state"]) and db.load("old")["schema"] == RECORDS_SCHEMA
    assert _sql_indexer(register, db, "old").state.to_json() == whole
    db.close()


def test_sql_indexer__checkpoint_of_an_unknown_schema__starts_afresh(scenario, register, index_db_location):
    db = IndexDb(index_db_location)
    idx = _sql_indexer(register, db, "u")
    idx.sync(scenario["head"])
    idx.save(final=True)

    def newer(c):
        with db.dialect.transaction(c):
            c.execute(db.dialect.sql("UPDATE checkpoint SET schema = ? WHERE network_key = ?"), (RECORDS_SCHEMA + 1, "u"))
    db.run(newer)
    said = []
    again = SqlIndexer(indexer.HttpRpc.from_ape(), register.address, indexer.abi_of_suite(), db=db, network_key="u",
                       echo=said.append)
    assert again.state.last_block == -1 and db.load("u") is None
    assert db.query("SELECT COUNT(*) FROM state_records WHERE network_key = ?", ("u",))[0][0] == 0
    assert len(said) == 1 and "another version of the indexer: starting afresh" in said[0]
    db.close()


def test_changed_records__while_tracking__the_records_looked_up_set_or_removed():
    state = track(indexer.State())
    state.holdings["0xA|1"] = {"balance": 1}
    state.accounts["0xA"] = {"status": 1}
    assert changed_records(state) == ([], [])  # not tracking (the console's pages read like this)

    tracking(state, True)
    state.holdings["0xA|1"]["balance"] = 5            # a lookup, then a change in place
    state.quotas.setdefault("0xA|1", [2026, 5, 0])
    state.accounts.pop("0xA")
    state.freezes.get("7")                            # a lookup that missed
    state.escrowed.update((token, 3) for token in ["0xT"])
    tracking(state, False)
    put, drop = changed_records(state)
    assert sorted(put) == [("escrowed", "0xT", "3"), ("holdings", "0xA|1", '{"balance": 5}'),
                           ("quotas", "0xA|1", "[2026, 5, 0]")]
    assert state.escrowed == {"0xT": 3}
    assert sorted(drop) == [("accounts", "0xA"), ("freezes", "7")]


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


# ---------------------------------------------------------------- transfer instructions, bidding, cash

ZERO = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def transfers(scenario, chain, accounts, project, register, registrar, governance, alice, bob, dave, outsider,
              new_security, advance_days):
    """On top of `scenario`: a DvP instruction with first refusal settled pro rata by the
    buyer, a fund FoP instruction with the manager's consent settled by the registrar, a
    withdrawn and a lapsed-and-reclaimed DvP instruction, a pending one, a bidding round
    with a beaten bid, a withdrawn listing and refund claims."""
    carol = scenario["new_carol"]  # the old carol's account is closed by the recovery
    cash = governance.deploy(project.CashToken)
    register.set_cash_token(cash, True, doc("cash"), sender=governance)
    for who in (alice, bob, carol, dave):
        cash.mint(who, 10_000, sender=who)
        cash.approve(register, 10_000, sender=who)
    llc = new_security([(alice, 600), (bob, 300), (carol, 100)], kind=Kind.LLC)
    fund = new_security([(alice, 5_000), (bob, 5_000)], kind=Kind.LP_FUND)
    jsc = new_security([(alice, 1_000), (bob, 1_000)], kind=Kind.JSC)
    register.set_transfer_terms(fund, False, True, 1_000, doc("lpa terms"), sender=registrar)
    register.grant_security_role(fund, governance, SecurityRole.FUND_MANAGER, doc("grant"), sender=governance)

    # DvP to an outsider of the LLC: dave accepts, bob and carol exercise first refusal
    register.propose_transfer(dave, llc, 200, 2_000, cash, doc("spa"), sender=alice)
    dvp = register.instruction_count()
    register.accept_transfer(dvp, doc("accept"), sender=dave)
    register.exercise_first_refusal(dvp, doc("rofr bob"), sender=bob)
    register.exercise_first_refusal(dvp, doc("rofr carol"), sender=carol)
    # between members, DvP, accepted, never settled: lapses and is reclaimed
    register.propose_transfer(alice, llc, 100, 500, cash, doc("spa 2"), sender=bob)
    lapsing = register.instruction_count()
    register.accept_transfer(lapsing, doc("accept 2"), sender=alice)
    # accepted, then withdrawn by the seller: the escrow becomes a refund
    register.propose_transfer(bob, llc, 50, 100, cash, doc("spa 3"), sender=alice)
    withdrawn = register.instruction_count()
    register.accept_transfer(withdrawn, doc("accept 3"), sender=bob)
    register.withdraw_transfer(withdrawn, doc("withdraw 3"), sender=alice)
    # fund, free of payment: buyer accepts, manager consents, the registrar settles
    register.propose_transfer(outsider, fund, 2_000, 0, ZERO, doc("lp transfer"), sender=alice)
    fop = register.instruction_count()
    register.accept_transfer(fop, doc("accept lp"), sender=outsider)
    register.consent_transfer(fop, doc("consent lp"), sender=governance)
    register.settle_transfer(fop, doc("paid off chain"), sender=registrar)

    # one-way bidding: carol's bid is beaten by dave's; a second listing is withdrawn
    end = register.today() + 3
    register.list_units(jsc, 400, 1_000, cash, end, doc("listing"), sender=alice)
    sold = register.listing_count()
    register.bid(sold, 1_200, doc("bid carol"), sender=carol)
    register.bid(sold, 1_500, doc("bid dave"), sender=dave)
    register.list_units(jsc, 100, 300, cash, end, doc("listing 2"), sender=bob)
    pulled = register.listing_count()
    register.bid(pulled, 300, doc("bid dave 2"), sender=dave)
    register.withdraw_listing(pulled, doc("withdraw listing"), sender=bob)
    advance_days(4)
    register.close_listing(sold, doc("close"), sender=bob)
    register.claim_refund(cash, doc("claim"), sender=carol)

    advance_days(28)  # past the 30-day notice; the members' instruction is past its expiry
    register.settle_transfer(dvp, doc("settle"), sender=dave)  # the buyer settles: no allowance spent
    register.reclaim_lapsed(lapsing, doc("reclaim"), sender=outsider)
    register.claim_refund(cash, doc("claim"), sender=dave)
    # still pending at the end
    register.propose_transfer(bob, llc, 10, 0, ZERO, doc("spa 4"), sender=alice)
    pending = register.instruction_count()
    return {"cash": cash, "llc": llc, "fund": fund, "jsc": jsc, "dvp": dvp, "lapsing": lapsing,
            "withdrawn": withdrawn, "fop": fop, "pending": pending, "sold": sold, "pulled": pulled,
            "carol": carol, "head": chain.blocks.head.number}


def test_rebuild__instructions_bidding_cash__equals_contract_state(transfers, register, alice, bob, dave,
                                                                   outsider, tmp_path):
    state = _indexer(register, tmp_path).sync(transfers["head"])
    assert state.notes == []
    assert audit.compare(state, Chain(register, None)) == []
    t, day = transfers, register.today()
    token, carol = t["cash"].address, t["carol"].address
    # transfer terms: the LLC default and the fund's terms
    assert state.transfer_terms[str(t["llc"])] == {"first_refusal": True, "institutional_only": False,
                                                   "fund_minimum": 0}
    assert state.transfer_terms[str(t["fund"])] == {"first_refusal": False, "institutional_only": True,
                                                    "fund_minimum": 1_000}
    # instructions and their stages now
    stage = {k: state.instruction_stage(t[k], day) for k in ("dvp", "lapsing", "withdrawn", "fop", "pending")}
    assert stage == {"dvp": indexer.I_SETTLED, "lapsing": indexer.I_LAPSED, "withdrawn": indexer.I_WITHDRAWN,
                     "fop": indexer.I_SETTLED, "pending": indexer.I_PROPOSED}
    assert state.instructions[str(t["lapsing"])]["stage"] == indexer.I_LAPSED  # reclaimed: InstructionLapsed
    assert state.pending_instructions(day) == [t["pending"]]
    dvp = state.instructions[str(t["dvp"])]
    assert dvp["exercisers"] == [bob.address, carol]
    assert dvp["deliveries"] == [[bob.address, 150, 1_500], [carol, 50, 500]]  # 200 units pro rata 300:100
    # listings and bids
    sold = state.listings[str(t["sold"])]
    assert (sold["status"], sold["best_bidder"], sold["best_amount"]) == (indexer.L_SOLD, dave.address, 1_500)
    assert [b[:2] for b in sold["bids"]] == [[carol, 1_200], [dave.address, 1_500]]
    assert state.listings[str(t["pulled"])]["status"] == indexer.L_WITHDRAWN
    # cash: what is left in escrow is exactly the unclaimed refunds
    assert state.cash_tokens == {token: True}
    unclaimed = {k.split("|")[1]: v for k, v in state.refunds.items() if v}
    # bob: withdrawn escrow + excess of his exercise; carol: her excess (her beaten bid was claimed);
    # alice: the lapsed escrow; dave claimed his withdrawn listing's bid and his displaced acceptance
    assert unclaimed == {bob.address: 100 + 2_000 - 1_500, carol: 2_000 - 500, alice.address: 500}
    assert state.escrowed[token] == sum(unclaimed.values()) == t["cash"].balanceOf(register)
    # the settlements moved units without touching allowances
    assert all(v >= 0 for v in state.allowances.values())


def test_rebuild__tampered_instruction_and_escrow__listed(transfers, register, tmp_path):
    state = _indexer(register, tmp_path).sync(transfers["head"])
    token = transfers["cash"].address
    state.instructions[str(transfers["pending"])]["units"] += 1
    state.listings[str(transfers["sold"])]["best_amount"] -= 1
    state.escrowed[token] += 7
    state.transfer_terms[str(transfers["fund"])]["fund_minimum"] = 999
    diffs = audit.compare(state, Chain(register, None))
    assert any(d.startswith(f"instruction {transfers['pending']}: units") for d in diffs)
    assert any(d.startswith(f"listing {transfers['sold']}: best_amount") for d in diffs)
    assert any(d.startswith(f"cash token {token}: escrowed is") for d in diffs)
    assert any(d.startswith(f"transfer terms of {transfers['fund']}: fund_minimum") for d in diffs)


def test_feed__instructions_bidding_cash__categories_and_cash_legs(transfers, register):
    events = []
    indexer.replay(indexer.HttpRpc.from_ape(), register.address, indexer.abi_of_suite(),
                   to_block=transfers["head"], on_event=events.append)
    memo, chunks = {}, {}  # fed in chunks of 5 blocks, as `ape run audit feed` does by block range
    for e in events:
        chunks.setdefault(e.block // 5, []).append(e)
    lines = [ln for _, evs in sorted(chunks.items()) for ln in indexer.feed_lines(evs, memo)]
    assert {ln["category"] for ln in lines} == set(indexer.CATEGORIES)
    assert len([ln for ln in lines if ln["leg"] == "event"]) == len(events)
    token = transfers["cash"].address

    def cats(name, leg="event"):
        return {ln["category"] for ln in lines if ln["event"] == name and ln["leg"] == leg}

    for name in ("CashTokenSet", "RefundCredited", "RefundClaimed"):
        assert cats(name) == {indexer.CASH}
    for name in ("InstructionProposed", "InstructionAccepted", "InstructionConsented", "InstructionWithdrawn",
                 "InstructionLapsed", "FirstRefusalExercised", "Listed", "BidPlaced"):
        assert cats(name) == {indexer.TRANSFERS}, name
    assert cats("InstructionSettled") == cats("ListingClosed") == {indexer.SETTLEMENT}
    assert cats("TransferTermsSet") == {indexer.ASSETS}
    settle_txs = {ln["tx"] for ln in lines if ln["event"] in ("InstructionSettled", "ListingClosed")}
    moved = [ln for ln in lines if ln["event"] == "Transfer" and ln["tx"] in settle_txs]
    assert len(moved) == 4 and {ln["category"] for ln in moved} == {indexer.SETTLEMENT}  # 2 ROFR, fund, listing
    # cash legs: every escrow (acceptances with cash, exercises, bids) and every DvP payment
    legs = [ln for ln in lines if ln["leg"] == "cash"]
    assert {ln["category"] for ln in legs} == {indexer.CASH}
    assert all(ln["cash"]["token"] == token for ln in legs)
    kinds = sorted((ln["event"], ln["cash"]["kind"], ln["cash"]["amount"]) for ln in legs)
    assert kinds == sorted([
        ("InstructionAccepted", "escrow", 2_000), ("InstructionAccepted", "escrow", 500),
        ("InstructionAccepted", "escrow", 100), ("FirstRefusalExercised", "escrow", 2_000),
        ("FirstRefusalExercised", "escrow", 2_000), ("BidPlaced", "escrow", 1_200), ("BidPlaced", "escrow", 1_500),
        ("BidPlaced", "escrow", 300), ("InstructionSettled", "payment", 1_500),
        ("InstructionSettled", "payment", 500), ("ListingClosed", "payment", 1_500)])
    # the fund's free-of-payment acceptance and settlement carry no cash leg
    fop_lines = [ln for ln in lines if ln["fields"].get("instruction_id") == transfers["fop"]]
    assert fop_lines and all(ln["leg"] == "event" for ln in fop_lines)
    assert next(ln for ln in lines if ln["event"] == "InstructionSettled")["doc"] == "0x" + doc("paid off chain").hex()
