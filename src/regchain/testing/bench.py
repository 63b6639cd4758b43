"""The benchmark's measurements (`make bench` = `ape run bench`, scripts/bench.py runs them).

Each metric group is a function ``measure_<group>(ctx) -> {key: value}``; add one and list it
in GROUPS. `run(network_name, chain_id)` runs the groups REGCHAIN_BENCH_GROUPS names (all if
unset), merges them into {"group": {...}, ...}, writes bench/results.json and returns the
table printed with the goal and value/goal ratio where a goal exists.

Test machinery, like the rest of regchain.testing: it deploys its own suites and nodes.
"""

import json
import os
from pathlib import Path

import click
from ape import accounts, chain, project
from eth_utils import keccak, to_checksum_address

from regchain import calendar as cal
from regchain import suite
from regchain.constants import InvestorClass, Kind, Role

RESULTS = Path(project.path) / "bench" / "results.json"

# Goals, keyed "group.key". Gas goals are upper bounds (ratio < 1 is better).
GOALS: dict[str, float] = {
    "gas.transfer_existing": 45_000,
    "gas.transfer_new_holder": 70_000,
    "gas.issue_per_holding_batch100": 30_000,
    # issue 4: a transfer out of an encumbered holding within 15 % of a plain one
    "ratio.encumbered_vs_plain_transfer": 1.15,
    # issue 3: the register's state machine on anvil through the JSON-RPC driver (regchain.testing.backends.AnvilBackend)
    "steps_per_s.property_anvil": 500,
    # issue 8: the worst case of every function fits a 30 M consortium block
    "reliability.max_gas_worst_case": 30_000_000,
    # issue 5: a province-sized export migrated to a local anvil
    "migration.province_wall_s": 180,
    "migration.gas_per_holding": 30_000,
    "migration.peak_rss_mb": 1_000,
    # issue 15: the console's register page of a 200-holder security on a migrated province,
    # and how far the console's database lags behind the chain's head
    "console.cap_table_ms": 200,
    "indexer.follow_lag_s": 2,
    # issue 16: the province signed here, through the FISCO-like profile (no batches,
    # 1-second blocks of 30 M gas); reconciliation through the same no-batch profile
    "migration.province_signed_wall_s": 300,
    "migration.reconcile_holdings_per_s_no_batch": 5_000,
    # issue 13: one hop to every desk; below the figures of the chain of six desks
    "gas.bid": 174_967,
    "gas.dvp_settlement": 108_128,
    "gas.freeze": 304_084,
    # issue 14: supervisory snapshots of a migrated province, generated + validated + sealed + stored + anchored
    "supervise.snapshots_per_s": 2_000,
    "supervise.anchor_gas_per_snapshot": 15_000,
}

# The calendar the suite measurements publish (as tests/conftest.py does).
CALENDAR_BACK_DAYS = 550
CALENDAR_AHEAD_DAYS = 380
BATCH = 100


class Ctx:
    """Shared state for the measurements: accounts and lazily deployed contracts."""

    def __init__(self):
        self.accounts = accounts.test_accounts
        self.deployer = self.accounts[0]
        self._contracts = {}
        # (register, registrar, today, new_jsc), set by measure_suite for later groups
        self.suite = None

    def deploy(self, name, *args):
        if name not in self._contracts:
            self._contracts[name] = self.deployer.deploy(getattr(project, name), *args)
        return self._contracts[name]


def gas_used(receipt) -> int:
    return int(receipt.gas_used)


def measure_baseline(ctx: Ctx) -> dict:
    """Plain ERC-6909 transfer between two holders who already hold the id."""
    token = ctx.deploy("BaselineMultiToken")
    a, b = ctx.accounts[1], ctx.accounts[2]
    token_id = 1
    token.mint(a, token_id, 1_000, sender=ctx.deployer)
    token.mint(b, token_id, 1_000, sender=ctx.deployer)
    receipt = token.transfer(b, token_id, 10, sender=a)
    assert token.balanceOf(a, token_id) == 990 and token.balanceOf(b, token_id) == 1_010
    return {"gas": {"baseline_transfer": gas_used(receipt)}}


def doc(text: str) -> bytes:
    return keccak(text=text)


def bench_address(i: int) -> str:
    """A distinct, reproducible address nobody holds a key for (holdings need no signer)."""
    return to_checksum_address(keccak(text=f"regchain bench holder {i}")[12:])


def measure_suite(ctx: Ctx) -> dict:
    """The real suite (Register + desks) with every transfer rule on: accounts,
    qualification, calendar published, holding period met (acquired 60 days ago), no lock.
    """
    gov, registrar = ctx.deployer, ctx.accounts[1]
    alice, bob, carol = ctx.accounts[4], ctx.accounts[5], ctx.accounts[6]
    reg = suite.deploy(gov, gov)
    reg.grant_role(registrar, int(Role.REGISTRAR), doc("registrar"), sender=gov)
    today = int(reg.today())
    for first, last in cal.chunks(today - CALENDAR_BACK_DAYS, today + CALENDAR_AHEAD_DAYS, 366):
        reg.publish_calendar(first, last, cal.weekdays(first, last), doc("calendar"), sender=registrar)
    for who in (alice, bob, carol):  # qualified individuals
        reg.open_account(who, doc(f"id:{who.address}"), int(InvestorClass.INDIVIDUAL), True,
                         doc("open"), sender=registrar)

    def new_jsc(label: str, holdings: list[tuple[str, int]]) -> int:
        code = doc(f"bench {label}")
        total = sum(units for _, units in holdings)
        reg.register_security(code, int(Kind.JSC), 0, total, doc("registration"), sender=registrar)
        sid = int(reg.security_id(code))
        batch = [(holder, units, units, today - 60, 0, False) for holder, units in holdings]
        receipt = reg.register_holdings(sid, batch, doc("holdings"), sender=registrar)
        reg.seal_security(sid, doc("seal"), sender=registrar)
        return sid, receipt

    ctx.suite = (reg, registrar, today, new_jsc)
    sid, _ = new_jsc("transfers", [(alice.address, 1_000_000), (bob.address, 1_000_000)])

    def transfer(sender, receiver, amount=10):
        ok, reason = reg.can_transfer(sender, receiver, sid, amount)
        assert ok, reason
        return gas_used(reg.transfer(receiver, sid, amount, sender=sender))

    # The first state change of a market day refreshes the clock slot's cached
    # trading-day number; measure it on a later day (cache already written once),
    # then the steady state, as every later transfer of that day pays.
    transfer(alice, bob)
    chain.pending_timestamp += 86_400
    chain.mine()
    first_of_day = transfer(alice, bob)
    existing = transfer(alice, bob)
    assert existing == transfer(alice, bob), "steady-state transfer gas is not stable"
    new_holder = transfer(alice, carol)
    assert int(reg.holder_count(sid)) == 3

    # 100 accounts in one open_accounts, then 100 holdings of a new JSC in one batch.
    holders = [bench_address(i) for i in range(BATCH)]
    receipt = reg.open_accounts(
        [(h, doc(f"id:{h}"), int(InvestorClass.INDIVIDUAL), True) for h in holders],
        doc("bulk opening"), sender=registrar)
    open_per_account = gas_used(receipt) // BATCH
    _, receipt = new_jsc("batch", [(h, 1_000 + i) for i, h in enumerate(holders)])
    issue_per_holding = gas_used(receipt) // BATCH
    return {"gas": {
        "transfer_existing": existing,
        "transfer_first_of_day": first_of_day,
        "transfer_new_holder": new_holder,
        "issue_per_holding_batch100": issue_per_holding,
        "open_account_batch100": open_per_account,
    }}


