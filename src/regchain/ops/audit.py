"""`ape run audit` (scripts/audit.py is its click tree): connect, run regchain.audit, report.

    check(network, register, report_path, checkpoint, chunk, as_json)   # exit 1 on any difference
    feed(network, register, out, from_block, as_json)
    html(network, register, sid, out, as_json)

Every failure is one line (REGCHAIN_DEBUG=1 shows the traceback); --json prints one document.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import click

from regchain import audit, html_report, indexer
from regchain import cli as common


@contextmanager
def _one_line():
    """Any failure but a click one becomes one line."""
    try:
        yield
    except click.ClickException:
        raise
    except audit.AuditError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        if os.environ.get("REGCHAIN_DEBUG"):
            raise
        raise click.ClickException(common.one_line(exc)) from None


def check(network, register_address, report_path: Path | None, checkpoint: Path | None, chunk: int,
          as_json: bool) -> None:
    """Rebuild the register from its events, compare it with the contract state and, given one,
    verify a migration report; ClickException (exit 1) on any difference."""
    echo = common.echo_for(as_json)
    result: dict = {}
    with _one_line():
        report = audit.read_report(report_path)
        with common.connected(network):
            from regchain.migrate import Chain

            reg = common.register(register_address)
            idx = common.make_indexer(reg.address, checkpoint, chunk, echo=echo)
            found, diffs = audit.audit(idx, Chain(reg, None), report, report_path, echo)
            result = {"register": str(reg.address), "network": common.network_name(), **found}
    if as_json:
        common.emit_json({"ok": not diffs, **result})
    if diffs:
        raise click.ClickException(f"{len(diffs)} differences between the events and the chain")


def feed(network, register_address, out: Path, from_block: int | None, as_json: bool) -> None:
    """Write the supervisory feed to `out` and say how many lines of each category."""
    with _one_line():
        with common.connected(network):
            reg = common.register(register_address)
            first = common.first_block() if from_block is None else from_block
            idx = indexer.Indexer(indexer.HttpRpc.from_ape(), reg.address, indexer.abi_of_suite(), first_block=first)
            counts = audit.write_feed(idx, first, out)
    if as_json:
        common.emit_json({"ok": True, "out": str(out), "lines": sum(counts.values()),
                          "categories": {cat: counts.get(cat, 0) for cat in indexer.CATEGORIES}})
        return
    click.echo(f"feed: {sum(counts.values())} lines to {out} (one per event, one more per cash leg)")
    for cat in indexer.CATEGORIES:
        click.echo(f"  {cat:<6} {counts.get(cat, 0):>8}")


def html(network, register_address, sid: int, out: Path, as_json: bool) -> None:
    """Write the static HTML page of security `sid` to `out`."""
    with _one_line():
        with common.connected(network):
            reg = common.register(register_address)
            state, history = audit.security_history(indexer.HttpRpc.from_ape(), reg.address, sid,
                                                    common.first_block())
            if str(sid) not in state.securities:
                raise click.ClickException(f"no security {sid} on the register")
            history = [(b, ts // state.time_unit, o, v) for b, ts, o, v in history]
            page = html_report.render(state, sid, history, int(reg.today()))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(page, encoding="utf-8")
    if as_json:
        common.emit_json({"ok": True, "out": str(out), "security": sid, "holding_changes": len(history)})
        return
    click.echo(f"wrote {out} (security {sid}, {len(history)} holding changes)")
