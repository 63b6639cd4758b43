"""Benchmark: `make bench` (= `ape run bench`, on a fresh ape-foundry anvil).

The measurements are regchain.testing.bench (one function a metric group; REGCHAIN_BENCH_GROUPS
picks groups, e.g. `gas`, `migration`, `supervise`). Results are merged into
bench/results.json and printed with the goal and value/goal ratio where a goal exists.
"""

import click
from ape.cli import ConnectedProviderCommand, ape_cli_context, network_option

from regchain.testing import bench


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option(default="ethereum:local:foundry")
def cli(cli_ctx, network):
    """Measure gas, speed and memory (bench/results.json)."""
    click.echo(bench.run(network.name))
