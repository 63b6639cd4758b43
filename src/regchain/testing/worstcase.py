"""The worst case of every function whose cost grows with the state (bounded loops: pledges
and freezes on a holding, batches at their maximum), built on an anvil of its own: what
tests/test_robustness_contracts.py bounds, tests/test_gaslimits.py turns into gas limits and
`ape run bench` reports (reliability.max_gas_worst_case).

    with BoundsNode(port) as node:            # anvil, 1 G block gas limit, large code allowed
        gas = node.measure(encumbered_holders=200, recover_ids=200)   # function -> gasUsed
    print(worst_case_table(gas))
"""

from __future__ import annotations

from eth_utils import keccak, to_checksum_address

from regchain import calendar as cal
from regchain.abi import SuiteAbi
from regchain.constants import (
    MAX_DECREASE_ENCUMBERED, MAX_FREEZES, MAX_IMPORT, MAX_PLEDGES, MAX_RECOVER_ENCUMBERED,
    InvestorClass, Kind, Role, SecurityRole, holding_words,
)
from regchain.testing.backends import AnvilBackend, LocalAnvil

BLOCK_GAS_LIMIT = 30_000_000


def h(text: str) -> bytes:
    return keccak(text=text)


def addr(i: int) -> str:
    return to_checksum_address(keccak(text=f"robustness holder {i}")[12:])


class Sender:
    """Transactions from anvil's unlocked accounts with a fixed, generous gas limit;
    returns gasUsed and insists on status 1."""

    def __init__(self, backend: AnvilBackend, gas: int):
        self.b = backend
        self.gas = gas

    def __call__(self, sender: str, fn: str, *args) -> int:
        data = self.b.abi[fn].encode(args)
        tx = {"from": sender, "to": self.b.address, "data": "0x" + data.hex(), "gas": hex(self.gas),
              "gasPrice": "0x0"}
        receipt = self.b.rpc.call("eth_sendTransactionSync", [tx])
        if int(receipt["status"], 16) != 1:
            reason = self.b._revert_reason(sender, data)
            raise AssertionError(f"{fn}: reverted ({reason!r})")
        return int(receipt["gasUsed"], 16)


