"""docs/runbook.md's "A day's work, step by step", run as written: each `ape run ops` line of the
block between its markers goes through the ops command (click's CliRunner in the test process,
with `--register`, `--yes` and `--json` added), with the block's variables bound to the test's
wallets, books and cash token. Then the console, over an indexer that follows this chain and
the books the commands wrote, must show every step: the holders by name with the chain's
balances, the pledge, the lifted freeze, the capital increase and the settlement, each in the
security's history with its document hash."""

from __future__ import annotations

import csv
import io
import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from eth_utils import keccak

from conftest import script_cli
from regchain import indexer, migrate
from regchain.console.app import COOKIE, Follower, create_app
from regchain.console.auth import Sessions, Users
from regchain.console.names import open_names

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ROOT / "docs" / "runbook.md"
SECRET = "runbook-test-operator-secret-0123"
CODE = "SHZX-2026-001"
# the id each step's event prints, bound to the variable the next lines use
IDS = {"PledgeOffered": ("PLEDGE", "pledge_id"), "Frozen": ("FREEZE", "freeze_id"),
       "InstructionProposed": ("INSTRUCTION", "instruction_id")}


def runbook_commands() -> list[str]:
    text = RUNBOOK.read_text(encoding="utf-8")
    block = re.search(r"<!-- day's work: begin -->\n```sh\n(.*?)```\n<!-- day's work: end -->", text, re.S)
    assert block, "docs/runbook.md has no day's work block between its markers"
    return [line for line in block.group(1).splitlines() if line.startswith("ape run ops ")]


def _ops_cli():
    return script_cli("ops", "runbook")


@pytest.fixture(scope="module")
def day(register, governance, registrar, court, alice, bob, carol, project, tmp_path_factory):
    """Run the runbook's block once for the module (the tests only read what it wrote);
    returns what the tests need to look at the result."""
    with pytest.MonkeyPatch.context() as mp:
        yield _run_day(mp, register, governance, registrar, court, alice, bob, carol, project,
                       tmp_path_factory.mktemp("runbook-day"))


def _run_day(monkeypatch, register, governance, registrar, court, alice, bob, carol, project, tmp_path):
    monkeypatch.setenv("REGCHAIN_OPERATOR_SECRET", SECRET)
    monkeypatch.setenv("REGCHAIN_INDEXER_CHECKPOINT", str(tmp_path / "indexer.json"))
    monkeypatch.chdir(tmp_path)  # holdings.csv and increase.csv are named relative to it
    token = governance.deploy(project.CashToken)
    token.mint(bob, 25_000, sender=bob)
    token.approve(register, 25_000, sender=bob)  # the buyer's approval, on the token
    (tmp_path / "holdings.csv").write_text(f"holder,units,acquired\n{alice.address},10000,2024-01-02\n")
    (tmp_path / "increase.csv").write_text(f"holder,units,paid\n{bob.address},5000,5000\n")
    books = tmp_path / "books.sqlite"
    env = {"REGISTRAR": registrar.address, "GOVERNANCE": governance.address, "COURT": court.address,
           "ALICE": alice.address, "BOB": bob.address, "BANK": carol.address, "TOKEN": token.address,
           "BOOKS": str(books)}
    start_block = register.chain_manager.blocks.head.number
    cli = _ops_cli()
    steps = []
    for line in runbook_commands():
        args = [re.sub(r"\$([A-Z]+)", lambda m: env[m.group(1)], a) for a in shlex.split(line)[3:]]
        result = CliRunner().invoke(cli, ["--register", register.address, "--yes", "--json", *args],
                                    catch_exceptions=False)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        sent = json.loads(result.stdout.strip().splitlines()[-1])
        events = [e for tx in sent["transactions"] for e in tx["events"]]
        for e in events:
            if e["event"] in IDS:
                var, field = IDS[e["event"]]
                env[var] = str(e[field])
        steps.append((line, events))
    sid = int(register.security_id(migrate.code_hash_of(CODE)))
    return {"steps": steps, "sid": sid, "books": books, "start": start_block, "token": token, "env": env,
            "dir": tmp_path}


@pytest.fixture(scope="module")
def console(day, register, chain):
    tmp_path = day["dir"]
    users = Users(tmp_path / "users.json")
    users.add("op", "operator", "op-password-1")
    users.add("reg", "regulator", "reg-password-1")
    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    follower = Follower(uri, register.address, indexer.abi_of_suite(), str(tmp_path / "index.sqlite"), "test:runbook",
                        first_block=day["start"])
    follower.step()
    sessions = Sessions()
    app = create_app(follower, open_names(books=day["books"], code_hashes=follower.code_hashes), users, sessions)

    def client(who: str) -> TestClient:
        c = TestClient(app, follow_redirects=False)
        c.cookies.set(COOKIE, sessions.issue(who, {"op": "operator", "reg": "regulator"}[who]))
        return c

    yield client
    follower.stop()


