"""Deploy (or reuse) the register suite on the selected network, record it, wire the roles.

    ape run deploy --network ethereum:devnet:node
    ape run deploy --network ethereum:local:foundry
    ape run deploy --network ethereum:consortium:node --account <alias> --roles roles.yaml
    ape run deploy --network ... --account <alias> --governance 0x... --registrar 0x...

Deploys the desks and Register (reusing each recorded one that is still valid; see
regchain.suite.deploy_or_reuse), records them and the clock parameters in
deployments/<network>.json and grants the registrar role to --registrar if it does not
hold it yet. --roles FILE (YAML or JSON; see regchain.setup.RolesFile) also grants the
court agent and per-security roles and hands governance over; only what is missing is sent.

On local and devnet (and the test networks) the deployer is the first test account
(anvil's default mnemonic accounts are unlocked; ape signs locally) and the registrar
defaults to the deployer. Elsewhere pass --account (a keyfile alias; with
APE_ACCOUNTS_<alias>_PASSPHRASE set it signs without prompting) and --registrar or --roles.
The `consortium` network takes REGCHAIN_RPC_URI, REGCHAIN_CHAIN_ID, REGCHAIN_TIME_UNIT_MS
and REGCHAIN_UTC_OFFSET_S from the environment (docs/runbook.md, "Connect and deploy").
"""

import click
from ape.cli import ConnectedProviderCommand, account_option, ape_cli_context, network_option

from regchain.setup import SetupError, ensure_suite, load_roles, network_problem


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--governance", default=None, help="Governance address (default: the deployer).")
@click.option("--registrar", default=None,
              help="Address to hold the registrar role (default on local/devnet: the deployer).")
@click.option("--roles", "roles_file", default=None, type=click.Path(dir_okay=False),
              help="Roles file (YAML or JSON): governance, registrar, court_agent, securities.")
def cli(cli_ctx, network, account, governance, registrar, roles_file):
    try:
        if problem := network_problem(network.name):
            raise SetupError(problem)
        roles = load_roles(roles_file) if roles_file else None
        ensure_suite(network.name, account=account, governance=governance, registrar=registrar,
                     roles=roles, echo=click.echo)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
