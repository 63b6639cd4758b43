"""Deploy (or reuse) the register suite on the selected network, record it, wire the roles.

    ape run deploy --network ethereum:devnet:node
    ape run deploy --network ethereum:local:foundry
    ape run deploy --network ethereum:consortium:node --account <alias> --roles roles.yaml
    ape run deploy --network ... --account <alias> --governance 0x... --registrar 0x...

Deploys the desks and Register (reusing each recorded one that is still valid; see
regchain.suite.deploy_or_reuse), records them and the clock parameters in
deployments/<network>.json and grants the registrar role to --registrar if it does not
hold it yet. --roles FILE (YAML or JSON; see regchain.provision.RolesFile) also grants the
court agent and per-security roles and hands governance over; only what is missing is sent.

--network, --account and --json are regchain's common options (regchain.cli): the network
defaults to $REGCHAIN_NETWORK, else the devnet (never ape's throw-away local chain).
On the test networks (local, devnet, ...) the deployer is the first test account
(anvil's default mnemonic accounts are unlocked; ape signs locally) and the registrar
defaults to the deployer. Elsewhere pass --account (a keystore alias, unlocked unattended
with APE_ACCOUNTS_<alias>_PASSPHRASE, or a key file) and --registrar or --roles. Inputs
(addresses, the roles file, the account) are checked before connecting. --json prints the
deployment record as one JSON document.
The `consortium` network takes REGCHAIN_RPC_URI, REGCHAIN_CHAIN_ID, REGCHAIN_TIME_UNIT_MS
and REGCHAIN_UTC_OFFSET_S from the environment (docs/runbook.md, "Connect and deploy"). There a new
suite is deployed only with --new (without it, a missing or unusable record stops the
command with one line), and a multicall contract (many views in one call, for the
migration's reads on nodes without batches) is deployed through regchain.writer and
recorded beside the suite (docs/consortium-profiles.md).
"""

import click
from ape.cli import ape_cli_context
from ape.exceptions import ApeException

from regchain import cli as common
from regchain import deployments
from regchain.provision import SetupError, checked_address, ensure_suite, load_roles, must_deploy_new, network_problem


@click.command()
@ape_cli_context()
@common.network_option()
@common.account_option("Who deploys and signs the grants (the suite's first governance; default on the test "
                       "networks: test:0)")
@click.option("--governance", default=None, help="Governance address (default: the deployer).")
@click.option("--registrar", default=None,
              help="Address to hold the registrar role (default on local/devnet: the deployer).")
@click.option("--roles", "roles_file", default=None, type=click.Path(dir_okay=False),
              help="Roles file (YAML or JSON): governance, registrar, court_agent, securities.")
@common.new_option()
@common.json_option()
def cli(cli_ctx, network, account, governance, registrar, roles_file, new, as_json):
    """Deploy (or reuse) the register suite on --network, record it in deployments/<network>.json,
    grant the registrar role and wire a roles file. Outside the test networks a new suite is
    deployed only with --new."""
    echo = common.echo_for(as_json)
    try:
        # every input first: nothing is connected to for a bad address, roles file or account
        governance = checked_address(governance, "--governance")
        registrar = checked_address(registrar, "--registrar")
        roles = load_roles(roles_file) if roles_file else None
        name = common.network_name_of(network)
        if problem := network_problem(name):
            raise SetupError(problem)
        signer = common.account_for(account, name)
        with common.connected(network):
            must_deploy_new(name, new)
            suite = ensure_suite(name, account=signer, governance=governance, registrar=registrar,
                                 roles=roles, echo=echo)
            if not common.is_test_network(name):
                _ensure_multicall(name, suite.deployer, echo)
            record = deployments.load(name)
    except SetupError as exc:
        raise click.ClickException(str(exc)) from None
    except ApeException as exc:
        raise click.ClickException(common.one_line(exc)) from None
    if as_json:
        common.emit_json({"ok": True, "network": name, "record": record})


def _ensure_multicall(network_name: str, account, echo=click.echo) -> None:
    """The multicall recorded for the network, deployed through regchain.writer if missing."""
    from ape import chain

    from regchain.networks import profile_for
    from regchain.rpc import Rpc
    from regchain.writer import WriteError, Writer, signer_for_account

    recorded = deployments.load(network_name).get("multicall")
    if recorded and len(bytes(chain.provider.get_code(recorded))) > 0:
        echo(f"multicall {recorded}")
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
    echo(f"multicall {address} (deployed)")
