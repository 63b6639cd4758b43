"""Reads from the register rebuilt from events (regchain.indexer): `ops show holder|cap-table|history`."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from regchain import calendar as cal
from regchain import cli as common
from regchain import indexer
from regchain.constants import InvestorClass, Kind, SecurityStatus
from regchain.ops.session import record, run, say

ACCOUNT_STATUS = ["unopened", "active", "suspended", "closed"]


def _state(reg):
    return common.make_indexer(reg.address, None).sync()


def holder(session, address):
    """ADDRESS's account and holdings: units, pledged, frozen, free, lock-ups."""
    address = common.address_arg(address)

    def action(reg, _):
        s = _state(reg)
        today = int(reg.today())
        acc = s.accounts.get(address)
        if acc is None:
            say(f"{address}: no account")
        else:
            say(f"{address}: {ACCOUNT_STATUS[acc['status']]}, "
                f"{InvestorClass(acc['investor_class']).name.lower()}, "
                f"{'qualified' if acc['qualified'] else 'not qualified'}, identity {acc['identity'][:18]}…")
        for k, h in sorted(s.holdings.items()):
            owner, sid = k.split("|")
            if owner != address or not h["balance"]:
                continue
            pledged, frozen = s.pledged(k), s.frozen(k, today)
            say(f"  security {sid:>4}: {h['balance']:>14,} units, pledged {pledged:,}, frozen {frozen:,}, "
                f"free {h['balance'] - pledged - frozen:,}"
                + (f", locked until {cal.date_of(h['lock_until_day'])}" if h["lock_until_day"] > today else "")
                + (", insider" if h["insider"] else ""))
    run(session, action, needs_signer=False)


def cap_table(session, sid: int, csv_path: Path | None):
    """The cap table (股东名册) of security SID today, printed, kept for --json and written to csv_path."""
    def action(reg, _):
        s = _state(reg)
        sec = s.securities.get(str(sid))
        if sec is None:
            raise click.ClickException(f"no security {sid}")
        today = int(reg.today())
        supply = sec["total_supply"] or 1
        rows = []
        for owner, h in s.holders_of(sid):
            k = indexer.hkey(owner, sid)
            rows.append({"holder": owner, "units": h["balance"], "paid": s.paid_view(owner, sid),
                         "share_pct": f"{100 * h['balance'] / supply:.4f}", "pledged": s.pledged(k),
                         "frozen": s.frozen(k, today),
                         "lock_until": cal.date_of(h["lock_until_day"]).isoformat() if h["lock_until_day"] else "",
                         "insider": h["insider"]})
        say(f"security {sid} ({Kind(sec['kind']).name}, {SecurityStatus(sec['status']).name}): "
            f"{sec['total_supply']:,} units, {sec['holder_count']} holders")
        say(f"  {'holder':<44}{'units':>14}{'paid-in':>14}{'share %':>10}{'pledged':>12}{'frozen':>12}")
        for r in rows:
            say(f"  {r['holder']:<44}{r['units']:>14,}{r['paid']:>14,}{float(r['share_pct']):>10.2f}"
                f"{r['pledged']:>12,}{r['frozen']:>12,}")
        record("cap_table", rows)
        if csv_path:
            with csv_path.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["holder"])
                w.writeheader()
                w.writerows(rows)
            say(f"wrote {csv_path}")
    run(session, action, needs_signer=False)


def history(session, owner, sid: int):
    """Every event that touched OWNER's holding of SID, oldest first, with the balance after it."""
    owner = common.address_arg(owner)

    def action(reg, _):
        lines = []
        key = indexer.hkey(owner, sid)

        def on_event(ev):
            a = ev.args
            pledge_or_freeze = ev.name.startswith(("Pledge", "Freeze", "Frozen", "Court"))
            touches = (a.get("id") == sid and owner in (a.get("sender"), a.get("receiver"), a.get("owner"),
                                                        a.get("pledgor"), a.get("old_owner"), a.get("new_owner")))
            if pledge_or_freeze and not touches:
                rec = (state_ref[0].pledges.get(str(a.get("pledge_id"))) if "pledge_id" in a
                       else state_ref[0].freezes.get(str(a.get("freeze_id"))))
                touches = rec is not None and rec["id"] == sid and owner in (rec.get("pledgor"), rec.get("owner"))
            if touches:
                bal = state_ref[0].holdings.get(key, {}).get("balance", 0)
                fields = ", ".join(f"{k}={v}" for k, v in a.items() if k not in ("doc", "id"))
                lines.append(f"  block {ev.block:>7}  {ev.name:<22} {fields}  -> balance {bal:,}")

        idx = common.make_indexer(reg.address, None)
        idx.state = indexer.State(chain_id=idx.chain_id, address=idx.address, time_unit=idx.state.time_unit,
                                  utc_offset=idx.state.utc_offset, first_block=idx.first_block,
                                  last_block=idx.first_block - 1)
        idx.checkpoint = None
        state_ref = [idx.state]
        idx.sync(on_event=on_event)
        say(f"history of {owner} in security {sid}: {len(lines)} events")
        for ln in lines:
            say(ln)
    run(session, action, needs_signer=False)
