"""Migrate a legacy registry export onto the chain (基础数据的清理、上链).

    ape run migrate --source DIR --report FILE.json [--network NET] [--account ACC] [--dry-run] [--books DB]
    ape run migrate --network ethereum:consortium:node --account <alias> [--profile fisco-bcos-3] ...

Reads the export folder, cleans it (docs/migration.md), writes what is clean, reconciles
every holding, pledge and freeze against the chain (regchain.migrate.run, the pipeline
`python -m regchain.migrate` runs too), writes the JSON report and prints a summary. Exits non-zero if anything failed to reconcile. --dry-run cleans and reports
without writing.
The operator's secret (custody addresses, identity salt) comes from REGCHAIN_OPERATOR_SECRET.

--network, --account and --json are regchain's common options (regchain.cli): the network
defaults to $REGCHAIN_NETWORK, else the devnet (never ape's throw-away local chain); --json
prints the summary as one JSON document. The inputs (folder, secret, profile, account) are
checked before connecting.
On the local test networks the suite is deployed where none is recorded and the calendar
published. Elsewhere (the `consortium` network) nothing is deployed: the recorded suite is
used (`ape run deploy ... --new` makes one), --account must hold the registrar role, and
its key signs here (a keystore account unlocked with APE_ACCOUNTS_<alias>_PASSPHRASE, or
prompted for), through regchain.writer with the network profile (--profile or
REGCHAIN_PROFILE: besu-qbft, fisco-bcos-3; docs/consortium-profiles.md).
--books DB also writes the operator's books (names, codes, courts by their on-chain hashes).
"""

import json
import os
from contextlib import ExitStack
from pathlib import Path

import click
from ape.cli import ape_cli_context
from ape.exceptions import ApeException

from regchain import cli as common
from regchain import migrate
from regchain.legacy.reader import ExportError
from regchain import deployments
from regchain.identities import Identities
from regchain.networks import ProfileError, profile_for
from regchain.provision import SetupError, ensure_calendar, ensure_suite, network_problem, one_line, recorded_suite
from regchain.supervise import SuperviseError


def _bar(items, desc, total):
    from tqdm import tqdm

    return tqdm(items, desc=f"{desc:<12}", total=total if total is not None else len(items),
                unit="", leave=False, disable=None)


class _CleaningBars:
    """clean_folder's progress(stage, done, total) as one bar per stage."""

    def __init__(self):
        self.bars = {}

    def __call__(self, stage, done, total):
        from tqdm import tqdm

        bar = self.bars.get(stage)
        if bar is None:
            bar = self.bars[stage] = tqdm(desc=f"clean {stage:<10}", total=total, unit="row",
                                          leave=False, disable=None)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()


@click.command()
@ape_cli_context()
@common.network_option()
@common.account_option("Who writes (holds the registrar role; default on the test networks: test:0)")
@click.option("--source", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the legacy export (securities.csv, accounts.csv, ...).")
@click.option("--report", "report_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON report.")
@click.option("--dry-run", is_flag=True, help="Clean and report; write nothing on chain (and connect to no node).")
@click.option("--profile", "profile_name", default=None,
              help="Network profile (besu-qbft, fisco-bcos-3; default $REGCHAIN_PROFILE).")
@click.option("--books", "books_path", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the operator's books (SQLite) that supervisory reporting looks names up in.")
@common.json_option()
def cli(cli_ctx, network, account, source, report_path, dry_run, profile_name, books_path, as_json):
    """Clean a legacy export, write what is clean, reconcile it against the chain and write the
    report (exit 1 if anything does not reconcile). Outside the test networks nothing is
    deployed: the recorded suite is used."""
    cli_ctx.logger.set_level("WARNING")  # one line per transaction would drown the summary
    echo = common.echo_for(as_json)
    try:
        # every input first: a bad folder, secret, profile or account connects to nothing
        if not source.is_dir():
            raise click.ClickException(f"--source {source}: no such folder")
        ids = Identities.from_env()
        register = profile = name = None
        stack = ExitStack()
        if not dry_run:  # a dry run never touches a node: an export can be checked offline
            name = common.network_name_of(network)
            if problem := network_problem(name):
                raise SetupError(problem)
            profile = profile_for(name, name=profile_name)
            account = common.account_for(account, name)
            stack.enter_context(common.connected(network))
        with stack:
            if not dry_run:
                if common.is_test_network(name):
                    suite = ensure_suite(name, account=account, echo=lambda line: None)
                    register, signer = suite.register, suite.registrar_signer
                    if signer is None:
                        raise migrate.MigrationError("the signing account does not hold the registrar role")
                    # local test chains: the market's days (provisional past the official data), as `make demo` does
                    ensure_calendar(register, signer, provisional=True, echo=lambda line: None)
                else:  # never deploys: the recorded suite, or one line saying how to deploy
                    register, signer = recorded_suite(name, account), account
                today = register.today()
                if register.horizon_day() < today:
                    raise migrate.MigrationError(
                        f"the trading calendar is not published up to today (day {today}); publish it first")
            as_of = register.today() if register is not None else migrate.as_of_today()

            echo(f"cleaning {source} ...")
            chain = None if dry_run else migrate.Chain(register, signer, profile=profile,
                                                       multicall=deployments.load(name).get("multicall"))
            done = migrate.run(source, ids, chain, as_of=as_of, progress=_CleaningBars(), bar=_bar)
            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(json.dumps(done.report, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                                   encoding="utf-8")
            if books_path is not None and not dry_run:
                from regchain.supervise.books import Books, write_migration_books

                written = write_migration_books(Books(books_path), source, done.cleaned, done.plan)
                echo(f"books: {books_path} ({', '.join(f'{k} {v}' for k, v in written.items())})")
    except click.ClickException:
        raise
    except (ExportError, migrate.MigrationError, SetupError, ProfileError, SuperviseError) as exc:
        raise click.ClickException(str(exc)) from None
    except ApeException as exc:
        raise click.ClickException(one_line(exc)) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else "the node: "
        raise click.ClickException(f"{where}{exc.strerror or exc}") from None
    except Exception as exc:  # a bug: one line for the operator, the traceback on request
        if os.environ.get("REGCHAIN_DEBUG"):
            raise
        raise click.ClickException(f"unexpected {type(exc).__name__}: {one_line(exc)} "
                                   "(REGCHAIN_DEBUG=1 shows the traceback)") from None

    mismatches = len(done.mismatches)
    if as_json:
        common.emit_json({"ok": not mismatches, "network": name, "report": str(report_path),
                          "summary": migrate.summary_data(done.cleaned, done.stats, done.reconciliation,
                                                          dry_run, done.plan)})
    else:
        click.echo(migrate.summary(done.cleaned, done.stats, done.reconciliation, dry_run, done.plan))
        click.echo(f"report: {report_path}")
    if mismatches:
        raise click.ClickException(f"{mismatches} records failed to reconcile")
