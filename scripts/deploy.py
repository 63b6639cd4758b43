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
and REGCHAIN_UTC_OFFSET_S from the environment (docs/runbook.md, "Connect and deploy"). There a new
suite is deployed only with --new (without it, a missing or unusable record stops the
command with one line), and a multicall contract (many views in one call, for the
migration's reads on nodes without batches) is deployed through regchain.writer and
recorded beside the suite (docs/consortium-profiles.md).
"""

import click
from ape.cli import ConnectedProviderCommand, account_option, ape_cli_context, network_option

from regchain import deployments
from regchain.setup import SetupError, ensure_suite, load_roles, must_deploy_new, network_problem
from regchain.suite import TEST_ACCOUNT_NETWORKS


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@account_option(prompt=False)
@click.option("--governance", default=None, help="Governance address (default: the deployer).")
@click.option("--registrar", default=None,
              help="Address to hold the registrar role (default on local/devnet: the deployer).")
@click.option("--roles", "roles_file", default=None, type=click.Path(dir_okay=False),
              help="Roles file (YAML or JSON): governance, registrar, court_agent, securities.")
@click.option("--new", "new", is_flag=True,
              help="Deploy a new suite where none usable is recorded (required outside the test networks).")
def cli(cli_ctx, network, account, governance, registrar, roles_file, new):
    try:
        if problem := network_problem(network.name):
            raise SetupError(problem)
        roles = load_roles(roles_file) if roles_file else None
        must_deploy_new(network.name, new)
        suite = ensure_suite(network.name, account=account, governance=governance, registrar=registrar,
                             roles=roles, echo=click.echo)
        if network.name not in TEST_ACCOUNT_NETWORKS:
            _ensure_multicall(network.name, suite.deployer)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None


def _ensure_multicall(network_name: str, account) -> None:
    """The multicall recorded for the network, deployed through regchain.writer if missing."""
    from ape import chain

    from regchain.networks import profile_for
    from regchain.rpc import Rpc
    from regchain.writer import WriteError, Writer, signer_for_account

    recorded = deployments.load(network_name).get("multicall")
    if recorded and len(bytes(chain.provider.get_code(recorded))) > 0:
        click.echo(f"multicall {recorded}")
        return
    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    rpc = Rpc(uri)
    try:
        writer = Writer(rpc, signer_for_account(account, rpc=rpc), profile_for(network_name))
        address = deployments.deploy_multicall(writer)
    except (WriteError, OSError) as exc:
        raise SetupError(f"deploying the multicall: {exc}") from None
    finally:
        rpc.close()
    deployments.set_fields(network_name, multicall=address)
    click.echo(f"multicall {address} (deployed)")