def measure_encumbrances(ctx: Ctx) -> dict:
    """Pledges and freezes (issue 4) on the suite measure_suite deployed: offer, accept
    and full release of a pledge, a freeze in force, a lift that brings one queued freeze
    into force, and the steady-state transfer out of a holding that carries one accepted
    pledge and one freeze in force, to an existing holder."""
    reg, registrar, today, new_jsc = ctx.suite
    gov, court = ctx.deployer, ctx.accounts[3]
    alice, bob, bank = ctx.accounts[4], ctx.accounts[5], ctx.accounts[7]
    reg.grant_role(court, int(Role.COURT_AGENT), doc("court agent"), sender=gov)
    reg.open_account(bank, doc(f"id:{bank.address}"), int(InvestorClass.INSTITUTION), True,
                     doc("open"), sender=registrar)
    sid, _ = new_jsc("encumbrances", [(alice.address, 1_000_000), (bob.address, 1_000_000)])

    offer = gas_used(reg.offer_pledge(sid, bank, 100_000, doc("pledge contract"), sender=alice))
    pledge_id = int(reg.pledge_count())
    accept = gas_used(reg.accept_pledge(pledge_id, doc("acceptance"), sender=bank))
    freeze = gas_used(reg.freeze(alice, sid, 200_000, doc("case"), today + 30, doc("ruling"), sender=court))
    assert int(reg.pledged_balance_of(alice, sid)) == 100_000
    assert int(reg.frozen_balance_of(alice, sid)) == 200_000

    def transfer(amount=10):
        ok, reason = reg.can_transfer(alice, bob, sid, amount)
        assert ok, reason
        return gas_used(reg.transfer(bob, sid, amount, sender=alice))

    transfer()  # warm-up: the same day's clock cache is written
    encumbered = transfer()
    assert encumbered == transfer(), "steady-state encumbered transfer gas is not stable"

    release = gas_used(reg.release_pledge(pledge_id, 100_000, doc("release"), sender=bank))
    assert int(reg.pledged_balance_of(alice, sid)) == 0

    # bob: a freeze in force and a second one queued behind it; lifting the first promotes it
    reg.freeze(bob, sid, 600_000, doc("case 1"), today + 30, doc("ruling"), sender=court)
    first = int(reg.freeze_count())
    reg.freeze(bob, sid, 600_000, doc("case 2"), today + 30, doc("ruling"), sender=court)
    receipt = reg.lift_freeze(first, doc("lifted"), sender=court)
    assert len(list(receipt.events.filter(reg.FreezeTookEffect))) == 1
    return {"gas": {
        "pledge_offer": offer,
        "pledge_register": accept,
        "pledge_release": release,
        "freeze": freeze,
        "freeze_release_promoting_one": gas_used(receipt),
        "transfer_existing_with_encumbrances": encumbered,
    }}


