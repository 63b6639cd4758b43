"""Audit the register from its events (全程留痕、可追溯).

    ape run audit [--network NET] [--report MIGRATION_REPORT.json] [--checkpoint FILE] [--chunk N]
    ape run audit feed --out FEED.jsonl [--network NET] [--from-block N]
    ape run audit html --id N --out FILE.html [--network NET]

Without a subcommand: rebuild the register from events (chunked, resumable eth_getLogs;
checkpoint in .cache/indexer.json per network), read every rebuilt record back from the
contract in batched eth_calls and list every difference; exit 1 if there is any. With
--report it also checks a migration report (token ids, addresses) against the chain.
`feed` writes the supervisory feed (one JSON line per event with its category of the
pilot's protocol, and one more under 资金映射 for each cash leg); `html` a static page
for one security. --network and --json are regchain's common options (regchain.cli): the
network defaults to $REGCHAIN_NETWORK, else the devnet; --json prints the result as one
JSON document (the lines along the way go to stderr).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from regchain import audit as audit_mod
from regchain import cli as common
from regchain import html_report, indexer


def _read_report(path: Path | None) -> dict | None:
    """The migration report to verify, read before connecting (one line if it is not one)."""
    if path is None:
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.ClickException(f"--report {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise click.ClickException(f"--report {path}: not JSON ({common.one_line(exc)})") from None
    if not isinstance(report, dict) or "securities" not in report:
        raise click.ClickException(f"--report {path}: not a migration report (no \"securities\")")
    return report


def _fail(exc: Exception):
    if os.environ.get("REGCHAIN_DEBUG"):
        raise exc
    raise click.ClickException(common.one_line(exc)) from None


network_opt = common.network_option()
register_opt = click.option("--register", "register_address", default=None,
                            help="Register address (default: the network's deployment record).")


@click.group(invoke_without_command=True)
@network_opt
@register_opt
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also verify this migration report (ape run migrate --report) against the chain.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Checkpoint file (default .cache/indexer.json).")
@click.option("--chunk", default=2000, show_default=True, type=click.IntRange(1),
              help="Blocks per eth_getLogs query (halved on refusal).")
@common.json_option()
@click.pass_context
def cli(ctx, network, register_address, report_path, checkpoint, chunk, as_json):
    """Rebuild the register from its events and compare every record with the contract's state
    (exit 1 on any difference); with --report also check a migration report. `feed` and `html`
    write the supervisory feed and a security's page."""
    ctx.ensure_object(dict).update(network=network, register=register_address, as_json=as_json)
    if ctx.invoked_subcommand:
        return
    echo = common.echo_for(as_json)
    result: dict = {}
    try:
        report = _read_report(report_path)
        with common.connected(network):
            from regchain.migrate import Chain

            reg = common.register(register_address)
            idx = common.make_indexer(reg.address, checkpoint, chunk, echo=echo)
            start_block, before, started = idx.state.last_block, idx.state.events, time.monotonic()
            state = idx.sync()
            wall = time.monotonic() - started
            new_events = state.events - before
            echo(f"rebuilt from events: {audit_mod.counts(state)} "
                 f"(from block {start_block + 1}, {wall:.1f} s"
                 f"{f', {new_events / wall:,.0f} events/s' if wall > 0 else ''})")
            for note in state.notes:
                echo(f"  note: {note}")
            reader = Chain(reg, None)
            diffs = audit_mod.compare(state, reader)
            echo(f"compared with contract state: {len(diffs)} differences")
            for d in diffs:
                echo(f"  {d}")
            result = {"register": str(reg.address), "network": common.network_name(),
                      "counts": audit_mod.count_map(state), "notes": list(state.notes), "differences": list(diffs)}
            if report is not None:
                checked, rdiffs = audit_mod.verify_report(report, state, reader)
                echo(f"migration report {report_path}: {checked} records checked, {len(rdiffs)} differences")
                for d in rdiffs:
                    echo(f"  {d}")
                result["report"] = {"path": str(report_path), "checked": checked, "differences": rdiffs}
                diffs += rdiffs
    except click.ClickException:
        raise
    except Exception as exc:
        _fail(exc)
    if as_json:
        common.emit_json({"ok": not diffs, **result})
    if diffs:
        raise click.ClickException(f"{len(diffs)} differences between the events and the chain")


@cli.command()
@network_opt
@register_opt
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON-lines file.")
@click.option("--from-block", default=None, type=click.IntRange(0), help="First block (default: the deployment's).")
@common.json_option()
@click.pass_context
def feed(ctx, network, register_address, out, from_block, as_json):
    """The supervisory feed: one JSON line per event, by category of the pilot's protocol."""
    as_json = as_json or ctx.obj.get("as_json")
    counts: dict[str, int] = {}
    try:
        with common.connected(network or ctx.obj.get("network")):
            reg = common.register(register_address or ctx.obj.get("register"))
            first = common.first_block() if from_block is None else from_block
            idx = indexer.Indexer(indexer.HttpRpc.from_ape(), reg.address, indexer.abi_of_suite(), first_block=first)
            out.parent.mkdir(parents=True, exist_ok=True)
            memo: dict = {}  # cash token of each instruction and listing, across chunks
            with out.open("w", encoding="utf-8") as fh:
                for _, evs in idx.events(first, idx.head()):
                    for line in indexer.feed_lines(evs, memo):
                        counts[line["category"]] = counts.get(line["category"], 0) + 1
                        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    except click.ClickException:
        raise
    except Exception as exc:
        _fail(exc)
    if as_json:
        common.emit_json({"ok": True, "out": str(out), "lines": sum(counts.values()),
                          "categories": {cat: counts.get(cat, 0) for cat in indexer.CATEGORIES}})
        return
    click.echo(f"feed: {sum(counts.values())} lines to {out} (one per event, one more per cash leg)")
    for cat in indexer.CATEGORIES:
        click.echo(f"  {cat:<6} {counts.get(cat, 0):>8}")


def security_history(reg_address: str, sid: int, first: int):
    """Rebuild from scratch, recording every change of a holding of ``sid``."""
    history = []

    def on_holding(ev, owner, hid, balance):
        if hid == sid:
            history.append((ev.block, ev.timestamp, owner, balance))

    state = indexer.replay(indexer.HttpRpc.from_ape(), reg_address, indexer.abi_of_suite(), first_block=first,
                           on_holding=on_holding)
    return state, history


@cli.command()
@network_opt
@register_opt
@click.option("--id", "sid", required=True, type=click.IntRange(1), help="Security id.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HTML file.")
@common.json_option()
@click.pass_context
def html(ctx, network, register_address, sid, out, as_json):
    """A static HTML page of one security: cap table, encumbrances, holdings over time."""
    try:
        with common.connected(network or ctx.obj.get("network")):
            reg = common.register(register_address or ctx.obj.get("register"))
            state, history = security_history(reg.address, sid, common.first_block())
            if str(sid) not in state.securities:
                raise click.ClickException(f"no security {sid} on the register")
            history = [(b, ts // state.time_unit, o, v) for b, ts, o, v in history]
            page = html_report.render(state, sid, history, int(reg.today()))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page, encoding="utf-8")
    except click.ClickException:
        raise
    except Exception as exc:
        _fail(exc)
    if as_json or ctx.obj.get("as_json"):
        common.emit_json({"ok": True, "out": str(out), "security": sid, "holding_changes": len(history)})
        return
    click.echo(f"wrote {out} (security {sid}, {len(history)} holding changes)")