def _csv(response) -> list[dict]:
    assert response.status_code == 200, response.text[:500]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_runbook_day__every_step_through_ops__the_chain_holds_what_the_runbook_says(day, register, alice, bob,
                                                                                      carol):
    sid = day["sid"]
    sent = [e["event"] for _, events in day["steps"] for e in events]

    for wanted in ("AccountOpened", "SecurityRegistered", "HoldingsRegistered", "SecuritySealed", "Transfer",
                   "PledgeOffered", "PledgeRegistered", "Frozen", "FreezeLifted", "CapitalIncreased",
                   "CashTokenSet", "InstructionProposed", "InstructionAccepted", "InstructionSettled"):
        assert wanted in sent, f"no {wanted} among the day's events {sent}"
    # 10,000 to alice; 1,000 to bob; 5,000 issued to bob; 500 sold to bob against 25,000 of cash
    assert register.balanceOf(alice, sid) == 8_500
    assert register.balanceOf(bob, sid) == 6_500
    assert register.totalSupply(sid) == 15_000
    assert register.pledged_balance_of(alice, sid) == 2_000
    assert register.frozen_balance_of(bob, sid) == 0
    assert day["token"].balanceOf(alice) == 25_000 and day["token"].balanceOf(bob) == 0
    # the identity on chain is the migration's keyed hash of the cleaned id, never the id
    ids = migrate.Identities(SECRET.encode())
    assert register.account_of(alice).identity == ids.identity_hash("RESIDENT_ID:110101199003070003")
    assert register.account_of(carol).identity == ids.identity_hash("USCC:91310000132210000N")


def test_runbook_day__the_console_shows_each_step_with_the_books_names(day, console, register, alice, bob, carol):
    sid = day["sid"]
    op = console("op")

    found = op.get("/securities", params={"q": CODE, "lang": "en"})
    assert found.status_code == 200 and CODE in found.text and "示例科技股份有限公司" in found.text

    table = _csv(op.get(f"/securities/{sid}", params={"lang": "en", "export": "csv", "table": f"register-{sid}"}))
    by_name = {row["Holder"]: row for row in table}
    assert set(by_name) == {"张三", "李四"}, table
    assert by_name["张三"]["Balance"].replace(",", "") == str(register.balanceOf(alice, sid))
    assert by_name["李四"]["Balance"].replace(",", "") == str(register.balanceOf(bob, sid))
    assert by_name["张三"]["Account"] == "A-0001" and by_name["李四"]["Account"] == "A-0002"
    assert by_name["张三"]["Pledged"].replace(",", "") == "2000"
    assert by_name["李四"]["Frozen"].replace(",", "") == "0"

    bank = op.get(f"/accounts/{carol.address}", params={"lang": "en"})
    assert bank.status_code == 200 and "示例银行股份有限公司" in bank.text and "B-0001" in bank.text

    history = _csv(op.get(f"/securities/{sid}/history", params={"lang": "en", "export": "csv",
                                                                 "table": f"history-{sid}"}))
    events = {row["Event"] for row in history}
    for wanted in ("SecurityRegistered", "SecuritySealed", "Transfer", "PledgeRegistered", "Frozen",
                   "FreezeLifted", "CapitalIncreased", "InstructionSettled"):
        assert wanted in events, f"{wanted} is not in the console's history: {sorted(events)}"
    docs = {row["Event"]: row["Document hash"] for row in history}
    assert docs["FreezeLifted"] == "0x" + keccak(text="解除冻结通知书 2026-88").hex()
    assert docs["CapitalIncreased"] == "0x" + keccak(text="股东大会决议 2026-3").hex()


def test_runbook_day__the_regulators_reader__account_numbers_never_names(day, console):
    sid = day["sid"]
    reg = console("reg")

    table = _csv(reg.get(f"/securities/{sid}", params={"lang": "en", "export": "csv", "table": f"register-{sid}"}))
    page = reg.get(f"/securities/{sid}", params={"lang": "en"})

    assert sorted(row["Account"] for row in table) == ["A-0001", "A-0002"]
    assert all("Holder" not in row for row in table)
    assert "张三" not in page.text and "李四" not in page.text