def measure_instructions(ctx: Ctx) -> dict:
    """Transfer instructions and bidding (issue 6) on the suite measure_suite deployed.
    fund_transfer_full_cycle: the gas of propose + accept + consent + settle of an LP-fund
    transfer free of payment (institutions only, minimum holding 1,000,000 units, the
    buyer a new partner, no first refusal so no notice); dvp_settlement: settle_transfer
    of an accepted LLC instruction between two shareholders (no notice, no exercisers)
    against a cash token the seller already holds; bid: the first bid on a listing of a
    JSC (escrow only), bid_outbid: a bid that beats it (escrow plus the earlier bidder's
    refund credited)."""
    reg, registrar, today, new_jsc = ctx.suite
    gov, manager = ctx.deployer, ctx.accounts[2]
    seller, buyer, other = ctx.accounts[8], ctx.accounts[9], ctx.accounts[4]
    for who in (seller, buyer):
        reg.open_account(who, doc(f"id:{who.address}"), int(InvestorClass.INSTITUTION), True,
                         doc("open"), sender=registrar)
    zero = "0x0000000000000000000000000000000000000000"

    def new_security(label: str, kind: Kind, holdings: list[tuple[str, int]]) -> int:
        code = doc(f"bench {label}")
        reg.register_security(code, int(kind), 0, sum(u for _, u in holdings), doc("registration"), sender=registrar)
        sid = int(reg.security_id(code))
        reg.register_holdings(sid, [(h, u, u, today - 60, 0, False) for h, u in holdings],
                              doc("holdings"), sender=registrar)
        reg.seal_security(sid, doc("seal"), sender=registrar)
        return sid

    fund = new_security("lp fund", Kind.LP_FUND, [(seller.address, 5_000_000), (other.address, 5_000_000)])
    reg.set_transfer_terms(fund, False, True, 1_000_000, doc("fund agreement"), sender=registrar)
    reg.grant_security_role(fund, manager, 2, doc("manager"), sender=gov)  # SecurityRole.FUND_MANAGER
    receipts = [reg.propose_transfer(buyer, fund, 2_000_000, 2_000_000, zero, doc("lpa"), sender=seller)]
    iid = int(reg.instruction_count())
    receipts.append(reg.accept_transfer(iid, doc("accept"), sender=buyer))
    receipts.append(reg.consent_transfer(iid, doc("consent"), sender=manager))
    receipts.append(reg.settle_transfer(iid, doc("paid off chain"), sender=registrar))
    assert int(reg.balanceOf(buyer, fund)) == 2_000_000
    full_cycle = sum(gas_used(r) for r in receipts)

    cash = ctx.deploy("CashToken")
    reg.set_cash_token(cash, True, doc("cash"), sender=gov)
    for who in (seller, buyer, other):
        cash.mint(who, 10**12, sender=who)
        cash.approve(reg, 2**256 - 1, sender=who)
    llc = new_security("llc", Kind.LLC, [(seller.address, 1_000_000), (buyer.address, 1_000_000)])
    reg.propose_transfer(buyer, llc, 1_000, 50_000, cash, doc("spa"), sender=seller)
    iid = int(reg.instruction_count())
    reg.accept_transfer(iid, doc("accept"), sender=buyer)
    dvp = gas_used(reg.settle_transfer(iid, doc("settle"), sender=seller))
    assert int(reg.balanceOf(buyer, llc)) == 1_001_000
    assert int(reg.escrowed(cash)) == int(cash.balanceOf(reg))

    jsc, _ = new_jsc("auction", [(seller.address, 1_000_000)])
    receipt = reg.list_units(jsc, 1_000, 10_000, cash, today + 5, doc("listing"), sender=seller)
    (listed,) = list(receipt.events.filter(reg.Listed))
    listing_id = int(listed.listing_id)
    first_bid = gas_used(reg.bid(listing_id, 10_000, doc("bid"), sender=buyer))
    outbid = gas_used(reg.bid(listing_id, 11_000, doc("bid"), sender=other))
    assert int(reg.escrowed(cash)) == int(cash.balanceOf(reg))
    return {"gas": {
        "fund_transfer_full_cycle": full_cycle,
        "dvp_settlement": dvp,
        "bid": first_bid,
        "bid_outbid": outbid,
    }}


def measure_desks(ctx: Ctx) -> dict:
    """The cheapest function of each desk, on the suite measure_suite deployed: little
    work of its own, so its gas shows what reaching the desk through Register costs
    (it must not depend on which desk serves the function). desk_admin: grant_role of
    a role already held; desk_issuance: set_lockup; desk_pledge: cancel_pledge_offer;
    desk_freeze: renew_freeze; desk_instruction: set_cash_token of an accepted token;
    desk_auction: withdraw_listing without bids."""
    reg, registrar, today, new_jsc = ctx.suite
    gov, court, alice, bank = ctx.deployer, ctx.accounts[3], ctx.accounts[4], ctx.accounts[7]
    sid, _ = new_jsc("desks", [(alice.address, 1_000_000)])
    admin = gas_used(reg.grant_role(registrar, int(Role.REGISTRAR), doc("registrar"), sender=gov))
    issuance = gas_used(reg.set_lockup(alice, sid, today + 10, doc("lock-up"), sender=registrar))
    reg.offer_pledge(sid, bank, 1_000, doc("pledge contract"), sender=alice)
    pledge = gas_used(reg.cancel_pledge_offer(int(reg.pledge_count()), doc("withdrawn"), sender=alice))
    if not int(reg.roles_of(court)) & int(Role.COURT_AGENT):
        reg.grant_role(court, int(Role.COURT_AGENT), doc("court agent"), sender=gov)
    reg.freeze(alice, sid, 1_000, doc("desk case"), today + 30, doc("ruling"), sender=court)
    freeze = gas_used(reg.renew_freeze(int(reg.freeze_count()), today + 60, doc("renewal"), sender=court))
    cash = ctx.deploy("CashToken")
    reg.set_cash_token(cash, True, doc("cash"), sender=gov)
    instruction = gas_used(reg.set_cash_token(cash, True, doc("cash again"), sender=gov))
    reg.list_units(sid, 1_000, 10_000, cash, today + 5, doc("listing"), sender=alice)
    auction = gas_used(reg.withdraw_listing(int(reg.listing_count()), doc("withdrawn"), sender=alice))
    return {"gas": {
        "desk_admin_grant_role": admin,
        "desk_issuance_set_lockup": issuance,
        "desk_pledge_cancel_pledge_offer": pledge,
        "desk_freeze_renew_freeze": freeze,
        "desk_instruction_set_cash_token": instruction,
        "desk_auction_withdraw_listing": auction,
    }}


def measure_audit(ctx: Ctx) -> dict:
    """Issue 7: the indexer's rebuild of the whole register from its events alone (a fresh
    replay, no checkpoint, eth_getLogs in 2,000-block chunks) on the suite measure_suite
    deployed, after a scenario of a few hundred more events: 198 accounts opened and 200
    holdings written in batches, a capital increase and decrease over 50 holders, 30
    transfers, a DvP instruction and a bidding round with cash: every kind of record, where
    measure_migration's audit.* is the same rebuild on the province-sized migration.
    audit_scenario.events_per_s is the events applied per second of wall time,
    rebuild_wall_s that wall time; the rebuild is then checked against contract state (no
    difference allowed)."""
    import time

    from regchain import audit as audit_mod
    from regchain import indexer
    from regchain.migrate import Chain

    reg, registrar, today, new_jsc = ctx.suite
    gov, alice, bob = ctx.deployer, ctx.accounts[4], ctx.accounts[5]
    holders = [bench_address(10_000 + i) for i in range(198)]  # with alice and bob: one full batch of 200
    reg.open_accounts([(h, doc(f"id:{h}"), int(InvestorClass.INDIVIDUAL), True) for h in holders],
                      doc("audit bench accounts"), sender=registrar)
    sid, _ = new_jsc("audit bench", [(h, 1_000) for h in holders] + [(alice.address, 100_000), (bob.address, 1_000)])
    reg.increase_capital(sid, [(h, 10, 10) for h in holders[:50]], doc("increase"), sender=registrar)
    reg.decrease_capital(sid, [(h, 5) for h in holders[50:100]], doc("decrease"), sender=registrar)
    for i in range(30):
        reg.transfer(holders[i], sid, 1 + i, sender=alice)
    cash = ctx.deploy("CashToken")
    if not reg.cash_tokens(cash):
        reg.set_cash_token(cash, True, doc("cash"), sender=gov)
    for who in (alice, bob):
        cash.mint(who, 10**9, sender=who)
        cash.approve(reg, 2**256 - 1, sender=who)
    reg.propose_transfer(bob, sid, 100, 1_000, cash, doc("spa"), sender=alice)
    iid = int(reg.instruction_count())
    reg.accept_transfer(iid, doc("accept"), sender=bob)
    reg.settle_transfer(iid, doc("settle"), sender=alice)
    reg.list_units(sid, 100, 500, cash, int(reg.today()) + 1, doc("listing"), sender=alice)
    reg.bid(int(reg.listing_count()), 600, doc("bid"), sender=bob)

    rpc, abi = indexer.HttpRpc.from_ape(), indexer.abi_of_suite()
    started = time.perf_counter()
    state = indexer.replay(rpc, reg.address, abi)
    wall = time.perf_counter() - started
    diffs = audit_mod.compare(state, Chain(reg, None))
    assert not diffs and not state.notes, (diffs + state.notes)[:5]
    return {"audit_scenario": {
        "events_per_s": round(state.events / wall),
        "rebuild_wall_s": round(wall, 3),
        "events": state.events,
    }}


