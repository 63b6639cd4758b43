"""One convention across the operator commands (issue 15): deploy, migrate, ops, audit and
supervise share one --network (same default: the devnet, or $REGCHAIN_NETWORK; never ape's
throw-away local chain), one --account (keystore alias unlocked with
APE_ACCOUNTS_<alias>_PASSPHRASE, test:N on the test networks, or a key file), --json, --help
for every command and option, and check their input before connecting. Roles files find a
security by the code hash the migration registered it under.

The commands run through click's CliRunner in the test process. "Unreachable" networks are
a local port this test listens on and counts connections to (it answers nothing)."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from eth_account import Account

from regchain import cli as common
from regchain import migrate
from regchain.constants import Kind, Role, SecurityRole
from regchain import deployments
from regchain.provision import SetupError, ensure_roles, load_roles
from supervise_support import PRIV, actors, scenario, write_books  # noqa: F401  (fixtures)

from conftest import script_cli, script_module

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ("deploy", "migrate", "ops", "audit", "supervise")
SECRET = "convention-test-operator-secret-0123"
SM2_KEY = "11" * 32
ADDR = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _script(name):
    return script_cli(name, "convention")


@pytest.fixture(scope="module")
def scripts():
    return {name: _script(name) for name in SCRIPTS}


def _commands(cmd, path):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, f"{path} {name}")


def _options(scripts, name):
    for script, cli in scripts.items():
        for path, cmd in _commands(cli, script):
            for p in cmd.params:
                if isinstance(p, click.Option) and f"--{name}" in p.opts:
                    yield path, p


# ---------------------------------------------------------------- --help


def test_help__every_command_and_option_of_the_five_commands__explained(scripts):
    missing = []
    for name, cli in scripts.items():
        for path, cmd in _commands(cli, name):
            if not (cmd.help or cmd.short_help):
                missing.append(f"{path}: command without help")
            missing += [f"{path} {p.opts[0]}: option without help" for p in cmd.params
                        if isinstance(p, click.Option) and not p.help]

    assert missing == []


def test_help__every_command__prints_its_help_and_exits_zero(scripts):
    failed = []
    for name, cli in scripts.items():
        for path, cmd in _commands(cli, name):
            result = CliRunner().invoke(cli, path.split()[1:] + ["--help"])
            if result.exit_code != 0 or "Usage:" not in result.output:
                failed.append(f"{path}: {result.output[-200:]}")

    assert failed == []


# ---------------------------------------------------------------- one definition of the options


def test_network_option__every_command_that_connects__one_definition_one_default(scripts):
    found = dict(_options(scripts, "network"))
    reference = common.network_option()(lambda: None).__click_params__[0]

    assert set(found) == {"deploy", "migrate", "ops", "audit", "audit feed", "audit html", "supervise sync",
                          "supervise daily", "supervise serve", "supervise verify"}
    for path, opt in found.items():
        assert (opt.default, opt.metavar, opt.help, opt.callback) == \
            (None, reference.metavar, reference.help, common._check_network), path


def test_account_option__every_command_that_signs__one_definition(scripts):
    found = dict(_options(scripts, "account"))

    assert set(found) == {"deploy", "migrate", "ops", "supervise sync", "supervise daily"}
    for path, opt in found.items():
        assert (opt.default, opt.metavar, opt.callback) == (None, "ALIAS|test:N|KEYFILE", common._check_account), path
        assert "APE_ACCOUNTS_<alias>_PASSPHRASE" in opt.help, path


def test_json_option__every_command_that_reports__one_definition(scripts):
    found = dict(_options(scripts, "json"))
    reference = common.json_option()(lambda: None).__click_params__[0]

    assert set(found) >= {"deploy", "migrate", "ops", "audit", "audit feed", "audit html", "supervise sync",
                          "supervise daily", "supervise verify"}
    for path, opt in found.items():
        assert (opt.is_flag, opt.help) == (True, reference.help), path


def test_default_network__devnet__or_REGCHAIN_NETWORK():
    assert common.default_network({}) == "ethereum:devnet:node"
    assert common.default_network({"REGCHAIN_NETWORK": " ethereum:consortium:node "}) == "ethereum:consortium:node"


def test_target_network__unset_with_a_connected_provider__uses_it_not_another(networks):
    assert networks.active_provider.is_connected
    assert common.target_network(None) is None
    assert common.target_network("ethereum:devnet:node") == "ethereum:devnet:node"


def test_ape_run__no_network_option__connects_to_REGCHAIN_NETWORK_not_a_throw_away_chain(unreachable):
    """As an operator runs it (`ape run`, no provider connected yet): the default is the
    environment's network; an unknown one there is named as coming from the environment."""
    import os
    import subprocess

    uri, seen = unreachable
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}

    down = subprocess.run(["ape", "run", "audit"], cwd=ROOT, env={**env, "REGCHAIN_NETWORK": uri},
                          capture_output=True, text=True, timeout=300)
    unknown = subprocess.run(["ape", "run", "audit"], cwd=ROOT, env={**env, "REGCHAIN_NETWORK": "ethereum:nowhere"},
                             capture_output=True, text=True, timeout=300)

    assert down.returncode == 1 and seen["connections"] > 0
    assert down.stderr.strip().splitlines()[-1] == f"Error: cannot connect to {uri}: No (supported) node found on '{uri}'."
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1] == ("Error: $REGCHAIN_NETWORK 'ethereum:nowhere': No network in "
                                                       "'ethereum' named 'nowhere'. (see `ape networks list`)")


