"""Gas benchmark: `make bench` (= `ape run bench`, on a fresh ape-foundry anvil).

Each metric group is a function ``measure_<group>(ctx) -> {key: value}``; add one and
list it in GROUPS. Results are merged into {"group": {...}, ...}, written to
bench/results.json and printed with the goal and value/goal ratio where a goal exists.
"""

import json
from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand, ape_cli_context, network_option

RESULTS = Path(project.path) / "bench" / "results.json"

# Goals, keyed "group.key". Gas goals are upper bounds (ratio < 1 is better).
GOALS: dict[str, float] = {}


class Ctx:
    """Shared state for the measurements: accounts and lazily deployed contracts."""

    def __init__(self):
        self.accounts = accounts.test_accounts
        self.deployer = self.accounts[0]
        self._contracts = {}

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


GROUPS = [measure_baseline]


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
            ratio = f"{value / goal:.2f}" if goal else ""
            rows.append((name, f"{value:,}" if isinstance(value, int) else str(value),
                         f"{goal:,}" if goal else "", ratio))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                       for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option(default="ethereum:local:foundry")
def cli(cli_ctx, network):
    ctx = Ctx()
    results: dict = {}
    for measure in GROUPS:
        merge(results, measure(ctx))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(
        {"network": network.name, "chain_id": chain.chain_id, **results}, indent=2) + "\n")
    click.echo(table(results))
    click.echo(f"\nwritten to {RESULTS.relative_to(project.path)}")
