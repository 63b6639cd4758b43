"""A static HTML page for one security, rendered from the indexer: cap table, encumbrances
(pledges, freeze queue) and a stacked chart of holdings over time (inline SVG, no
external assets)."""

from __future__ import annotations

import datetime as dt
import html

from regchain import calendar as cal
from regchain.constants import Kind, SecurityStatus
from regchain.indexer import State, hkey

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f"]
PLEDGE_STATUS = {1: "offered", 2: "pledged", 3: "released", 4: "enforced", 5: "cancelled"}


def short(addr: str) -> str:
    return f"{addr[:6]}…{addr[-4:]}"


def render(state: State, sid: int, history: list[tuple[int, int, str, int]], today: int,
           labels: dict[str, str] | None = None) -> str:
    """history: (block, timestamp, owner, balance after) for every change of a holding of sid."""
    labels = labels or {}
    name = lambda a: labels.get(a) or short(a)  # noqa: E731
    e = html.escape
    sec = state.securities[str(sid)]
    supply = sec["total_supply"] or 1
    holders = state.holders_of(sid)
    is_llc = sec["kind"] == Kind.LLC
    rows = []
    for owner, h in holders:
        k = hkey(owner, sid)
        pledged = state.pledged(k)
        frozen = state.frozen(k, today)
        free = max(0, h["balance"] - pledged - frozen)
        lock = cal.date_of(h["lock_until_day"]).isoformat() if h["lock_until_day"] > today else ""
        rows.append(
            f"<tr><td title='{e(owner)}'>{e(name(owner))}</td><td class=n>{h['balance']:,}</td>"
            + (f"<td class=n>{h['paid']:,}</td>" if is_llc else "")
            + f"<td class=n>{100 * h['balance'] / supply:.2f}%</td><td class=n>{pledged:,}</td>"
            f"<td class=n>{frozen:,}</td><td class=n>{free:,}</td><td>{e(lock)}</td>"
            f"<td>{'yes' if h['insider'] else ''}</td></tr>")
    pledges = []
    for pid, p in sorted(state.pledges.items(), key=lambda kv: int(kv[0])):
        if p["id"] != sid or p["status"] not in (1, 2):
            continue
        pledges.append(f"<tr><td>{pid}</td><td>{e(name(p['pledgor']))}</td><td>{e(name(p['pledgee']))}</td>"
                       f"<td class=n>{p['units']:,}</td><td>{PLEDGE_STATUS[p['status']]}</td>"
                       f"<td>{_rank(state, p, pid)}</td></tr>")
    freezes = []
    for k, queue in sorted(state.freeze_queue.items()):
        if not k.endswith(f"|{sid}"):
            continue
        for pos, fid in enumerate(queue, 1):
            f = state.freezes[str(fid)]
            freezes.append(f"<tr><td>{fid}</td><td>{e(name(f['owner']))}</td><td>{pos}</td>"
                           f"<td class=n>{f['units']:,}</td><td>{cal.date_of(f['expiry_day'])}</td>"
                           f"<td>{state.freeze_status(fid, today).lower().replace('_', ' ')}</td>"
                           f"<td title='{e(f['case_hash'])}'>{e(f['case_hash'][:10])}…</td></tr>")
    head = ("<tr><th>holder</th><th>units</th>" + ("<th>paid-in</th>" if is_llc else "")
            + "<th>share</th><th>pledged</th><th>frozen</th><th>free</th><th>locked until</th><th>insider</th></tr>")
    status = SecurityStatus(sec["status"]).name.lower()
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Security {sid}: register</title>
<style>
body{{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222}}
h1{{font-size:1.5em;margin-bottom:.2em}} h2{{font-size:1.15em;margin-top:1.6em}}
table{{border-collapse:collapse;width:100%}} td,th{{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}}
th{{background:#f4f4f4}} td.n{{text-align:right;font-variant-numeric:tabular-nums}}
.meta{{color:#555}} .empty{{color:#888;font-style:italic}} svg text{{font:11px system-ui,sans-serif}}
</style></head><body>
<h1>Security {sid} <small>({Kind(sec['kind']).name}, {status})</small></h1>
<p class=meta>code hash {e(sec['code_hash'][:18])}… · {sec['total_supply']:,} units · {sec['holder_count']} holders ·
rebuilt from events to block {state.last_block} · as of {cal.date_of(today)}</p>
<h2>Holdings over time</h2>
{chart(history, name)}
<h2>Cap table</h2>
<table>{head}{''.join(rows) or '<tr><td class=empty colspan=9>no holders</td></tr>'}</table>
<h2>Pledges</h2>
<table><tr><th>pledge</th><th>pledgor</th><th>pledgee</th><th>units</th><th>status</th><th>rank</th></tr>
{''.join(pledges) or '<tr><td class=empty colspan=6>none</td></tr>'}</table>
<h2>Judicial freezes</h2>
<table><tr><th>freeze</th><th>holder</th><th>queue</th><th>units</th><th>expires</th><th>state</th><th>case</th></tr>
{''.join(freezes) or '<tr><td class=empty colspan=7>none</td></tr>'}</table>
</body></html>
"""


def _rank(state: State, p: dict, pid: str) -> str:
    ids = state.pledge_ids.get(hkey(p["pledgor"], p["id"]), [])
    return str(ids.index(int(pid)) + 1) if int(pid) in ids else ""


def compact(v: float) -> str:
    for size, suffix in ((1e12, "T"), (1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= size:
            return f"{v / size:.3g}{suffix}"
    return f"{v:.3g}"


def chart(history: list[tuple[int, int, str, int]], name, width: int = 860, height: int = 300) -> str:
    """Stacked step areas: the biggest holders (at any time) each a band, the rest as 'others'."""
    if not history:
        return "<p class=empty>no holdings yet</p>"
    # balances after each block that changed a holding; x is the sequence of those blocks
    # (changes can be seconds or years apart), labelled with block number and date
    balances: dict[str, int] = {}
    points: list[tuple[int, dict]] = []
    stamps: dict[int, int] = {}
    peak: dict[str, int] = {}
    for block, ts, owner, bal in history:
        balances[owner] = bal
        peak[owner] = max(peak.get(owner, 0), bal)
        stamps[block] = ts
        if points and points[-1][0] == block:
            points[-1] = (block, dict(balances))
        else:
            points.append((block, dict(balances)))
    top = sorted(peak, key=lambda a: -peak[a])[:8]
    bands = top + (["others"] if len(peak) > len(top) else [])

    def value(snapshot, band):
        if band == "others":
            return sum(v for a, v in snapshot.items() if a not in top)
        return snapshot.get(band, 0)

    t0, t1 = 0, len(points)
    ymax = max(sum(s.values()) for _, s in points) or 1
    left, right, top_m, bottom = 60, 170, 10, 30
    pw, ph = width - left - right, height - top_m - bottom
    x = lambda t: left + pw * (t - t0) / (t1 - t0)  # noqa: E731
    y = lambda v: top_m + ph * (1 - v / ymax)  # noqa: E731
    shapes, legend = [], []
    lower = [0] * len(points)
    for i, band in enumerate(bands):
        upper = [lo + value(s, band) for lo, (_, s) in zip(lower, points)]
        top_path, bot_path = [], []
        for j in range(len(points)):
            top_path += [(x(j), y(upper[j])), (x(j + 1), y(upper[j]))]
            bot_path += [(x(j), y(lower[j])), (x(j + 1), y(lower[j]))]
        poly = top_path + bot_path[::-1]
        color = PALETTE[i % len(PALETTE)]
        label = "others" if band == "others" else name(band)
        shapes.append(f"<polygon fill='{color}' fill-opacity='.8' stroke='{color}' "
                      f"points='{' '.join(f'{a:.1f},{b:.1f}' for a, b in poly)}'><title>{html.escape(label)}</title>"
                      "</polygon>")
        ly = top_m + 16 * i
        legend.append(f"<rect x='{left + pw + 12}' y='{ly}' width='10' height='10' fill='{color}'/>"
                      f"<text x='{left + pw + 27}' y='{ly + 9}'>{html.escape(label)}</text>")
        lower = upper
    axes = [f"<line x1='{left}' y1='{top_m + ph}' x2='{left + pw}' y2='{top_m + ph}' stroke='#333'/>",
            f"<line x1='{left}' y1='{top_m}' x2='{left}' y2='{top_m + ph}' stroke='#333'/>"]
    for k in range(5):
        v = ymax * k / 4
        axes.append(f"<text x='{left - 6}' y='{y(v) + 4:.1f}' text-anchor='end'>{compact(v)}</text>"
                    f"<line x1='{left}' x2='{left + pw}' y1='{y(v):.1f}' y2='{y(v):.1f}' stroke='#eee'/>")
    ticks = sorted({round(k * (len(points) - 1) / 4) for k in range(5)}) if len(points) > 1 else [0]
    for j in ticks:
        block = points[j][0]
        date = dt.datetime.fromtimestamp(stamps[block] + 8 * 3600, dt.timezone.utc).strftime("%Y-%m-%d")
        axes.append(f"<text x='{x(j + .5):.1f}' y='{top_m + ph + 14}' text-anchor='middle'>block {block}</text>"
                    f"<text x='{x(j + .5):.1f}' y='{top_m + ph + 26}' text-anchor='middle' fill='#666'>{date}</text>")
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' role='img' "
            f"aria-label='holdings over time'>{''.join(axes[:2])}{''.join(axes[2:])}{''.join(shapes)}"
            f"{''.join(legend)}</svg>")