# Issue 3: the stateful property test's machine (regchain.testing.stateful), on a fresh suite.
PROPERTY_ANVIL = dict(max_examples=40, stateful_step_count=75)
PROPERTY_APE = dict(max_examples=2, stateful_step_count=25)
PROPERTY_SECOND_EVM = dict(max_examples=10, stateful_step_count=75)
DEEP_RECORD = Path(project.path) / "bench" / "deep_steps.json"


def measure_property(ctx: Ctx) -> dict:
    """Steps a second of the register's state machine (one operation plus its
    model comparison a step): on a plain anvil of its own (regchain.testing.backends.LocalAnvil,
    no --steps-tracing, ports 8565-8569) through the JSON-RPC driver (AnvilBackend), with the
    court agent and a cash token as tests/test_stateful.py; the same machine through
    ape's ordinary contract calls on ape-foundry's node (the baseline, fewer steps,
    no court or cash); and on py-evm (titanoboa, cancun bytecode, court and cash).
    `REGCHAIN_BENCH_GROUPS=property ape run bench` runs this group alone. reliability.deep_steps is what the last
    `make test-deep` recorded in bench/deep_steps.json (not re-run here)."""
    from regchain.testing import profiles
    from regchain.testing import stateful
    from regchain.abi import SuiteAbi
    from regchain.testing.backends import ApeBackend, BoaBackend, LocalAnvil

    acc = ctx.accounts
    gov, registrar, issuer, court = acc[0], acc[1], acc[2], acc[3]
    pool = [acc[i].address for i in range(4, 4 + len(stateful.POOL_NAMES))]
    abi = SuiteAbi.from_suite()

    how = profiles.bench

    def rate(result):
        return round(result["steps"] / result["seconds"], 1)

    # the machine on a plain anvil of its own (no --steps-tracing), as tests/test_stateful.py
    with LocalAnvil() as node:
        world = stateful.local_world(node, abi)
        requests = world.backend.rpc.requests
        anvil_run = stateful.run(world, how(**PROPERTY_ANVIL), quiet=True)
        anvil_run["requests"] = world.backend.rpc.requests - requests
    reg = suite.deploy(gov, gov)
    ape_backend = ApeBackend(reg, {a.address: a for a in acc})
    stateful.prepare_suite(ape_backend, gov.address, registrar.address, court.address)
    baseline = stateful.run(stateful.World(ape_backend, gov.address, registrar.address, issuer.address, pool),
                            how(**PROPERTY_APE), quiet=True)
    boa = BoaBackend.deploy(gov.address, abi)
    stateful.prepare_suite(boa, gov.address, registrar.address, court.address)
    token = boa.deploy_cash_token(gov.address)
    stateful.prepare_cash(boa, gov.address, token, pool)
    second = stateful.run(stateful.World(boa, gov.address, registrar.address, issuer.address, pool,
                                         court=court.address, cash=token),
                          how(**PROPERTY_SECOND_EVM), quiet=True)
    out = {"steps_per_s": {
        "property_anvil": rate(anvil_run),
        "property_ape_baseline": rate(baseline),
        "property_second_evm": rate(second),
    }, "property_runs": {
        "anvil_steps": anvil_run["steps"], "anvil_transactions": anvil_run["transactions"],
        "anvil_requests_per_step": round(anvil_run["requests"] / max(1, anvil_run["steps"]), 2),
        "ape_baseline_steps": baseline["steps"], "second_evm_steps": second["steps"],
    }}
    out["ratio"] = {"property_anvil_vs_ape": round(rate(anvil_run) / rate(baseline), 1)}
    if DEEP_RECORD.exists():
        deep = json.loads(DEEP_RECORD.read_text())
        out["reliability"] = {"deep_steps": deep["steps"], "deep_seconds": deep["seconds"]}
    return out


def measure_ratios(results: dict) -> dict:
    gas = results.get("gas", {})
    ratios = {}
    if gas.get("transfer_existing") and gas.get("baseline_transfer"):
        ratios["transfer_vs_baseline"] = round(gas["transfer_existing"] / gas["baseline_transfer"], 2)
    if gas.get("transfer_existing") and gas.get("transfer_existing_with_encumbrances"):
        ratios["encumbered_vs_plain_transfer"] = round(
            gas["transfer_existing_with_encumbrances"] / gas["transfer_existing"], 3)
    return {"ratio": ratios} if ratios else {}


# Issue 8: worst cases of the bounded loops, and the robustness tests' records.
ROBUSTNESS_RECORD = Path(project.path) / "bench" / "robustness.json"
BOUNDS_PORT = 8553


