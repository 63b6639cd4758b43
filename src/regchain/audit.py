"""Compare the register rebuilt from events (regchain.indexer) with contract state.

    diffs = compare(state, reader)          # [] when the events explain the state exactly
    diffs = verify_report(report, state, reader)
    result, diffs = audit(idx, reader, report, report_path, echo)   # all of `ape run audit`
    counts = write_feed(idx, first_block, out)                      # `ape run audit feed`
    state, history = security_history(rpc, address, sid, first_block)  # `ape run audit html`

``reader`` is anything with ``read(fn, args_list) -> list`` doing batched eth_calls with
the suite's merged ABI and ``storage(slots) -> list[int]`` (``regchain.migrate.Chain``). Every record the
rebuild knows is read back: globals, securities, accounts, holdings (acquisition day via
the chain's ``trading_day_number_of_day``), insider quotas, roles, allowances, operators,
pledges (record, rank order per holding, pledged balance), freezes (record, queue,
in-force flags and frozen balance, evaluated on the chain's ``today()``), transfer terms
(the terms bits of each security's storage word, read with ``eth_getStorageAt``: the
register has no view of them), transfer instructions (``instruction_of``, ``stage_of``
against the stage derived on ``today()``, ``exercisers_of``), listings (``listing_of``),
cash tokens, ``escrowed`` per token and ``refunds`` per token and holder. Two more checks
of the cash side: escrowed equals open escrows plus unclaimed refunds (issue 6's
invariant, on the rebuild), and each token's ``balanceOf(register)`` covers ``escrowed``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from eth_utils import keccak

from regchain import build, indexer
from regchain.errors import one_line
from regchain.indexer import LP_FUND, ZERO, State, hkey

LISTING_FIELDS = ("seller", "id", "units", "reserve", "cash", "end_day", "listed_day", "consented", "best_bidder",
                  "best_amount", "status", "doc")

# ledger.vy's security word: ``security_data`` is a HashMap whose entry for id sits at
# keccak(slot . id); the transfer terms are its bits 120..218. The slot is the compiler's
# storage layout of Register as deployed (london: regchain.build).
SECURITY_DATA = "ledger.security_data"
RESTRICTED_BIT, ROFR_BIT, INSTITUTIONAL_BIT, FUND_MIN_SHIFT = 1 << 120, 1 << 121, 1 << 122, 123
AMOUNT_MAX = 2**96 - 1
TERMS_MASK = (AMOUNT_MAX << FUND_MIN_SHIFT) | RESTRICTED_BIT | ROFR_BIT | INSTITUTIONAL_BIT
ERC20_BALANCE_ABI = [{"type": "function", "name": "balanceOf", "stateMutability": "view",
                      "inputs": [{"name": "owner", "type": "address"}],
                      "outputs": [{"name": "", "type": "uint256"}]}]


def security_word_slot(sid: int, base: int) -> int:
    return int.from_bytes(keccak(base.to_bytes(32, "big") + sid.to_bytes(32, "big")), "big")


def _fields(word: int) -> tuple:
    return word & 0xFF, (word >> 8) & 0xFF, (word >> 16) & 0xFF, (word >> 24) & 0xFFFFFFFF


def terms_word(terms: dict, kind: int) -> int:
    """The terms bits corporate_actions.set_transfer_terms (or registration.register_security's default) writes."""
    word = terms["fund_minimum"] << FUND_MIN_SHIFT
    if terms["first_refusal"]:
        word |= ROFR_BIT
    if terms["institutional_only"]:
        word |= INSTITUTIONAL_BIT
    if word or kind >= LP_FUND:
        word |= RESTRICTED_BIT
    return word


def _token_balances(reader, tokens: list[str]) -> list[int] | None:
    """balanceOf(register) of each cash token, or None if the reader cannot call other contracts."""
    if hasattr(reader, "token_balances"):
        return reader.token_balances(tokens)
    w3 = getattr(reader, "w3", None)
    if w3 is None or not tokens:
        return None if w3 is None else []
    address, out = reader.contract.address, []
    with w3.batch_requests() as batch:
        for t in tokens:
            batch.add(w3.eth.contract(address=t, abi=ERC20_BALANCE_ABI).functions.balanceOf(address))
        out.extend(batch.execute())
    return out


def _n(v):
    """Normalise a value read from the chain or the state for comparison."""
    if isinstance(v, (bytes, bytearray)):
        return "0x" + bytes(v).hex()
    if isinstance(v, str) and v.startswith("0x") and len(v) == 42:
        return v.lower()
    if isinstance(v, str) and v.startswith("0x"):
        return v.lower()
    if isinstance(v, (list, tuple)):
        return [_n(x) for x in v]
    if isinstance(v, bool):
        return v
    return v


def _cmp(diffs: list, what: str, names: tuple, chain_vals, rebuilt_vals, skip: tuple = ()):
    for name, c, r in zip(names, chain_vals, rebuilt_vals):
        if name in skip:
            continue
        if _n(c) != _n(r):
            diffs.append(f"{what}: {name} is {_n(c)!r} on chain, {_n(r)!r} rebuilt from events")


def addresses(state: State) -> set[str]:
    out = set(state.accounts) | set(state.roles)
    out |= {k.split("|")[0] for k in state.holdings}
    for p in state.pledges.values():
        out |= {p["pledgor"], p["pledgee"]}
    for f in state.freezes.values():
        out.add(f["owner"])
    for i in state.instructions.values():
        out |= {i["seller"], i["buyer"], *i["exercisers"]}
    for lst in state.listings.values():
        out |= {lst["seller"], *(b[0] for b in lst["bids"])}
    out |= {k.split("|")[1] for k in state.refunds}
    out.discard(ZERO)
    return out


def compare(state: State, reader) -> list[str]:
    diffs: list[str] = []
    r = reader.read

    # globals
    names = ("governance", "pending_governance", "paused", "epoch_day", "horizon_day", "security_count",
             "pledge_count", "freeze_count", "instruction_count", "listing_count",
             "today")  # registration_seq is not exported: seq per record
    got = [r(fn, [()])[0] for fn in names]
    today = got[-1]
    _cmp(diffs, "register", names[:-1], got[:-1],
         [getattr(state, n) for n in names[:-1]])

    # securities
    sids = sorted(int(s) for s in state.securities)
    views = r("security", [(sid,) for sid in sids])
    codes = r("security_id", [(state.securities[str(sid)]["code_hash"],) for sid in sids])
    for sid, view, by_code in zip(sids, views, codes):
        s = state.securities[str(sid)]
        _cmp(diffs, f"security {sid}",
             ("status", "kind", "unit_scale", "holder_count", "meeting_day", "record_day", "total_supply",
              "declared_total", "code_hash"),
             (view[0], view[1], view[2], view[3], view[5], view[6], view[7], view[8], view[9]),
             (s["status"], s["kind"], s["unit_scale"], s["holder_count"], s["meeting_day"], s["record_day"],
              s["total_supply"], s["declared_total"], s["code_hash"]))
        if by_code != sid:
            diffs.append(f"security {sid}: security_id(code_hash) is {by_code} on chain")

    # transfer terms: the security word's terms bits (no view exports them)
    base = build.slot_of("Register", SECURITY_DATA)
    words = reader.storage([security_word_slot(sid, base) for sid in sids]) if sids else []
    for sid, view, word in zip(sids, views, words):
        if _fields(word) != tuple(view[:4]):
            diffs.append(f"transfer terms of {sid}: the security word in slot {base} disagrees with security()")
            continue
        t = state.transfer_terms.get(str(sid))
        if t is None:
            diffs.append(f"transfer terms of {sid}: not rebuilt from events")
            continue
        word &= TERMS_MASK
        _cmp(diffs, f"transfer terms of {sid}", ("first_refusal", "institutional_only", "fund_minimum", "restricted"),
             (bool(word & ROFR_BIT), bool(word & INSTITUTIONAL_BIT), word >> FUND_MIN_SHIFT,
              bool(word & RESTRICTED_BIT)),
             (t["first_refusal"], t["institutional_only"], t["fund_minimum"],
              bool(terms_word(t, state.securities[str(sid)]["kind"]) & RESTRICTED_BIT)))

    # accounts (every address the rebuild has seen; unknown ones must be unopened)
    addrs = sorted(addresses(state))
    for addr, view in zip(addrs, r("account_of", [(a,) for a in addrs])):
        acc = state.accounts.get(addr)
        want = ((acc["status"], acc["investor_class"], acc["qualified"], acc["identity"]) if acc
                else (0, 0, False, "0x" + "00" * 32))
        _cmp(diffs, f"account {addr}", ("status", "investor_class", "qualified", "identity"), view, want)

    # holdings
    keys = sorted(state.holdings)
    args = [(k.split("|")[0], int(k.split("|")[1])) for k in keys]
    days = sorted({h["acquired_day"] for h in state.holdings.values()})
    tn_of = dict(zip(days, r("trading_day_number_of_day", [(d,) for d in days])))
    for (owner, sid), k, view in zip(args, keys, r("holding", args)):
        h = state.holdings[k]
        _cmp(diffs, f"holding {owner}/{sid}", ("balance", "paid", "acquired_trading_day", "lock_until_day",
                                                "insider"),
             view, (h["balance"], state.paid_view(owner, sid), tn_of[h["acquired_day"]], h["lock_until_day"],
                    h["insider"]))
    qkeys = sorted(set(state.quotas) | {k for k, h in state.holdings.items() if h["insider"]})
    qargs = [(k.split("|")[0], int(k.split("|")[1])) for k in qkeys]
    for k, view in zip(qkeys, r("insider_quota_of", qargs)):
        _cmp(diffs, f"insider quota {k}", ("year", "base", "used"), view, state.quotas.get(k, [0, 0, 0]))

    # roles
    raddrs = sorted(set(state.roles))
    for a, got_role in zip(raddrs, r("roles_of", [(a,) for a in raddrs])):
        _cmp(diffs, f"roles of {a}", ("flags",), (got_role,), (state.roles[a],))
    skeys = sorted(state.security_roles)
    sargs = [(int(k.split("|")[1]), k.split("|")[0]) for k in skeys]
    for k, got_role in zip(skeys, r("security_roles", sargs)):
        _cmp(diffs, f"security roles {k}", ("flags",), (got_role,), (state.security_roles[k],))

    # allowances, operators
    akeys = sorted(state.allowances)
    aargs = [(k.split("|")[0], k.split("|")[1], int(k.split("|")[2])) for k in akeys]
    for k, got_a in zip(akeys, r("allowance", aargs)):
        _cmp(diffs, f"allowance {k}", ("amount",), (got_a,), (state.allowances[k],))
    okeys = sorted(state.operators)
    for k, got_o in zip(okeys, r("isOperator", [tuple(k.split("|")) for k in okeys])):
        _cmp(diffs, f"operator {k}", ("approved",), (got_o,), (state.operators[k],))

    # pledges
    pids = sorted(int(p) for p in state.pledges)
    for pid, view in zip(pids, r("pledge_of", [(p,) for p in pids])):
        p = state.pledges[str(pid)]
        _cmp(diffs, f"pledge {pid}", ("pledgor", "pledgee", "id", "units", "registered_at", "seq", "status", "doc",
                                      "consent_receiver", "consent_units"),
             view, (p["pledgor"], p["pledgee"], p["id"], p["units"], p["registered_at"], p["seq"], p["status"],
                    p["doc"], p["consent_receiver"], p["consent_units"]))
    pkeys = sorted(state.pledge_ids)
    pargs = [(k.split("|")[0], int(k.split("|")[1])) for k in pkeys]
    for k, ids, bal in zip(pkeys, r("pledges_of", pargs), r("pledged_balance_of", pargs)):
        _cmp(diffs, f"pledges on {k}", ("rank order", "pledged balance"), (list(ids), bal),
             (state.pledge_ids[k], state.pledged(k)))

    # freezes
    fids = sorted(int(f) for f in state.freezes)
    for fid, view in zip(fids, r("freeze_of", [(f,) for f in fids])):
        f = state.freezes[str(fid)]
        skip = ("registered_at",) if f["registered_at"] is None else ()
        _cmp(diffs, f"freeze {fid}", ("owner", "id", "units", "case_hash", "agent", "registered_at", "seq",
                                      "expiry_day", "status"),
             view, (f["owner"], f["id"], f["units"], f["case_hash"], f["agent"], f["registered_at"], f["seq"],
                    f["expiry_day"], f["status"]), skip)
    fkeys = sorted(state.freeze_queue)
    fargs = [(k.split("|")[0], int(k.split("|")[1])) for k in fkeys]
    for k, queue, frozen in zip(fkeys, r("freeze_queue_of", fargs), r("frozen_balance_of", fargs)):
        total, flags = state.evaluate(k, today)
        _cmp(diffs, f"freeze queue of {k}", ("ids", "in force", "frozen balance"),
             (list(queue[0]), list(queue[1]), frozen), (state.freeze_queue[k], flags, total))

    compare_transfers(state, reader, today, diffs)
    return diffs


def compare_transfers(state: State, reader, today: int, diffs: list[str]) -> None:
    """Instructions, exercisers, listings, cash tokens, escrow and refunds."""
    r = reader.read
    iids = sorted(int(i) for i in state.instructions)
    args = [(i,) for i in iids]
    for iid, view, stage, takers in zip(iids, r("instruction_of", args), r("stage_of", args),
                                        r("exercisers_of", args)):
        ins = state.instructions[str(iid)]
        derived = state.instruction_stage(iid, today)
        _cmp(diffs, f"instruction {iid}",
             ("seller", "buyer", "id", "units", "price", "cash", "doc", "stage", "court_ordered", "buyer_accepted",
              "consented", "notice_end_day", "expiry_day", "stage_of", "exercisers"),
             (*view, stage, list(takers)),
             (ins["seller"], ins["buyer"], ins["id"], ins["units"], ins["price"], ins["cash"], ins["doc"],
              ins["stage"], ins["court_ordered"], ins["buyer_accepted"], ins["consented"], ins["notice_end_day"],
              ins["expiry_day"], derived, ins["exercisers"]))

    lids = sorted(int(i) for i in state.listings)
    for lid, view in zip(lids, r("listing_of", [(i,) for i in lids])):
        lst = state.listings[str(lid)]
        _cmp(diffs, f"listing {lid}",
             LISTING_FIELDS, view, tuple(lst[k] for k in LISTING_FIELDS))

    tokens = sorted(set(state.cash_tokens) | set(state.escrowed) | {k.split("|")[0] for k in state.refunds})
    targs = [(t,) for t in tokens]
    for t, accepted, held in zip(tokens, r("cash_tokens", targs), r("escrowed", targs)):
        _cmp(diffs, f"cash token {t}", ("accepted", "escrowed"), (accepted, held),
             (state.cash_tokens.get(t, False), state.escrowed.get(t, 0)))
        # issue 6's invariant, on the rebuild: escrowed = open escrows + unclaimed refunds
        want = state.open_escrow(t) + state.refunds_of(t)
        if state.escrowed.get(t, 0) != want:
            diffs.append(f"cash token {t}: escrowed {state.escrowed.get(t, 0)} rebuilt from events, but open "
                         f"escrows {state.open_escrow(t)} + refunds {state.refunds_of(t)} = {want}")
    balances = _token_balances(reader, tokens)
    for t, bal in zip(tokens, balances or []):
        if bal < state.escrowed.get(t, 0):
            diffs.append(f"cash token {t}: the register holds {bal}, less than the {state.escrowed.get(t, 0)} "
                         "escrowed")
    rkeys = sorted(state.refunds)
    for k, got in zip(rkeys, r("refunds", [tuple(k.split("|")) for k in rkeys])):
        _cmp(diffs, f"refund {k}", ("amount",), (got,), (state.refunds[k],))


def verify_report(report: dict, state: State, reader) -> tuple[int, list[str]]:
    """A migration report (docs/migration.md, "The report") against the chain and the rebuild:
    every MIGRATED security's token_id is the id of its code and is sealed; every MIGRATED
    or MERGED account's address is an open account."""
    diffs: list[str] = []
    secs = [(code, e) for code, e in sorted(report.get("securities", {}).items()) if e.get("status") == "MIGRATED"]
    ids = reader.read("security_id", [(keccak(text=f"security:{code}"),) for code, _ in secs])
    views = reader.read("security", [(e.get("token_id") or 0,) for _, e in secs])
    for (code, e), sid, view in zip(secs, ids, views):
        if e.get("token_id") != sid:
            diffs.append(f"report security {code}: token_id {e.get('token_id')}, chain has id {sid} for its code")
        if view[0] not in (2, 3):
            diffs.append(f"report security {code}: status {view[0]} on chain (not ACTIVE or SUSPENDED)")
        if str(sid) not in state.securities:
            diffs.append(f"report security {code}: id {sid} not in the register rebuilt from events")
    accs = [(no, e) for no, e in sorted(report.get("accounts", {}).items())
            if e.get("status") in ("MIGRATED", "MERGED")]
    views = reader.read("account_of", [(e["address"],) for _, e in accs]) if accs else []
    for (no, e), view in zip(accs, views):
        if view[0] == 0:
            diffs.append(f"report account {no}: address {e['address']} has no account on chain")
        elif not any(a.lower() == e["address"].lower() for a in state.accounts):
            diffs.append(f"report account {no}: address {e['address']} not in the rebuilt register")
    return len(secs) + len(accs), diffs


def count_map(state: State) -> dict:
    """What the rebuild holds, by kind (the audit's --json counts)."""
    return {"accounts": len(state.accounts), "securities": len(state.securities),
            "holdings": sum(1 for h in state.holdings.values() if h["balance"] > 0),
            "pledges": len(state.pledges), "freezes": len(state.freezes), "instructions": len(state.instructions),
            "listings": len(state.listings), "cash_tokens": len(state.escrowed), "events": state.events,
            "last_block": state.last_block}


def counts(state: State) -> str:
    c = count_map(state)
    return (f"{c['accounts']} accounts, {c['securities']} securities, {c['holdings']} holdings, "
            f"{c['pledges']} pledges, {c['freezes']} freezes, {c['instructions']} instructions, "
            f"{c['listings']} listings, {c['cash_tokens']} cash tokens, {c['events']} events "
            f"to block {c['last_block']}")


def key(owner: str, sid: int) -> str:
    return hkey(owner, sid)


class AuditError(ValueError):
    """What the audit cannot start with (a migration report that is not one); one line."""


def read_report(path: Path | None) -> dict | None:
    """The migration report to verify, read before connecting (AuditError if it is not one)."""
    if path is None:
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise AuditError(f"--report {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise AuditError(f"--report {path}: not JSON ({one_line(exc)})") from None
    if not isinstance(report, dict) or "securities" not in report:
        raise AuditError(f"--report {path}: not a migration report (no \"securities\")")
    return report


def audit(idx: indexer.Indexer, reader, report: dict | None, report_path: Path | None,
          echo: Callable[[str], None]) -> tuple[dict, list[str]]:
    """Bring the rebuild `idx` up to the chain's head, compare it with the contract state
    (`reader`, as compare) and, given one, verify the migration report; the lines go to echo.
    The result document (counts, notes, differences, the report's check) and every difference."""
    start_block, before, started = idx.state.last_block, idx.state.events, time.monotonic()
    state = idx.sync()
    wall = time.monotonic() - started
    new_events = state.events - before
    echo(f"rebuilt from events: {counts(state)} "
         f"(from block {start_block + 1}, {wall:.1f} s"
         f"{f', {new_events / wall:,.0f} events/s' if wall > 0 else ''})")
    for note in state.notes:
        echo(f"  note: {note}")
    diffs = compare(state, reader)
    echo(f"compared with contract state: {len(diffs)} differences")
    for d in diffs:
        echo(f"  {d}")
    result = {"counts": count_map(state), "notes": list(state.notes), "differences": list(diffs)}
    if report is not None:
        checked, rdiffs = verify_report(report, state, reader)
        echo(f"migration report {report_path}: {checked} records checked, {len(rdiffs)} differences")
        for d in rdiffs:
            echo(f"  {d}")
        result["report"] = {"path": str(report_path), "checked": checked, "differences": rdiffs}
        diffs += rdiffs
    return result, diffs


def write_feed(idx: indexer.Indexer, first_block: int, out: Path) -> dict[str, int]:
    """The supervisory feed from first_block to the head: one JSON line per event with its
    category of the pilot's protocol (one more per cash leg) to `out`; the lines by category."""
    by_category: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    memo: dict = {}  # cash token of each instruction and listing, across chunks
    with out.open("w", encoding="utf-8") as fh:
        for _, evs in idx.events(first_block, idx.head()):
            for line in indexer.feed_lines(evs, memo):
                by_category[line["category"]] = by_category.get(line["category"], 0) + 1
                fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return by_category


def security_history(rpc, reg_address: str, sid: int, first: int):
    """Rebuild from scratch, recording every change of a holding of ``sid``:
    (block, timestamp, owner, balance) in order."""
    history = []

    def on_holding(ev, owner, hid, balance):
        if hid == sid:
            history.append((ev.block, ev.timestamp, owner, balance))

    state = indexer.replay(rpc, reg_address, indexer.abi_of_suite(), first_block=first, on_holding=on_holding)
    return state, history
