"""`make demo`'s scenario (scripts/demo.py) with the operator's books, then `supervise sync`
(scripts/supervise.py) over it: every subject is named from the demo's books, a re-run of the
demo reports only its own new steps, a sync with nothing new sends nothing. In the test
process on the test node; the suite the demo deploys is recorded under tmp_path."""

from __future__ import annotations


import pytest
from click.testing import CliRunner
from conftest import script_module

from regchain import deployments
from regchain.provision import SetupError
from regchain.supervise import books as books_mod

KEY = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"
SECRET = "demo-test-operator-secret-0123456789"


def script(name: str):
    return script_module(name, "demo_supervise")


@pytest.fixture(scope="module")
def demo():
    return script("demo")


@pytest.fixture(scope="module")
def supervise():
    return script("supervise").cli


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A deployment record of its own (the demo deploys a suite of its own on 'local'), the
    operator's secret, the SM2 key and books holding the operator."""
    monkeypatch.setattr(deployments, "DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", SECRET)
    (tmp_path / "key.hex").write_text(KEY + "\n")
    b = books_mod.Books(tmp_path / "books.sqlite")
    b.set_operator("示例股权托管交易中心", "91310000MA1K30XK55", "rc-31337")
    b.close()
    return tmp_path


def run_demo(demo, files) -> str:
    b = books_mod.Books(files / "books.sqlite")
    try:
        demo.run("local", b)
        return deployments.register_address("local")
    finally:
        b.close()


def sync(supervise, files, register: str) -> list[str]:
    result = CliRunner().invoke(supervise, ["sync", "--books", str(files / "books.sqlite"), "--store",
                                            str(files / "store"), "--key", str(files / "key.hex"),
                                            "--register", register, "--account", "test:0"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()


def test_demo_then_sync__books_name_every_subject__rerun_reports_only_new_steps(demo, supervise, files):
    register = run_demo(demo, files)
    b = books_mod.Books(files / "books.sqlite")
    assert b.counts() == {"securities": 2, "holders": 5, "accounts": 5, "documents": 9, "cases": 0}
    assert b.security(demo.common.code_hash("DEMO-1-LLC")).issuer_name == "演示1号科技有限公司"
    b.close()

    first = sync(supervise, files, register)
    assert first[-3].startswith("14 steps, 38 new snapshots, 38 anchored now (38 in all), up to block ")
    assert first[-2] == "by type: account 5, product 5, registration 13, subject 12, transactionreport 3"
    assert first[-1] == f"store: {(files / 'store').resolve()}"

    run_demo(demo, files)  # the same day again: a second pair of securities, no new account
    second = sync(supervise, files, register)
    assert second[-3].startswith("9 steps, 27 new snapshots, 27 anchored now (65 in all)")
    assert second[-2] == "by type: account 5, product 10, registration 26, subject 18, transactionreport 6"

    third = sync(supervise, files, register)  # nothing new on chain: nothing stored, nothing sent
    assert third[-3].startswith("0 steps, 0 new snapshots, 0 anchored now (65 in all)")
    assert third[-2] == second[-2]


def test_demo__accounts_opened_under_another_secret__refuses_naming_the_account(demo, files, monkeypatch):
    run_demo(demo, files)
    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", "another-operator-secret-0123456789")
    with pytest.raises(SetupError, match=r"^alice's account 0x[0-9a-fA-F]{40} was opened with another identity"):
        run_demo(demo, files)