def measure_robustness(ctx: Ctx) -> dict:
    """reliability.max_gas_worst_case: the largest gas of any function at the worst state
    its bounded loops can meet (8 pledges + 8 freezes on a holding, every batch at its
    maximum; regchain.testing.worstcase, full size), measured
    here on a fresh anvil without step tracing; every function's figure is under
    `worst_case_gas`. reliability.bad_inputs_tried and reliability.faults_survived are
    read from bench/robustness.json, which the last run of tests/test_robustness_inputs.py
    and tests/test_robustness_faults.py wrote (not re-run here)."""
    from regchain.testing.worstcase import BoundsNode

    with BoundsNode(BOUNDS_PORT) as node:
        gas = node.measure(encumbered_holders=200, recover_ids=200)
    worst_name = max(gas, key=gas.get)
    reliability = {"max_gas_worst_case": gas[worst_name], "max_gas_worst_case_function": worst_name,
                   "max_gas_worst_case_except_recover": max(v for k, v in gas.items()
                                                            if not k.startswith("recover ("))}
    if ROBUSTNESS_RECORD.exists():
        record = json.loads(ROBUSTNESS_RECORD.read_text())
        if "bad_inputs" in record:
            reliability["bad_inputs_tried"] = record["bad_inputs"]["folders"]
        if "faults" in record:
            reliability["faults_survived"] = record["faults"]["survived"]
    return {"reliability": reliability, "worst_case_gas": gas}


# Issue 5: a province-sized legacy export migrated to a fresh plain anvil (london, gas
# price 0, the default 30 M block gas limit, no step tracing). synth.generate makes per
# security ~18.7 holdings, ~14.3 accounts, ~0.41 pledges and ~0.16 freezes, so 8,000
# securities give the province's ~150,000 holdings (and ~114,000 accounts, ~3,300
# pledges, ~1,300 freezes: a little above the other counts rather than below).
# The run is scaled by REGCHAIN_MIGRATION_SCALE, 0.1 by default: a tenth (800
# securities, ~15,000 holdings) takes ~3 minutes, while writing one transaction per
# block costs anvil more per block as the state grows (the tenth already averages
# ~70 ms a transaction against ~10 ms on an empty chain), so the full size would take
# hours. migration.scale says which size the figures are of; nothing is extrapolated
# (wall time is not linear in the size here; gas per holding and reconciliation
# throughput should carry over, peak RSS grows with the size).
MIGRATION_PORT = 8561
MIGRATION_SECURITIES = 8_000
MIGRATION_DIRTY = 0.02
MIGRATION_SECRET = "bench-operator-secret-0123456789"
BENCH_SM2_KEY = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"  # a test key, bench only


def start_bench_node(port: int):
    """An anvil of its own on ``port`` (london, gas price 0, no history) with the suite deployed by
    raw JSON-RPC, the registrar's role and a published calendar:
    (process, uri, register address, governance, registrar, merged ABI, today)."""
    import subprocess
    import time

    from regchain import deployments
    from regchain.abi import SuiteAbi
    from regchain.rpc import Rpc
    from regchain.testing.backends import AnvilBackend
    from regchain.networks import profile
    from regchain.writer import NodeSigner, Writer

    uri = f"http://127.0.0.1:{port}"
    node = subprocess.Popen(
        ["anvil", "--host", "127.0.0.1", "--port", str(port), "--hardfork", "london",
         "--gas-price", "0", "--base-fee", "0", "--disable-min-priority-fee",
         # no historical states: anvil otherwise keeps one per block (11 GB at a province)
         *os.environ.get("REGCHAIN_BENCH_ANVIL_ARGS", "--prune-history").split()],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        rpc = Rpc(uri)
        for _ in range(200):
            try:
                node_accounts = [to_checksum_address(a) for a in rpc.call("eth_accounts")]
                break
            except OSError:
                rpc.close()
                time.sleep(0.05)
        else:
            raise RuntimeError(f"bench anvil did not start on port {port}")
        gov, registrar = node_accounts[0], node_accounts[1]
        # the suite deployed as `ape run deploy` deploys it (regchain.deployments through regchain.writer)
        register_address = deployments.deploy_suite_signed(
            Writer(rpc, NodeSigner(gov), profile("anvil")), gov, time_unit_ms=False, utc_offset_s=8 * 3600)
        rpc.close()
        abi = [item.model_dump(mode="json", by_alias=True) for item in suite.suite_contract_type().abi]
        backend = AnvilBackend(uri, register_address, SuiteAbi(abi), gas_price=0)
        backend.transact(gov, "grant_role", (registrar, int(Role.REGISTRAR), doc("registrar")), None)
        today = backend.call("today")
        for first, last in cal.chunks(today - CALENDAR_BACK_DAYS, today + CALENDAR_AHEAD_DAYS, 366):
            backend.transact(registrar, "publish_calendar",
                             (first, last, cal.weekdays(first, last), doc("calendar")), None)
        backend.rpc.close()

        return node, uri, register_address, gov, registrar, abi, today
    except BaseException:
        node.terminate()
        node.wait(30)
        raise


def measure_migration(ctx: Ctx) -> dict:
    """migration.*: generate the export, start the anvil, deploy the suite there by raw
    JSON-RPC, then run the migration (`python -m regchain.migrate`: clean, plan, write
    over the fast JSON-RPC path, reconcile, report) in a child process, so that its
    wall time and peak RSS are its own. province_wall_s is cleaning + planning +
    writing + reconciliation + the report as the child timed it; gas_per_holding is the
    gasUsed of all register_holdings(_many) transactions over the holdings written. Then the
    indexer rebuilds the migrated register from its events (audit.events_per_s,
    audit.rebuild_wall_s) and the audit compares it with contract state."""
    import os
    import subprocess
    import sys
    import tempfile
    import time


    from regchain import migrate
    from regchain.legacy import synth

    scale = float(os.environ.get("REGCHAIN_MIGRATION_SCALE", "1"))
    n_securities = max(4, round(MIGRATION_SECURITIES * scale))
    node, uri, register_address, gov, registrar, abi, today = start_bench_node(MIGRATION_PORT)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "export"
            export = synth.generate(seed=5, securities=n_securities, dirty=MIGRATION_DIRTY,
                                    as_of=cal.date_of(today), encoding="gbk", headers="zh")
            synth.write_export(export, folder, encoding="gbk", headers="zh")
            rows = {name: len(t) for name, t in export.tables.items()}
            del export
            abi_path = Path(tmp) / "abi.json"
            abi_path.write_text(json.dumps(abi))
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, *(["-m", "cProfile", "-o", os.environ["REGCHAIN_BENCH_PROFILE"]] if os.environ.get("REGCHAIN_BENCH_PROFILE") else []), "-m", "regchain.migrate", str(folder), uri, register_address, registrar,
                 str(abi_path), str(Path(tmp) / "report.json")],
                env={**os.environ, "REGCHAIN_OPERATOR_SECRET": MIGRATION_SECRET},
                capture_output=True, text=True, timeout=3600)
            process_wall = time.perf_counter() - started
            if done.returncode == 0:
                console = measure_console_on(uri, register_address, registrar, abi, Path(tmp) / "report.json", folder)
        if done.returncode != 0:
            raise RuntimeError(f"migration failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-3000:]}")
        run = json.loads(done.stdout.strip().splitlines()[-1])

        # issue 7: the indexer rebuilds the migrated register from its events alone, and
        # the audit compares the rebuild with contract state (no difference allowed)
        from regchain import audit as audit_mod
        from regchain import indexer

        started = time.perf_counter()
        state = indexer.replay(indexer.HttpRpc(uri), register_address, abi)
        rebuild_wall = time.perf_counter() - started
        started = time.perf_counter()
        diffs = audit_mod.compare(state, migrate.Chain.over_json_rpc(uri, register_address, registrar, abi))
        compare_wall = time.perf_counter() - started
        assert not diffs and not state.notes, (diffs + state.notes)[:5]
    finally:
        node.terminate()
        node.wait(30)
    holdings = run["holdings"]
    audit = {"audit": {
        "events_per_s": round(state.events / rebuild_wall),
        "rebuild_wall_s": round(rebuild_wall, 1),
        "events": state.events,
        "compare_wall_s": round(compare_wall, 1),
        "scale": scale,
    }}
    if os.environ.get("REGCHAIN_BENCH_VERBOSE"):
        print(json.dumps(run, indent=1))
    return {"migration": {
        "province_wall_s": round(run["wall_s"], 1),
        "gas_per_holding": round((run["gas"].get("register_holdings", 0)
                                  + run["gas"].get("register_holdings_many", 0)) / holdings),
        "peak_rss_mb": round(run["maxrss_kb"] / 1024),
        "reconcile_holdings_per_s": round(holdings / run["reconcile_s"]),
        "scale": scale,
        "clean_s": round(run["clean_s"], 1),
        "plan_s": round(run["plan_s"], 1),
        "write_s": round(run["write_s"], 1),
        "reconcile_s": round(run["reconcile_s"], 1),
        "process_wall_s": round(process_wall, 1),
        "transactions": run["transactions"],
        "tx_per_s": round(run["transactions"] / run["write_s"]),
        "source_rows": sum(rows.values()),
        "securities": run["securities"],
        "holdings": holdings,
        "accounts": run["accounts"],
        "pledges": run["pledges"],
        "freezes": run["freezes"],
        "mismatches": run["mismatches"],
    }, **audit, **console}