def worst_cases(backend: AnvilBackend, gov: str, registrar: str, court: str, alice: str, bob: str,
                bank: str, *, encumbered_holders: int = 200, recover_ids: int = 200) -> dict[str, int]:
    """Gas of every function at the largest state its bounded loops can meet.

    The caller provides a suite with the calendar published around today, REGISTRAR
    held by `registrar`, COURT_AGENT by `court`, and open qualified accounts for
    alice, bob and bank, on a node whose block gas limit is far above 30 M (a batch
    may need more: that is what is measured) and that does not trace steps
    (ape-foundry's --steps-tracing node runs out of memory on these batches).
    """
    rpc = backend.rpc
    send = Sender(backend, 900_000_000)
    call = backend.call
    gas: dict[str, int] = {}
    if True:
        today = call("today")
        n = 200
        holders = [addr(i) for i in range(n)]
        gas["open_accounts (200)"] = send(registrar, "open_accounts",
                                          [(a, h(f"id {a}"), 1, True) for a in holders], h("open"))

        def new_security(label, holdings, kind=int(Kind.JSC), seal=True, batch=None):
            code = h(f"worst {label}")
            send(registrar, "register_security", code, kind, 0, sum(u for _, u in holdings), h("reg"))
            sid = call("security_id", code)
            rows = batch or [(a, u, u, today - 60, 0, False) for a, u in holdings]
            used = [send(registrar, "register_holdings", sid, rows[i:i + 200], h("holdings"))
                    for i in range(0, len(rows), 200)]
            if seal:
                send(registrar, "seal_security", sid, h("seal"))
            return sid, used

        # register_holdings: 200 insiders with lock-ups, each acquired on another day
        rows = [(a, 1_000, 1_000, today - 1 - i, today + 400, True) for i, a in enumerate(holders)]
        big, used = new_security("big", [(a, 1_000) for a in holders], seal=False, batch=rows)
        gas["register_holdings (200, insiders, lock-ups, 200 days)"] = used[0]
        # 8 pledges and 64 freezes on each of the encumbered holdings (at most
        # MAX_DECREASE_ENCUMBERED: a decrease takes no more), imported MAX_IMPORT at a time
        loaded = holders[:min(encumbered_holders, MAX_DECREASE_ENCUMBERED)]
        pl = [(a, bank, 1, 1_600_000_000 + k) for a in loaded for k in range(MAX_PLEDGES)]
        fr = [(a, 1, h(f"case {k}"), 1_600_000_000 + k, today + 300) for a in loaded for k in range(MAX_FREEZES)]
        gas[f"import_pledges ({MAX_IMPORT})"] = max(send(registrar, "import_pledges", big, pl[i:i + MAX_IMPORT],
                                                         h("imp")) for i in range(0, len(pl), MAX_IMPORT))
        gas[f"import_freezes ({MAX_IMPORT})"] = max(send(registrar, "import_freezes", big, fr[i:i + MAX_IMPORT],
                                                         h("imp")) for i in range(0, len(fr), MAX_IMPORT))
        send(registrar, "seal_security", big, h("seal"))
        gas[f"decrease_capital (200, {len(loaded)} with 8+64 encumbrances, insiders)"] = send(
            registrar, "decrease_capital", big, [(a, 1) for a in holders], h("decrease"))

        # increase_capital: 199 new holders and one existing
        inc, _ = new_security("increase", [(alice, 1_000)])
        gas["increase_capital (200, 199 new holders)"] = send(
            registrar, "increase_capital", inc, [(a, 10, 10) for a in [alice] + holders[:199]], h("increase"))

        # one holding with 8 accepted pledges and 64 freezes in force
        sid, _ = new_security("encumbered", [(alice, 1_000_000), (bob, 1_000_000)])
        send(gov, "grant_security_role", sid, gov, int(SecurityRole.ISSUER_AGENT), h("issuer agent"))
        send(gov, "set_insider", alice, sid, True, h("insider"))
        first_pledge = call("pledge_count") + 1
        for k in range(MAX_PLEDGES):
            gas["offer_pledge"] = send(alice, "offer_pledge", sid, bank, 1_000, h(f"pledge {k}"))
        for k in range(MAX_PLEDGES):
            gas["accept_pledge (8th on the holding)"] = send(bank, "accept_pledge", first_pledge + k, h("accept"))
        first_freeze = call("freeze_count") + 1
        for k in range(MAX_FREEZES):
            gas["freeze (64th on the holding, 8 pledges)"] = send(
                court, "freeze", alice, sid, 1_000, h(f"case {k}"), today + 30, h("ruling"))
        last_freeze = first_freeze + MAX_FREEZES - 1
        gas["transfer (8 pledges + 64 freezes, insider, new holder)"] = send(alice, "transfer", holders[0], sid, 1)
        send(bank, "consent_pledged_transfer", first_pledge + 7, bob, 10, h("consent"))
        gas["transfer_pledged (8 pledges + 64 freezes)"] = send(alice, "transfer_pledged", first_pledge + 7, h("sale"))
        gas["enforce_pledge (court; 8 pledges + 64 freezes)"] = send(
            court, "enforce_pledge", first_pledge, bob, 10, h("enforce"))
        gas["renew_freeze (64th)"] = send(court, "renew_freeze", last_freeze, today + 60, h("renew"))
        gas["court_transfer (64th freeze, 8 pledges)"] = send(
            court, "court_transfer", last_freeze, bob, 10, h("court"))
        gas["recover (1 id, 8 pledges + 64 freezes)"] = send(registrar, "recover", alice, addr(1_000), [sid],
                                                              h("recover"))
        # a freeze of the whole holding with 63 waiting behind it: lifting it promotes 63
        send(court, "freeze", bob, sid, call("balanceOf", bob, sid), h("whole"), today + 30, h("ruling"))
        whole = call("freeze_count")
        for k in range(MAX_FREEZES - 1):
            send(court, "freeze", bob, sid, 1, h(f"queued {k}"), today + 30, h("ruling"))
        gas["lift_freeze (promotes 63)"] = send(court, "lift_freeze", whole, h("lift"))

        # register_holdings_many: 200 items of 200 pending securities (a HoldingsRegistered,
        # a new supply and holder count each), insiders with lock-ups, each acquired on
        # another day; the lost key below holds them all
        lost, found = addr(2_000), addr(2_001)
        send(registrar, "open_account", lost, h("lost"), 1, True, h("open"))
        many = []
        for k in range(n):
            code = h(f"worst many {k}")
            send(registrar, "register_security", code, int(Kind.JSC), 0, 100, h("reg"))
            many.append(call("security_id", code))
        gas["register_holdings_many (200 securities, insiders, lock-ups, 200 days)"] = send(
            registrar, "register_holdings_many",
            [holding_words(s, lost, 100, 100, today - 1 - i, today + 400, True) for i, s in enumerate(many)],
            h("holdings"))
        for s in many:
            send(registrar, "seal_security", s, h("seal"))

        # recover: `recover_ids` ids of the lost key, the most one call may move with
        # encumbrances (MAX_RECOVER_ENCUMBERED) with 8 pledges and 64 freezes each; the lost
        # key is an insider of each, with this year's quota record (moved along too)
        encumbered = []
        for k in range(min(MAX_RECOVER_ENCUMBERED, recover_ids)):
            s, _ = new_security(f"recover {k}", [(lost, 100)], seal=False,
                                batch=[(lost, 100, 100, today - 60, 0, True)])
            send(registrar, "import_pledges", s, [(lost, bank, 1, 1_600_000_000 + j) for j in range(MAX_PLEDGES)],
                 h("i"))
            fr = [(lost, 1, h(f"c{j}"), 1_600_000_000 + j, today + 300) for j in range(MAX_FREEZES)]
            for i in range(0, len(fr), MAX_IMPORT):
                send(registrar, "import_freezes", s, fr[i:i + MAX_IMPORT], h("i"))
            send(registrar, "seal_security", s, h("seal"))
            encumbered.append(s)
        ids = encumbered + many[:recover_ids - len(encumbered)]
        for s in ids:  # a capital decrease of an insider's holding writes its quota record
            send(registrar, "decrease_capital", s, [(lost, 1)], h("quota"))
        assert call("insider_quota_of", lost, ids[-1])[0] != 0
        gas[f"recover ({len(ids)} ids, {len(encumbered)} with 8 pledges + 64 freezes)"] = send(
            registrar, "recover", lost, found, ids, h("recover"))

        # the calendar: 400 trading days in one publication, then an amendment that
        # renumbers 32 words
        horizon = call("horizon_day")
        gas["publish_calendar (400 days, all trading)"] = send(
            registrar, "publish_calendar", horizon + 1, horizon + 400, list(range(horizon + 1, horizon + 401)),
            h("cal"))
        target = (today + 1) // 224 + 32  # the last word an amendment of tomorrow may renumber
        while (horizon := call("horizon_day")) // 224 < target:
            last = min(horizon + 400, target * 224 + 223)
            send(registrar, "publish_calendar", horizon + 1, last, cal.weekdays(horizon + 1, last), h("cal"))
        day = today + 1
        gas["amend_calendar (32 words renumbered)"] = send(
            registrar, "amend_calendar", day, not call("is_trading_day", day), h("amend"))

        # tidy: 64 freezes lapse together
        tidy, _ = new_security("tidy", [(bob, 100), (bank, 100)])
        for k in range(MAX_FREEZES):
            send(court, "freeze", bob, tidy, 1, h(f"short {k}"), today, h("ruling"))
        rpc.call("evm_increaseTime", [hex(2 * 86400)])
        rpc.call("evm_mine")
        gas["tidy_freezes (64 lapsed)"] = send(alice, "tidy_freezes", bob, tidy)
    return gas


