"""Deploy (or reuse) the Register on the selected network and record it.

    ape run deploy --network ethereum:devnet:node
    ape run deploy --network ethereum:local:foundry

On local and devnet the deployer is the first test account (anvil's default
mnemonic accounts are unlocked; ape signs locally). Elsewhere pass --account.
"""

import click
from ape import accounts, project
from ape.cli import ConnectedProviderCommand, account_option, ape_cli_context, network_option
from ape.exceptions import ApeException

from regchain import deployments

# Constructor parameters per network: Register(governance, time_unit_ms, utc_offset_s).
# FISCO BCOS reports block.timestamp in milliseconds unless its feature flag is set.
NETWORK_PARAMS = {
    "local": {"time_unit_ms": False, "utc_offset_s": 8 * 3600},
    "devnet": {"time_unit_ms": False, "utc_offset_s": 8 * 3600},
}
TEST_ACCOUNT_NETWORKS = {"local", "devnet"}


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--governance", default=None, help="Governance address (default: the deployer).")
def cli(cli_ctx, network, account, governance):
    try:
        params = NETWORK_PARAMS.get(network.name)
        if params is None:
            raise click.ClickException(
                f"no Register parameters for network '{network.name}'; add them to scripts/deploy.py"
            )
        if account is None:
            if network.name not in TEST_ACCOUNT_NETWORKS:
                raise click.ClickException(f"pass --account to deploy on '{network.name}'")
            account = accounts.test_accounts[0]
        try:
            container = project.Register
        except (AttributeError, ApeException) as exc:
            raise click.ClickException(f"cannot load contract Register: {exc}") from None

        gov = governance or account.address
        result = deployments.check_and_deploy(
            container, gov, params["time_unit_ms"], params["utc_offset_s"], sender=account
        )
    except ApeException as exc:
        raise click.ClickException(str(exc)) from None
    cli_ctx.logger.success(result.reason)
    click.echo(f"Register {result.instance.address}  (network {network.name}, "
               f"record {deployments.display_path(deployments.path_for(network.name))})")