CONSOLE_HOLDERS = 200
FOLLOW_ROUNDS = 10


def measure_console_on(uri: str, address: str, registrar: str, abi: list, report: Path, export: Path) -> dict:
    """console.* and indexer.* on the migrated province (called by measure_migration while its
    node runs): the console's follower indexes the province into a fresh SQLite database
    (indexer.catch_up_s), then cap_table_ms is the median time of GET /securities/<id> (the
    register page: state, names from the report and export, template, charts) for the security
    whose holder count is nearest 200, as the operator; follow_lag_s is the worst of
    FOLLOW_ROUNDS times from a transaction's receipt to the follower's state showing it (the
    follower polls every 0.5 s, as `make console` runs it).

    `REGCHAIN_BENCH_INDEX_DB=postgresql://USER@HOST/DBNAME` measures with the database on that
    PostgreSQL server instead (docs/console.md; the bench's rows are keyed "bench:province"
    and replaced on each run); indexer.db says which. `REGCHAIN_BENCH_GROUPS=migration` runs
    the migration with these figures alone, REGCHAIN_MIGRATION_SCALE sizes the province."""
    import statistics
    import tempfile
    import time

    from fastapi.testclient import TestClient

    from regchain.abi import SuiteAbi
    from regchain.testing.backends import AnvilBackend
    from regchain.console.app import COOKIE, Follower, create_app
    from regchain.console.auth import Sessions, Users
    from regchain.console.names import open_names

    with tempfile.TemporaryDirectory() as tmp:
        db = os.environ.get("REGCHAIN_BENCH_INDEX_DB") or str(Path(tmp) / "index.sqlite")
        follower = Follower(uri, address, abi, db, "bench:province")
        started = time.perf_counter()
        follower.step()
        catch_up = time.perf_counter() - started
        secs = follower.state.securities
        sid = min(secs, key=lambda i: (abs(secs[i]["holder_count"] - CONSOLE_HOLDERS), int(i)))
        users = Users(Path(tmp) / "users.json")
        users.add("bench", "operator", "bench-password")
        sessions = Sessions()
        app = create_app(follower, open_names(report, export), users, sessions)
        client = TestClient(app)
        client.cookies.set(COOKIE, sessions.issue("bench", "operator"))
        times = []
        profile = os.environ.get("REGCHAIN_BENCH_CONSOLE_PROFILE")  # a cProfile file of the page requests
        if profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        for _ in range(7):
            started = time.perf_counter()
            page = client.get(f"/securities/{sid}")
            times.append(time.perf_counter() - started)
            assert page.status_code == 200, page.text[:200]
        if profile:
            profiler.disable()
            profiler.dump_stats(profile)
        follower.start(interval=0.5)
        backend = AnvilBackend(uri, address, SuiteAbi(abi), gas_price=0)
        who = next(a for a, acc in follower.state.accounts.items() if acc["status"] == 1)
        lags = []
        for i in range(FOLLOW_ROUNDS):
            qualified = not follower.state.accounts[who]["qualified"]
            backend.transact(registrar, "set_qualified", (who, qualified, doc(f"bench follow {i}")), None)
            mined = time.perf_counter()
            while follower.state.accounts[who]["qualified"] != qualified:
                if time.perf_counter() - mined > 30:
                    raise RuntimeError("the console's follower did not see a transaction within 30 s")
                time.sleep(0.01)
            lags.append(time.perf_counter() - mined)
            time.sleep(0.3)
        follower.stop()
        backend.rpc.close()
    return {"console": {"cap_table_ms": round(statistics.median(times) * 1000, 1),
                        "cap_table_holders": secs[sid]["holder_count"]},
            "indexer": {"follow_lag_s": round(max(lags), 2), "follow_lag_median_s": round(statistics.median(lags), 2),
                        "catch_up_s": round(catch_up, 1), "events": follower.state.events,
                        "db": follower.db.dialect.name}}


