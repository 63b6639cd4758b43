"""Report to the supervisory chain (监管链): `ape run supervise sync|daily|serve|verify`.

    ape run supervise operator --books DB --name NAME --uscc USCC --namespace NS
    ape run supervise sync   --network NET --books DB --store DIR --key SM2KEYFILE [--account ACC]
    ape run supervise daily  --network NET --books DB --store DIR --key SM2KEYFILE [--account ACC]
    ape run supervise serve  --network NET --store DIR --port P --token-file F [--tls-cert C --tls-key K]
    ape run supervise verify --network NET --store DIR --pubkey FILE [--anchor 0x..]

--store s3://BUCKET/PREFIX (S3-compatible storage, same keys) instead of DIR: sync, daily and serve
also take --index FILE, the local SQLite index; verify reads the objects alone.

sync follows the register from the store's checkpoint to the newest block and writes, validates,
seals, stores and anchors the snapshots of every business step (regchain.supervise.generate).
daily does the same and then writes today's day-boundary records (freezes lapsing, queued freezes
taking effect): run it after midnight Beijing time. The SM2 key file holds the operator's private
key as 64 hex characters; --account signs the anchoring transactions and must hold SECURITY_MANAGER.
The Anchor contract is deployed on first use and recorded in deployments/<network>.json; outside
the test networks only with --new (as `ape run deploy --new` for the suite), never unasked.
--network, --account and --json are regchain's common options (regchain.cli); the inputs (key
files, paths) are checked before connecting. Every failure prints one line and exits non-zero.
See docs/supervision.md.
"""

import os
from pathlib import Path

import click

from regchain import cli as common
from regchain import deployments, indexer
from regchain.supervise import SuperviseError

NETWORK = common.network_option()
ACCOUNT = common.account_option("Who signs the anchoring transactions (holds SECURITY_MANAGER; default on the "
                                "test networks: test:0)")
STORE = click.option("--store", "store_dir", required=True,
                     help="Snapshot store: a directory (objects/ and index.sqlite), or s3://BUCKET/PREFIX "
                          "(S3-compatible; endpoint and credentials from AWS_* variables) with --index.")
INDEX = click.option("--index", "index_path", default=None, type=click.Path(dir_okay=False),
                     help="The local SQLite index of an s3:// store (a directory store keeps DIR/index.sqlite).")


def _fail(exc: BaseException):
    if os.environ.get("REGCHAIN_DEBUG"):
        raise exc
    raise click.ClickException(common.one_line(exc)) from None


@click.group()
def cli():
    """Supervisory data objects: generate, serve, verify."""


@cli.command()
@click.option("--books", "books_path", required=True, type=click.Path(dir_okay=False),
              help="The operator's books (SQLite; created if missing).")
@click.option("--name", required=True, help="The operator's full name (交易场所 / 登记机构).")
@click.option("--uscc", required=True, help="The operator's unified social credit code.")
@click.option("--namespace", required=True, help="Object id namespace, e.g. rc-20241 (market + chain id).")
def operator(books_path, name, uscc, namespace):
    """Record the operator (name, USCC, object id namespace) in the books."""
    from regchain.supervise import books

    try:
        if not namespace.isascii() or "/" in namespace or ":" in namespace or not namespace:
            raise SuperviseError(f"namespace {namespace!r}: ASCII without '/' or ':'")
        b = books.Books(books_path)
        b.set_operator(name, uscc, namespace)
        b.close()
    except Exception as exc:
        _fail(exc)
    click.echo(f"operator {name} ({uscc}), namespace {namespace}: {books_path}")


def _signer(account, network_name: str):
    from ape import accounts

    if account is not None:
        return common.account_for(account, network_name)
    if common.is_test_network(network_name):
        return accounts.test_accounts[0]
    raise SuperviseError("pass --account: it signs the anchoring transactions (SECURITY_MANAGER)")


def _generate(network_name, who, signer, books_path, store_dir, register, daily, new, echo, index_path=None):
    from ape import project

    from regchain.suite import TX_PARAMS
    from regchain.supervise import anchor, books, generate
    from regchain.supervise.store import Store

    address = common.register_address(register)
    tx = TX_PARAMS.get(network_name, {})
    if not new and not common.is_test_network(network_name):
        instance, reason = deployments.check("Anchor", project.Anchor, network_name, [address])
        if instance is None:
            raise SuperviseError(f"{reason}: this would deploy a new Anchor on '{network_name}'; pass --new to do so")
    deployed = deployments.check_and_deploy(project.Anchor, address, sender=who, name="Anchor", **tx)
    if not deployed.reused:
        echo(deployed.reason)
    rpc = indexer.HttpRpc.from_ape()
    store = Store(store_dir, index=index_path)
    b = books.Books(books_path)
    try:
        anchorer = anchor.Anchorer(deployed.instance, who, rpc, echo=echo,
                                   first_block=common.first_block(network_name))
        result = generate.sync(rpc, address, indexer.abi_of_suite(), store, b, signer, anchorer,
                               echo=echo, daily=daily)
        counts = store.counts()
    finally:
        store.close()
        b.close()
    where = store_dir if str(store_dir).startswith("s3://") else str(Path(store_dir).resolve())
    return {"steps": result.steps, "snapshots": result.snapshots, "anchored_now": anchorer.sent,
            "anchored": result.anchored, "last_block": result.last_block, "seconds": round(result.seconds, 3),
            "by_type": dict(counts), "store": where, "anchor": str(deployed.instance.address)}