class BoundsNode(LocalAnvil):
    """A fresh anvil (LocalAnvil: london, gas price 0, no step tracing) on `port`, with a 1 G
    block gas limit and large code allowed, the suite deployed from the compiled bytecode,
    roles granted, the calendar published and accounts open: what `worst_cases` needs."""

    def __init__(self, port: int):
        super().__init__([port], ["--code-size-limit", "100000"], gas_limit=1_000_000_000)

    def deploy_world(self) -> AnvilBackend:
        gov, registrar, court = self.accounts[0], self.accounts[1], self.accounts[3]
        register = self.deploy_suite(gov)
        backend = AnvilBackend(f"http://127.0.0.1:{self.port}", register, SuiteAbi.from_suite())
        send = Sender(backend, 30_000_000)
        send(gov, "grant_role", registrar, int(Role.REGISTRAR), h("registrar"))
        send(gov, "grant_role", court, int(Role.COURT_AGENT), h("court agent"))
        today = backend.call("today")
        for first, last in cal.chunks(today - 550, today + 380, 366):
            send(registrar, "publish_calendar", first, last, cal.weekdays(first, last), h("calendar"))
        for who in self.accounts[4:8]:
            send(registrar, "open_account", who, h(f"id {who}"), int(InvestorClass.INDIVIDUAL), True, h("open"))
        return backend

    def measure(self, **sizes) -> dict[str, int]:
        backend = self.deploy_world()
        a = self.accounts
        return worst_cases(backend, a[0], a[1], a[3], a[4], a[5], a[7], **sizes)


def worst_case_table(gas: dict[str, int]) -> str:
    rows = [f"| {name} | {g:,} | {g / BLOCK_GAS_LIMIT:.1%} |" for name, g in sorted(gas.items(), key=lambda x: -x[1])]
    return "\n".join(["| function (worst case) | gas | of a 30 M block |", "|---|---:|---:|", *rows])