def measure_migration_signed(ctx: Ctx) -> dict:
    """migration.province_signed_*: the same province export (REGCHAIN_MIGRATION_SCALE)
    migrated with a key held by the migration (regchain.writer.LocalSigner, coincurve)
    into a node that behaves like FISCO BCOS 3 (regchain/testing/consortium_node.py: an anvil
    mining 1-second blocks of 30 M gas by itself behind a proxy that refuses batch
    arrays and anvil's methods), the profile fisco-bcos-3 (pipelined single requests,
    reads through a deployed multicall). province_signed_wall_s is the child's wall
    time (clean, plan, write, reconcile, report), province_signed_tx_per_s its
    transactions over its write time, reconcile_holdings_per_s_no_batch the holdings
    read back per second of reconciliation through the no-batch profile."""
    import subprocess
    import sys
    import tempfile
    import time

    from regchain.legacy import synth

    from regchain.testing.consortium_node import ConsortiumNode, provision

    scale = float(os.environ.get("REGCHAIN_MIGRATION_SCALE", "1"))
    n_securities = max(4, round(MIGRATION_SECURITIES * scale))
    with ConsortiumNode("fisco-bcos-3") as node, tempfile.TemporaryDirectory() as tmp:
        made = provision(node.uri, "fisco-bcos-3")
        folder = Path(tmp) / "export"
        synth.write_export(synth.generate(seed=5, securities=n_securities, dirty=MIGRATION_DIRTY,
                                          as_of=cal.date_of(made["today"]), encoding="gbk", headers="zh"),
                           folder, encoding="gbk", headers="zh")
        key_file = Path(tmp) / "registrar.key"
        key_file.write_text(made["registrar_key"])
        abi_path = Path(tmp) / "abi.json"
        abi_path.write_text(json.dumps(made["abi"]))
        first_block = int(node.anvil("eth_blockNumber"), 16) + 1
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "regchain.migrate", str(folder), node.uri, made["register"], made["registrar"],
             str(abi_path), str(Path(tmp) / "report.json")],
            env={**os.environ, "REGCHAIN_OPERATOR_SECRET": MIGRATION_SECRET, "REGCHAIN_PROFILE": "fisco-bcos-3",
                 "REGCHAIN_SIGNER_KEY_FILE": str(key_file), "REGCHAIN_MULTICALL_ADDRESS": made["multicall"]},
            capture_output=True, text=True, timeout=7200)
        process_wall = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"signed migration failed ({done.returncode}): {done.stdout[-2000:]} "
                               f"{done.stderr[-3000:]}")
        refused = {m: n for m, n in node.calls.items() if m.startswith(("anvil_", "evm_", "txpool_"))}
        blocks = [node.anvil("eth_getBlockByNumber", [hex(n), False])
                  for n in range(first_block, int(node.anvil("eth_blockNumber"), 16) + 1)]
    # the blocks from the first to the last with a transaction of the migration, their fill
    # (gas used / block gas limit, over the blocks with transactions), and the chain's floor:
    # the migration's gas over the block gas limit, in blocks (1 s each)
    used = [i for i, b in enumerate(blocks) if b["transactions"]]
    spanned = blocks[used[0]:used[-1] + 1] if used else []
    gas = sum(int(b["gasUsed"], 16) for b in spanned)
    limit = int(spanned[0]["gasLimit"], 16) if spanned else 30_000_000
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["mismatches"] == 0 and not refused, (run["first_mismatches"], refused)
    return {"migration": {
        "province_signed_wall_s": round(run["wall_s"], 1),
        "province_signed_tx_per_s": round(run["transactions"] / run["write_s"], 1),
        "reconcile_holdings_per_s_no_batch": round(run["holdings"] / run["reconcile_s"]),
        "province_signed_write_s": round(run["write_s"], 1),
        "province_signed_process_wall_s": round(process_wall, 1),
        "province_signed_transactions": run["transactions"],
        "province_signed_blocks": len(spanned),
        "province_signed_blocks_with_tx": len(used),
        "province_signed_block_fill": round(gas / limit / max(1, len(used)), 3),
        "province_signed_gas_floor_blocks": round(gas / limit, 1),
        "province_signed_gas": gas,
        "signed_scale": scale,
    }}