def _generate_command(name: str, daily: bool, help_text: str):
    @cli.command(name, help=help_text)
    @NETWORK
    @ACCOUNT
    @click.option("--books", "books_path", required=True, type=click.Path(dir_okay=False),
                  help="The operator's books (SQLite).")
    @STORE
    @INDEX
    @click.option("--key", "key_file", required=True, type=click.Path(dir_okay=False),
                  help="File with the operator's SM2 private key (64 hex).")
    @click.option("--register", default=None, help="Register address (default: the deployment record).")
    @common.new_option("Anchor contract")
    @common.json_option()
    def command(network, account, books_path, store_dir, index_path, key_file, register, new, as_json):
        from ape.logging import logger

        from regchain.supervise import seal

        logger.set_level("WARNING")  # our own lines say what happens; no per-transaction INFO
        echo = common.echo_for(as_json)
        try:
            signer = seal.Signer.from_file(key_file)  # the inputs first: no connection for a bad one
            if register is not None:
                common.address_arg(register)
            name = common.network_name_of(network)
            who = _signer(account, name)
            with common.connected(network):
                out = _generate(common.network_name(), who, signer, books_path, store_dir, register, daily, new, echo,
                                index_path=index_path)
        except click.ClickException:
            raise
        except Exception as exc:
            _fail(exc)
        if as_json:
            common.emit_json({"ok": True, **out})
            return
        click.echo(f"{out['steps']} steps, {out['snapshots']} new snapshots, {out['anchored_now']} anchored now "
                   f"({out['anchored']} in all), up to block {out['last_block']} ({out['seconds']:.1f} s)")
        click.echo("by type: " + ", ".join(f"{t} {n}" for t, n in out["by_type"].items()))
        click.echo(f"store: {out['store']}")

    return command


sync = _generate_command("sync", False, "Generate, validate, seal, store and anchor up to the newest block.")
daily = _generate_command("daily", True, "sync, then today's day-boundary records (run after 00:00 Beijing time).")


@cli.command()
@NETWORK
@STORE
@INDEX
@click.option("--port", default=8600, show_default=True, type=click.IntRange(1, 65535), help="TCP port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--token-file", required=True, type=click.Path(dir_okay=False), help="File holding the bearer token.")
@click.option("--tls-cert", default=None, type=click.Path(dir_okay=False),
              help="TLS certificate (PEM) to serve https; needs --tls-key.")
@click.option("--tls-key", default=None, type=click.Path(dir_okay=False), help="The certificate's private key (PEM).")
def serve(network, store_dir, index_path, port, host, token_file, tls_cert, tls_key):
    """The regulator's pull interface (HTTP, bearer token; TLS when given a certificate)."""
    from regchain.supervise import serve as serve_mod

    try:
        if bool(tls_cert) != bool(tls_key):
            raise SuperviseError("give both --tls-cert and --tls-key, or neither")
        token = Path(token_file).read_text().strip()
        with common.connected(network):
            rpc = indexer.HttpRpc.from_ape()
            click.echo(f"serving {store_dir} on {'https' if tls_cert else 'http'}://{host}:{port}")
            serve_mod.run(store_dir, token, rpc, host=host, port=port, tls_cert=tls_cert, tls_key=tls_key,
                          index=index_path)
    except Exception as exc:
        _fail(exc)


@cli.command()
@NETWORK
@STORE
@click.option("--pubkey", required=True, type=click.Path(dir_okay=False),
              help="File with the operator's SM2 public key (130 hex: 04, X, Y).")
@click.option("--anchor", "anchor_address", default=None, help="Anchor contract (default: the deployment record).")
@common.json_option()
def verify(network, store_dir, pubkey, anchor_address, as_json):
    """Re-validate every snapshot, compare its SM3 with its anchor, verify its seal."""
    from regchain.supervise.verify import load_public_key, verify_store

    try:
        public = load_public_key(pubkey)
        if anchor_address is not None:
            common.address_arg(anchor_address)
        if not str(store_dir).startswith("s3://") and not Path(store_dir).is_dir():
            raise SuperviseError(f"--store {store_dir}: no such directory")
        with common.connected(network):
            name = common.network_name()
            address = anchor_address or deployments.contract_address("Anchor", name)
            if not address:
                raise SuperviseError(f"no Anchor recorded for network '{name}': pass --anchor")
            report = verify_store(store_dir, indexer.HttpRpc.from_ape(), address, public)
    except Exception as exc:
        _fail(exc)
    if as_json:
        common.emit_json({"ok": report.ok, "checked": report.checked, "by_type": dict(sorted(report.by_type.items())),
                          "failures_by_kind": dict(sorted(report.counts().items())),
                          "failures": [{"kind": k, "object": o, "detail": d} for k, o, d in report.failures]})
    else:
        for line in report.lines():
            click.echo(line)
    if not report.ok:
        raise click.ClickException(f"{len(report.failures)} failures")
