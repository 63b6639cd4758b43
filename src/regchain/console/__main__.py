"""`python -m regchain.console serve|adduser` (what `make console` runs).

    serve [--network devnet] [--rpc URL] [--register 0x..] [--db FILE|postgresql://...] [--users FILE]
          [--report FILE [--export DIR]] [--host 127.0.0.1] [--port 8600]
    adduser NAME --role operator|regulator [--users FILE]     (password: prompt or $REGCHAIN_CONSOLE_PASSWORD)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

DEFAULT_USERS = Path(".node") / "console-users.json"
DEFAULT_DB = Path(".cache") / "index.sqlite"
DB_ENV = "REGCHAIN_INDEX_DB"  # --db's default when set: a SQLite file or a postgresql:// URL
PASSWORD_ENV = "REGCHAIN_CONSOLE_PASSWORD"
NETWORK_RPC = {"devnet": "http://127.0.0.1:8547"}


@click.group()
def cli():
    """The register's web console."""


@cli.command()
@click.argument("name")
@click.option("--role", type=click.Choice(["operator", "regulator"]), required=True)
@click.option("--users", "users_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_USERS,
              show_default=True)
def adduser(name, role, users_path):
    """Add (or reset) a user of the console."""
    from regchain.console.auth import AuthError, Users

    password = os.environ.get(PASSWORD_ENV) or click.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        Users(users_path).add(name, role, password)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"user {name} ({role}) in {users_path}")


def first_users(users_path: Path) -> None:
    """A devnet's first start: an operator and a regulator user with random passwords, written
    beside the users file (mode 600) for the person who ran `make console`."""
    from regchain.console.auth import Users

    users = Users(users_path)
    if users.users:
        return
    lines = []
    for name in ("operator", "regulator"):
        password = secrets.token_urlsafe(12)
        users.add(name, name, password)
        lines.append(f"{name} {password}")
    pw = users_path.with_name("console-passwords.txt")
    pw.write_text("\n".join(lines) + "\n")
    os.chmod(pw, 0o600)
    click.echo(f"first start: users operator and regulator created; their passwords are in {pw}")


@cli.command()
@click.option("--network", default="devnet", show_default=True, help="The network whose deployment record names the register.")
@click.option("--rpc", default=None, help="The node's JSON-RPC URL (default: the devnet's, or $REGCHAIN_RPC_URI).")
@click.option("--register", "register_address", default=None, help="Register address (default: the network's record).")
@click.option("--db", "db", default=str(DEFAULT_DB), show_default=True, envvar=DB_ENV,
              help="The indexer's database: a SQLite file (created), or a PostgreSQL URL "
                   "postgresql://USER[:PASSWORD]@HOST[:PORT]/DBNAME (the database must exist; the tables are "
                   "created). Default also from $REGCHAIN_INDEX_DB.")
@click.option("--users", "users_path", type=click.Path(dir_okay=False, path_type=Path), default=DEFAULT_USERS,
              show_default=True)
@click.option("--report", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The migration's report (codes, account numbers); its export folder beside it gives names.")
@click.option("--export", "export_dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--books", "books_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The operator's books (SQLite, written by `migrate --books` and `ops ... --books`): codes, "
                   "names and account numbers, shown to the operator role.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8600, show_default=True)
def serve(network, rpc, register_address, db, users_path, report, export_dir, books_path, host, port):
    """Follow the chain into the database and serve the console."""
    import uvicorn
    from eth_utils import is_address, to_checksum_address

    from regchain import cli as common
    from regchain import deployments, indexer
    from regchain.console.app import Follower, create_app
    from regchain.console.auth import AuthError, Users
    from regchain.console.names import open_names

    rpc = rpc or os.environ.get("REGCHAIN_RPC_URI") or NETWORK_RPC.get(network)
    if not rpc:
        raise click.ClickException(f"give --rpc for network '{network}'")
    address = register_address or deployments.register_address(network)
    if not address or not is_address(address):
        raise click.ClickException(f"no register recorded for network '{network}' "
                                   f"({deployments.display_path(deployments.path_for(network))}); pass --register")
    if report is not None and not report.is_file():
        raise click.ClickException(f"--report {report}: no such file")
    if books_path is not None and not books_path.is_file():
        raise click.ClickException(f"--books {books_path}: no such file")
    try:
        if users_path == DEFAULT_USERS:
            first_users(users_path)
        users = Users(users_path)
    except AuthError as exc:
        raise click.ClickException(str(exc)) from None
    if not users.users:
        raise click.ClickException(f"no users in {users_path}: add one with `python -m regchain.console adduser`")
    try:
        chain_id = int(indexer.HttpRpc(rpc, timeout=5).call("eth_chainId", []), 16)
        follower = Follower(rpc, to_checksum_address(address), indexer.abi_of_suite(), db,
                            f"ethereum:{network}:{chain_id}", first_block=common.first_block(network), echo=click.echo)
        click.echo(f"indexing {address} on {rpc} into {follower.db.where} ...")
        follower.step()
    except indexer.IndexerError as exc:
        raise click.ClickException(str(exc)) from None
    names = open_names(report, export_dir, books=books_path, code_hashes=follower.code_hashes)
    follower.start()
    click.echo(f"console on http://{host}:{port} (block {follower.state.last_block}; following the chain)")
    uvicorn.run(create_app(follower, names, users), host=host, port=port, log_level="warning")
    follower.stop()


if __name__ == "__main__":
    cli()