def measure_supervise(ctx: Ctx) -> dict:
    """supervise.*: the migration group's province export (REGCHAIN_MIGRATION_SCALE) migrated onto an
    anvil of its own (a free port), the operator's books written from it, then ``supervise sync`` from
    an empty store: every snapshot generated, validated, sealed (SM2), stored and anchored (the Anchor
    contract, batches of 256, a writer's window of transactions sent before their receipts are read:
    on this anvil one mined block per window). province_wall_s is the sync's wall time;
    snapshots_per_s = snapshots / that time; anchor_gas_per_snapshot = gasUsed of the anchoring
    transactions / snapshots anchored. REGCHAIN_SUPERVISE_SCALE overrides the scale for this group only."""
    return supervise_province(float(os.environ.get("REGCHAIN_SUPERVISE_SCALE")
                                    or os.environ.get("REGCHAIN_MIGRATION_SCALE", "1")))


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc; 0.0 where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def supervise_province(scale: float) -> dict:
    """The supervise.* figures for a migrated export of ``scale`` × a province (see measure_supervise);
    callable on its own, e.g. ``supervise_province(0.01)`` for a quick look."""
    import socket
    import tempfile
    import time

    from regchain import deployments, indexer, migrate
    from regchain.rpc import Rpc
    from regchain.legacy import synth
    from regchain.legacy.clean import clean_folder
    from regchain.networks import profile
    from regchain.supervise import anchor, books, generate, seal
    from regchain.supervise.store import Store
    from regchain.writer import NodeSigner, Writer

    with socket.socket() as sock:  # a free port (the migration group's is fixed)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    node, uri, register, gov, registrar, abi, today = start_bench_node(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "export"
            export = synth.generate(seed=5, securities=max(4, round(MIGRATION_SECURITIES * scale)),
                                    dirty=MIGRATION_DIRTY, as_of=cal.date_of(today))
            synth.write_export(export, folder)
            del export
            cleaned = clean_folder(folder, as_of=today)
            plan = migrate.Plan.build(cleaned, migrate.Identities(MIGRATION_SECRET.encode()))
            migrate.write(cleaned, plan, migrate.Chain.over_json_rpc(uri, register, registrar, abi))
            b = books.Books(Path(tmp) / "books.sqlite")
            b.set_operator("示例股权托管交易中心", "91310000MA1K30XK55", "rc-bench")
            books.write_migration_books(b, folder, cleaned, plan)
            rpc = indexer.HttpRpc(uri)
            anchor_address, _ = deployments.deploy_contract(
                Writer(Rpc(uri), NodeSigner(gov), profile("anvil")), "Anchor", (register,))
            anchorer = anchor.RpcAnchorer(anchor_address, registrar, rpc)
            store = Store(Path(tmp) / "store")
            started, cpu, workers = time.perf_counter(), time.process_time(), _children_cpu()
            node_cpu = _process_cpu(node.pid)
            result = generate.sync(rpc, register, abi, store, b, seal.Signer(BENCH_SM2_KEY), anchorer)
            wall = time.perf_counter() - started
            cpu, workers = time.process_time() - cpu, _children_cpu() - workers  # the workers end with sync
            node_cpu = _process_cpu(node.pid) - node_cpu  # serving the logs, mining the anchors
            counts = store.counts()
            store.close()
    finally:
        node.terminate()
        node.wait(30)
    return {"supervise": {
        "snapshots_per_s": round(result.snapshots / wall),
        # CPU per snapshot (ms): the generator's process, and its sealing workers (validate, seal,
        # write); a machine with `cores` idle cores does at most 1000 / max(main, (main + workers) / cores)
        "cpu_ms_per_snapshot_main": round(cpu * 1000 / result.snapshots, 3),
        "cpu_ms_per_snapshot_workers": round(workers * 1000 / result.snapshots, 3),
        "cpu_bound_snapshots_per_s": round(result.snapshots / max(cpu, (cpu + workers) / (os.cpu_count() or 1))),
        # the node's CPU in the same time (anvil here, a process of its own beside the generator):
        # on one machine it shares the cores, so the wall figure is at most
        # 1000 / ((main + workers + node) / cores)
        "cpu_ms_per_snapshot_node": round(node_cpu * 1000 / result.snapshots, 3),
        "cores": os.cpu_count() or 1,
        "anchor_gas_per_snapshot": round(anchorer.gas_used / max(1, anchorer.sent)),
        "province_wall_s": round(wall, 1),
        "snapshots": result.snapshots,
        "steps": result.steps,
        "anchor_transactions": -(-anchorer.sent // anchor.BATCH),
        "scale": scale,
        **{f"count_{t}": n for t, n in counts.items()},
    }}




GROUPS = [measure_baseline, measure_suite, measure_encumbrances, measure_instructions, measure_desks,
          measure_audit, measure_property, measure_robustness, measure_migration,
          measure_migration_signed, measure_supervise]
# The gas measurements alone (no node of their own, no migration, no property run):
# `REGCHAIN_BENCH_GROUPS=gas ape run bench`.
GAS_GROUPS = ("baseline", "suite", "encumbrances", "instructions", "desks")


def selected_groups() -> list:
    """The groups REGCHAIN_BENCH_GROUPS names (comma-separated, without `measure_`:
    e.g. `property` or `suite,encumbrances`; `gas` names GAS_GROUPS), in GROUPS order;
    all of them if unset.
    Groups that use what an earlier group set up (ctx.suite: encumbrances,
    instructions, audit need suite) must be named with it."""
    wanted = {n.strip().removeprefix("measure_") for n in os.environ.get("REGCHAIN_BENCH_GROUPS", "").split(",")
              if n.strip()}
    if "gas" in wanted:
        wanted = (wanted - {"gas"}) | set(GAS_GROUPS)
    if not wanted:
        return GROUPS
    known = {m.__name__.removeprefix("measure_") for m in GROUPS}
    if wanted - known:
        raise click.UsageError(f"REGCHAIN_BENCH_GROUPS: unknown group(s) {sorted(wanted - known)}; "
                               f"known: {sorted(known)}")
    return [m for m in GROUPS if m.__name__.removeprefix("measure_") in wanted]


def merge(into: dict, new: dict) -> dict:
    for group, values in new.items():
        into.setdefault(group, {}).update(values)
    return into


def table(results: dict) -> str:
    rows = [("metric", "value", "goal", "ratio")]
    for group, values in results.items():
        for key, value in values.items():
            name = f"{group}.{key}"
            goal = GOALS.get(name)
            ratio = f"{value / goal:.3f}" if goal else ""
            rows.append((name, f"{value:,}" if isinstance(value, int) else str(value),
                         f"{goal:,}" if goal else "", ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(network_name: str) -> str:
    """Run the selected groups, write bench/results.json (a partial run updates the last
    full run's figures instead of dropping them); return the table of what was measured."""
    ctx = Ctx()
    results: dict = {}
    groups = selected_groups()
    for measure in groups:
        merge(results, measure(ctx))
    merge(results, measure_ratios(results))
    RESULTS.parent.mkdir(exist_ok=True)
    record = {"network": network_name, "chain_id": chain.chain_id}
    if groups != GROUPS and RESULTS.exists():
        previous = json.loads(RESULTS.read_text())
        record = {**previous, **record}
        for group, values in results.items():
            record.setdefault(group, {}).update(values)
    else:
        record.update(results)
    RESULTS.write_text(json.dumps(record, indent=2) + "\n")
    return table(results) + f"\n\nwritten to {RESULTS.relative_to(project.path)}"
