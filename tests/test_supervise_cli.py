"""scripts/supervise.py through click's CliRunner in the test process (it reuses the connected provider)."""

from __future__ import annotations


import pytest
from click.testing import CliRunner
from conftest import script_cli
from supervise_support import PRIV, actors, scenario, write_books  # noqa: F401  (fixtures)

from regchain import deployments
from regchain.supervise import seal


@pytest.fixture(scope="module")
def cli():
    return script_cli("supervise", "supervise_cli")


@pytest.fixture(autouse=True)
def own_deployment_record(tmp_path, monkeypatch):
    """The Anchor the commands deploy is recorded under tmp_path, not in the project's
    deployments/local.json (other tests read that record's first block)."""
    monkeypatch.setattr(deployments, "DEPLOYMENTS_DIR", str(tmp_path / "deployments"))


@pytest.fixture
def files(tmp_path, register, actors, scenario):
    write_books(tmp_path / "books.sqlite", register, actors, scenario).close()
    (tmp_path / "key.hex").write_text(PRIV + "\n")
    (tmp_path / "pub.hex").write_text(seal.Signer(PRIV).public_hex)
    return tmp_path


def invoke(cli, *args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def generate_args(files, register):
    return ["--books", files / "books.sqlite", "--store", files / "store", "--key", files / "key.hex",
            "--register", register.address]


def test_sync_then_verify__prints_counts_and_passes(cli, files, register, registrar):
    result = invoke(cli, "sync", *generate_args(files, register), "--account", "test:1")
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[-2].startswith("by type: account 4, product 5, registration 22, subject 12, transactionreport 7")
    assert lines[-1] == f"store: {(files / 'store').resolve()}"
    assert deployments.contract_address("Anchor")
    result = invoke(cli, "verify", "--store", files / "store", "--pubkey", files / "pub.hex")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1] == "all valid, anchored and sealed by the registered key"
    again = invoke(cli, "daily", *generate_args(files, register), "--account", "test:1")
    assert again.exit_code == 0 and "0 steps, 0 new snapshots" in again.output


def test_verify__wrong_key__names_it_and_exits_nonzero(cli, files, register):
    assert invoke(cli, "sync", *generate_args(files, register), "--account", "test:1").exit_code == 0
    (files / "other.hex").write_text(seal.Signer("33" * 32).public_hex)
    result = invoke(cli, "verify", "--store", files / "store", "--pubkey", files / "other.hex")
    assert result.exit_code == 1
    assert "wrong key" in result.output and result.output.strip().splitlines()[-1].startswith("Error: ")


def test_sync__signer_without_role__one_line_error(cli, files, register):
    result = invoke(cli, "sync", *generate_args(files, register), "--account", "test:0")  # governance
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    # refused by eth_call before sending, or (a node that answered the call otherwise) by the chain
    assert last.startswith("Error: anchoring ") and "anchor: caller is not a security manager" in last
    assert "Traceback" not in result.output


def test_sync__bad_key_file__one_line_error(cli, files, register):
    (files / "key.hex").write_text("not a key")
    result = invoke(cli, "sync", *generate_args(files, register), "--account", "test:1")
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: key file {files / 'key.hex'}: an SM2 private key is 64 hex characters (1 <= d < n-1)"


def test_operator__recorded_then_bad_namespace__refused(cli, tmp_path):
    result = invoke(cli, "operator", "--books", tmp_path / "b.sqlite", "--name", "示例股权托管交易中心",
                    "--uscc", "91310000MA1K30XK55", "--namespace", "rc-20241")
    assert result.exit_code == 0
    from regchain.supervise.books import Books
    assert Books(tmp_path / "b.sqlite").operator().namespace == "rc-20241"
    bad = invoke(cli, "operator", "--books", tmp_path / "b.sqlite", "--name", "x", "--uscc", "y", "--namespace", "a/b")
    assert bad.exit_code == 1 and bad.output.strip() == "Error: namespace 'a/b': ASCII without '/' or ':'"


def _ops():
    return script_cli("ops", "supervise_cli")


def test_ops__open_and_register_with_books__names_recorded_by_hash(tmp_path, monkeypatch, register, registrar,
                                                                    outsider):
    """ops records names in the books under the same keyed identity and code hash it puts on chain
    (the migration's functions), and refuses --books without the names the books need."""
    from regchain import migrate
    from regchain.supervise.books import Books

    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", "ops-books-operator-secret-0123456789")
    ops = _ops()
    base = ["--register", register.address, "--account", registrar.address, "--yes"]
    books = tmp_path / "books.sqlite"
    holder = ["--id-type", "RESIDENT_ID", "--id-number", "110105198001010016"]
    refused = CliRunner().invoke(ops, base + ["account", "open", outsider.address, *holder,
                                              "--books", str(books)], catch_exceptions=False)
    assert refused.exit_code == 1 and refused.output.strip() == "Error: --books needs --name"
    ok = CliRunner().invoke(ops, base + ["account", "open", outsider.address, *holder, "--books",
                                         str(books), "--name", "王五", "--account-no", "A0009"],
                            catch_exceptions=False)
    assert ok.exit_code == 0, ok.output
    identity = migrate.Identities.from_env().identity_hash("RESIDENT_ID:110105198001010016")
    assert bytes(register.identity_of(outsider.address)) == identity
    b = Books(books)
    assert b.holder(identity).name == "王五" and b.account_no(outsider.address) == "A0009"
    sec = CliRunner().invoke(ops, base + ["security", "register", "300999", "--kind", "jsc", "--total", "100",
                                          "--books", str(books), "--name", "示例股份有限公司",
                                          "--issuer-uscc", "91310115MA1H7QJ435"], catch_exceptions=False)
    assert sec.exit_code == 0, sec.output
    assert Books(books).security(migrate.code_hash("300999")).issuer_uscc == "91310115MA1H7QJ435"
