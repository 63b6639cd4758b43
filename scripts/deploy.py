"""Deploy (or reuse) the register suite on the selected network and record it.

    ape run deploy --network ethereum:devnet:node
    ape run deploy --network ethereum:local:foundry
    ape run deploy --network ... --account <alias> --governance 0x... --registrar 0x...

Deploys IssuanceDesk, AdminDesk and Register (reusing each recorded one that is still
valid; see regchain.suite.deploy_or_reuse), records them in deployments/<network>.json
and grants the registrar role to --registrar if it does not hold it yet.

On local and devnet the deployer is the first test account (anvil's default
mnemonic accounts are unlocked; ape signs locally) and the registrar defaults to
the deployer. Elsewhere pass --account and --registrar.
"""

import click
from ape.cli import ConnectedProviderCommand, account_option, ape_cli_context, network_option

from regchain.setup import SetupError, ensure_suite


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--governance", default=None, help="Governance address (default: the deployer).")
@click.option("--registrar", default=None,
              help="Address to hold the registrar role (default on local/devnet: the deployer).")
def cli(cli_ctx, network, account, governance, registrar):
    try:
        ensure_suite(network.name, account=account, governance=governance, registrar=registrar,
                     echo=click.echo)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
