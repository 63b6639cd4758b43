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

from pathlib import Path

import click

from regchain import cli as common
from regchain.ops import audit

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
    if not ctx.invoked_subcommand:
        audit.check(network, register_address, report_path, checkpoint, chunk, as_json)


@cli.command()
@network_opt
@register_opt
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON-lines file.")
@click.option("--from-block", default=None, type=click.IntRange(0), help="First block (default: the deployment's).")
@common.json_option()
@click.pass_context
def feed(ctx, network, register_address, out, from_block, as_json):
    """The supervisory feed: one JSON line per event, by category of the pilot's protocol."""
    audit.feed(network or ctx.obj.get("network"), register_address or ctx.obj.get("register"), out, from_block,
               as_json or ctx.obj.get("as_json"))


@cli.command()
@network_opt
@register_opt
@click.option("--id", "sid", required=True, type=click.IntRange(1), help="Security id.")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="HTML file.")
@common.json_option()
@click.pass_context
def html(ctx, network, register_address, sid, out, as_json):
    """A static HTML page of one security: cap table, encumbrances, holdings over time."""
    audit.html(network or ctx.obj.get("network"), register_address or ctx.obj.get("register"), sid, out,
               as_json or ctx.obj.get("as_json"))