# ---------------------------------------------------------------- input checked before connecting


@pytest.fixture
def unreachable():
    """A local port that accepts TCP connections, counts them and closes them unanswered."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.1)
    seen, stop = {"connections": 0}, threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            seen["connections"] += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen
    stop.set()
    thread.join()
    server.close()


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Files the commands read, in the current directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", SECRET)
    (tmp_path / "export").mkdir()
    (tmp_path / "not-json.json").write_text("{not json")
    (tmp_path / "bad.key").write_text("not a key")
    (tmp_path / "holdings.csv").write_text("holder,units\n0x123,5\n")
    (tmp_path / "sm2.key").write_text(SM2_KEY)
    (tmp_path / "operator.key").write_text("0x" + "5c" * 32)
    from regchain.supervise import seal

    (tmp_path / "pub.hex").write_text(seal.Signer(SM2_KEY).public_hex)
    return tmp_path


def _run(scripts, script, args, net):
    args = [net if a == "NET" else a for a in args]
    return CliRunner().invoke(scripts[script], args, catch_exceptions=False)


BAD_INPUT = {
    "ops bad date": ("ops", ["--network", "NET", "freeze", "add", ADDR, "#1", "10", "--case", "(2026)京01执1号",
                             "--expiry", "2026-02-30"],
                     "Error: '2026-02-30' is neither a date (YYYY-MM-DD) nor a day number"),
    "ops bad amount": ("ops", ["--network", "NET", "transfer", ADDR, "SHZX-001", "1.2.3"],
                       "Error: amount: amount '1.2.3' is not a positive number"),
    "ops bad address": ("ops", ["--network", "NET", "pledge", "offer", "SHZX-001", "0x123", "5"],
                        "Error: '0x123' is not an address"),
    "ops bad security id": ("ops", ["--network", "NET", "security", "status", "#x", "suspended"],
                            "Error: security '#x': #id takes a number (or give the code)"),
    "ops empty code": ("ops", ["--network", "NET", "transfer", ADDR, " ", "5"], "Error: security code '' is empty"),
    "ops units of a business command": ("ops", ["--network", "NET", "capital", "paid-in", ADDR, "SHZX-001", "x"],
                                        "Error: paid: amount 'x' is not a positive number"),
    "ops bad holdings row": ("ops", ["--network", "NET", "security", "register", "SHZX-002", "--kind", "jsc",
                                     "--holdings", "holdings.csv"], "Error: holdings.csv:2: '0x123' is not an address"),
    "ops missing batch file": ("ops", ["--network", "NET", "capital", "increase", "SHZX-001", "missing.csv"],
                               "Error: batch: no file missing.csv"),
    "ops test account off the test networks": (
        "ops", ["--network", "NET", "--account", "test:1", "account", "suspend", ADDR],
        "Error: --account test:1: ape's test accounts sign only on the test networks, not on 'custom'; use a "
        "keystore alias or a key file"),
    "ops unknown account": ("ops", ["--network", "NET", "--account", "nobody-here", "account", "suspend", ADDR],
                            "Error: --account 'nobody-here': no keystore alias of that name (`ape accounts list`), "
                            "no key file, not test:N"),
    "ops bad key file": ("ops", ["--network", "NET", "--account", "bad.key", "account", "suspend", ADDR],
                         "Error: --account key file bad.key: not a private key (64 hex digits)"),
    "deploy bad registrar": ("deploy", ["--network", "NET", "--registrar", "0xabc"],
                             "Error: --registrar '0xabc' is not an address (0x and 40 hex digits)"),
    "deploy missing roles file": ("deploy", ["--network", "NET", "--roles", "missing.yaml"],
                                  "Error: roles file missing.yaml: No such file or directory"),
    "migrate missing folder": ("migrate", ["--network", "NET", "--source", "nowhere", "--report", "r.json"],
                               "Error: --source nowhere: no such folder"),
    "audit report not json": ("audit", ["--network", "NET", "--report", "not-json.json"],
                              "Error: --report not-json.json: not JSON (Expecting property name enclosed in double "
                              "quotes: line 1 column 2 (char 1))"),
    "supervise bad key file": ("supervise", ["sync", "--network", "NET", "--books", "b.sqlite", "--store", "st",
                                             "--key", "bad.key"],
                               "Error: key file bad.key: an SM2 private key is 64 hex characters (1 <= d < n-1)"),
    "supervise missing store": ("supervise", ["verify", "--network", "NET", "--store", "nostore", "--pubkey",
                                              "pub.hex"], "Error: --store nostore: no such directory"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_command__bad_input_and_unreachable_network__input_error_without_connecting(scripts, workdir, unreachable,
                                                                                   case):
    uri, seen = unreachable
    script, args, line = BAD_INPUT[case]

    result = _run(scripts, script, args, uri)

    assert result.exit_code == 1
    assert result.output.strip() == line
    assert seen["connections"] == 0


GOOD_INPUT = {
    "ops": ("ops", ["--network", "NET", "--account", "operator.key", "--yes", "account", "suspend", ADDR]),
    "deploy": ("deploy", ["--network", "NET", "--account", "operator.key", "--registrar", ADDR]),
    "migrate": ("migrate", ["--network", "NET", "--account", "operator.key", "--source", "export", "--report",
                            "r.json"]),
    "audit": ("audit", ["--network", "NET"]),
    "supervise": ("supervise", ["sync", "--network", "NET", "--account", "operator.key", "--books", "b.sqlite",
                                "--store", "st", "--key", "sm2.key"]),
}


@pytest.mark.parametrize("case", list(GOOD_INPUT))
def test_command__good_input_and_unreachable_network__one_line_naming_the_network(scripts, workdir, unreachable,
                                                                                 case):
    uri, seen = unreachable
    script, args = GOOD_INPUT[case]

    result = _run(scripts, script, args, uri)

    assert result.exit_code == 1
    assert result.output.strip() == f"Error: cannot connect to {uri}: No (supported) node found on '{uri}'."
    assert seen["connections"] > 0


def test_network_option__unknown_network__one_line_before_connecting(scripts):
    result = CliRunner().invoke(scripts["audit"], ["--network", "ethereum:nowhere:node"])

    assert result.exit_code == 1
    assert result.output.strip() == ("Error: --network 'ethereum:nowhere:node': No network in 'ethereum' named "
                                     "'nowhere'. (see `ape networks list`)")


# ---------------------------------------------------------------- one way to unlock a keystore


@pytest.fixture
def keystore(tmp_path, monkeypatch):
    """An ape keystore account `convention-op` (passphrase "right-phrase") in a data folder of its own."""
    from ape import accounts
    from ape_accounts.accounts import KeyfileAccount

    key = "0x" + "6d" * 32
    path = tmp_path / "convention-op.json"
    path.write_text(json.dumps(Account.encrypt(key, "right-phrase")))
    container = accounts.containers["accounts"]
    monkeypatch.setitem(container.__dict__, "data_folder", tmp_path)
    monkeypatch.delenv("APE_ACCOUNTS_convention-op_PASSPHRASE", raising=False)
    monkeypatch.delenv("REGCHAIN_PASSPHRASE", raising=False)
    yield KeyfileAccount(keyfile_path=path)
    type(container).loaded_accounts.pop("convention-op", None)
    accounts._alias_to_account_cache.pop("convention-op", None)


def test_account_for__keystore_alias_with_APE_ACCOUNTS_passphrase__signs_unattended(keystore, monkeypatch, register,
                                                                                   governance, outsider, scripts):
    from conftest import doc

    monkeypatch.setenv("APE_ACCOUNTS_convention-op_PASSPHRASE", "right-phrase")
    register.grant_role(keystore.address, Role.ACCOUNT_MANAGER, doc("grant"), sender=governance)
    governance.transfer(keystore.address, 10**18)  # ape refuses a sender without balance, even at gas price 0
    result = CliRunner(mix_stderr=False).invoke(
        scripts["ops"], ["--register", register.address, "--account", "convention-op", "--yes", "--json",
                         "account", "open", outsider.address, "--id-type", "PASSPORT", "--id-number", "E1234567C"],
        env={"REGCHAIN_OPERATOR_SECRET": SECRET})

    assert result.exit_code == 0, result.output
    assert register.account_of(outsider).status == 1
    sent = json.loads(result.stdout)["transactions"]  # stdout: the one JSON document
    assert [e["event"] for e in sent[0]["events"]] == ["AccountOpened"]


LOCKED = "account 'convention-op' is locked: set APE_ACCOUNTS_convention-op_PASSPHRASE to sign unattended"
UNLOCK_REFUSED = {
    "no passphrase, no terminal": ({}, LOCKED),
    "only the retired REGCHAIN_PASSPHRASE": ({"REGCHAIN_PASSPHRASE": "right-phrase"},
                                             LOCKED + " (REGCHAIN_PASSPHRASE is no longer read)"),
    "wrong passphrase": ({"APE_ACCOUNTS_convention-op_PASSPHRASE": "wrong-phrase"},
                         "account 'convention-op': wrong passphrase in APE_ACCOUNTS_convention-op_PASSPHRASE"),
}


@pytest.mark.parametrize("case", list(UNLOCK_REFUSED))
def test_account_for__keystore_alias_not_unlockable__one_line_naming_the_variable(keystore, monkeypatch, case):
    environ, message = UNLOCK_REFUSED[case]
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    with pytest.raises(click.ClickException) as err:
        common.account_for("convention-op", "consortium")

    assert err.value.message == message


def test_account_for__key_file__signs_as_its_address_on_any_network(tmp_path):
    key = "0x" + "5c" * 32
    (tmp_path / "op.key").write_text(key + "\n")

    signer = common.account_for(str(tmp_path / "op.key"), "consortium")

    assert signer.address == Account.from_key(key).address


def test_account_for__test_account__only_on_the_test_networks(accounts):
    assert common.account_for("test:2", "devnet").address == accounts[2].address
    assert common.account_for("TEST::2", "local").address == accounts[2].address
    with pytest.raises(click.ClickException) as err:
        common.account_for("test:2", "consortium")
    assert err.value.message == ("--account test:2: ape's test accounts sign only on the test networks, not on "
                                 "'consortium'; use a keystore alias or a key file")


# ---------------------------------------------------------------- --json documents


def test_audit_json__one_document_with_counts_and_no_differences(scripts, register, tmp_path):
    result = CliRunner(mix_stderr=False).invoke(scripts["audit"], ["--register", register.address, "--checkpoint",
                                                   str(tmp_path / "c.json"), "--json"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["differences"] == []
    assert document["register"] == register.address
    assert document["counts"]["securities"] == int(register.security_count())


def test_migrate_json__dry_run__the_summary_as_one_document(scripts, tmp_path, monkeypatch):
    from regchain.legacy import synth

    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", SECRET)
    synth.write_export(synth.generate(seed=3, securities=2), tmp_path / "export")

    result = CliRunner(mix_stderr=False).invoke(scripts["migrate"], ["--source", str(tmp_path / "export"), "--report",
                                                     str(tmp_path / "r.json"), "--dry-run", "--json"],
                                catch_exceptions=False)

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["ok"] is True and document["summary"]["dry_run"] is True
    assert document["summary"]["written"] is None and document["summary"]["reconciliation"] is None
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    migrated = sum(1 for s in report["securities"].values() if s["status"] == "MIGRATED")
    assert document["summary"]["rows"]["securities.csv"].get("migrated", 0) == migrated


@pytest.fixture
def own_records(tmp_path, monkeypatch):
    """What the commands deploy is recorded under tmp_path, not in the project's deployments/."""
    monkeypatch.setattr(deployments, "DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    return tmp_path / "deployments"


def test_deploy_json__the_record_as_one_document__rerun_reuses_it(scripts, own_records):
    first = CliRunner(mix_stderr=False).invoke(scripts["deploy"], ["--json"], catch_exceptions=False)
    again = CliRunner(mix_stderr=False).invoke(scripts["deploy"], ["--json"], catch_exceptions=False)

    assert first.exit_code == 0, first.output
    record = json.loads(first.stdout)["record"]
    assert record == json.loads((own_records / "local.json").read_text())
    assert set(record["contracts"]) >= {"Register"} and record["register"] == record["contracts"]["Register"]["address"]
    assert again.exit_code == 0 and json.loads(again.stdout)["record"]["register"] == record["register"]
    assert f"reusing Register at {record['register']}" in again.stderr


def test_ops_json__cap_table__rows_in_the_document(scripts, register, alice, bob, open_account, new_security):
    open_account(alice)
    open_account(bob)
    sid = new_security([(alice, 700), (bob, 300)])

    result = CliRunner(mix_stderr=False).invoke(scripts["ops"], ["--register", register.address, "--json", "show",
                                                                 "cap-table", str(sid)], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["cap_table"]
    assert {r["holder"]: r["units"] for r in rows} == {alice.address: 700, bob.address: 300}


@pytest.fixture
def supervise_files(tmp_path, register, actors, scenario, own_records):
    write_books(tmp_path / "books.sqlite", register, actors, scenario).close()
    (tmp_path / "key.hex").write_text(PRIV + "\n")
    from regchain.supervise import seal

    (tmp_path / "pub.hex").write_text(seal.Signer(PRIV).public_hex)
    return tmp_path


def test_supervise_json__sync_then_verify__counts_as_documents(scripts, supervise_files, register):
    f = supervise_files
    synced = CliRunner(mix_stderr=False).invoke(
        scripts["supervise"], ["sync", "--books", str(f / "books.sqlite"), "--store", str(f / "store"), "--key",
                               str(f / "key.hex"), "--register", register.address, "--account", "test:1", "--json"],
        catch_exceptions=False)
    verified = CliRunner(mix_stderr=False).invoke(
        scripts["supervise"], ["verify", "--store", str(f / "store"), "--pubkey", str(f / "pub.hex"), "--json"],
        catch_exceptions=False)

    assert synced.exit_code == 0, synced.output
    sync_doc = json.loads(synced.stdout)
    assert sync_doc["ok"] is True and sync_doc["snapshots"] == sum(sync_doc["by_type"].values()) > 0
    assert sync_doc["anchored_now"] == sync_doc["anchored"] > 0
    assert verified.exit_code == 0, verified.output
    verify_doc = json.loads(verified.stdout)
    assert verify_doc == {"ok": True, "checked": sync_doc["snapshots"], "by_type": verify_doc["by_type"],
                          "failures_by_kind": {}, "failures": []}
    assert sum(verify_doc["by_type"].values()) == sync_doc["snapshots"]


def test_supervise_sync__no_anchor_recorded_off_the_test_networks__refused_without_new(register, registrar,
                                                                                       own_records, tmp_path):
    module = script_module("supervise", "convention_mod")
    from regchain.supervise import SuperviseError, seal

    with pytest.raises(SuperviseError) as err:
        module._generate("consortium", registrar, seal.Signer(PRIV), tmp_path / "b.sqlite", tmp_path / "store",
                         register.address, False, False, lambda line: None)

    assert str(err.value) == (f"no Anchor recorded in {own_records / 'consortium.json'}: this would deploy a new "
                              "Anchor on 'consortium'; pass --new to do so")
    assert not (own_records / "consortium.json").exists()


# ---------------------------------------------------------------- roles files name securities as migrated


@pytest.fixture
def migrated_security(register, registrar):
    """A security registered under the migration's code hash of SHZX-001."""
    from conftest import doc

    code = migrate.code_hash("SHZX-001")
    if int(register.security_id(code)) == 0:
        register.register_security(code, Kind.JSC, 0, 100, doc("registration"), sender=registrar)
    return int(register.security_id(code))


def test_ensure_roles__code_written_loosely__finds_the_security_the_migration_registered(
        register, governance, alice, migrated_security, tmp_path):
    roles_file = tmp_path / "roles.yaml"
    roles_file.write_text(f'securities:\n  " shzx-001 ": {{issuer_agent: {alice.address}}}\n')

    ensure_roles(register, load_roles(roles_file), deployer=governance, on_test_network=True, echo=lambda line: None)

    assert SecurityRole.ISSUER_AGENT in SecurityRole(int(register.security_roles(migrated_security, alice)))


def test_ensure_roles__unknown_code__one_line(register, governance, alice, tmp_path):
    roles_file = tmp_path / "roles.yaml"
    roles_file.write_text(f"securities:\n  NOPE-404: {{issuer_agent: {alice.address}}}\n")

    with pytest.raises(SetupError) as err:
        ensure_roles(register, load_roles(roles_file), deployer=governance, on_test_network=True,
                     echo=lambda line: None)

    assert str(err.value) == "roles file: no security registered under code 'NOPE-404'"


def test_code_hash_of__spaces_and_case__the_migrations_hash():
    assert migrate.code_hash_of(" shzx-001 ") == migrate.code_hash("SHZX-001")
    with pytest.raises(ValueError, match="security code '  ' is empty"):
        migrate.code_hash_of("  ")
