"""The web console (regchain.console) over a migrated sample on the test node: the indexer's
database following the chain, the pages per role, the exports, and a real browser
(Debian's chromium driven by Playwright) that logs in, finds a security by its code, checks
the cap table against the chain, exports it as CSV and saves screenshots under docs/.

Every test of the database and the pages runs twice: over SQLite and over a throw-away
PostgreSQL server (tests/pg_cluster.py). The browser test runs over SQLite only; over
PostgreSQL the same pages are checked through HTTP.

Every test here reads; the chain is written only by the module's fixtures (ape reverts what
a test writes, and the follower would then have indexed blocks that are gone), except the
last test, which checks that the console follows a new transfer."""

from __future__ import annotations

import csv
import io
import json
import os
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from conftest import doc
from regchain import calendar as cal
from regchain import indexer, migrate
from regchain.console.app import COOKIE, Follower, create_app
from regchain.console.auth import Sessions, Users
from regchain.console.names import open_names
from regchain.indexdb import IndexDb, SqlIndexer
from regchain.legacy import synth
from regchain.legacy.clean import clean_folder

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SECRET = "test-operator-secret-console"
PASSWORDS = {"op": ("operator", "op-password-1"), "reg": ("regulator", "reg-password-1")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def migrated(tmp_path_factory, register, registrar, chain):
    """A clean synthetic export (4 securities) migrated onto the test register; its report
    beside its folder, as `make demo` writes them."""
    ape_chain = chain
    gas_limit_before = ape_chain.blocks.head.gas_limit
    base = tmp_path_factory.mktemp("console")
    folder = base / "sample"
    synth.write_export(synth.generate(seed=15, securities=4, dirty=0.0, as_of=cal.date_of(register.today()),
                                      encoding="gbk", headers="zh"), folder, encoding="gbk", headers="zh")
    cleaned = clean_folder(folder, as_of=register.today())
    plan = migrate.Plan.build(cleaned, migrate.Identities(SECRET.encode()))
    chain = migrate.Chain(register, registrar)
    migrate.write(cleaned, plan, chain)
    # the writer leaves the latest block at the node's own gas limit (ape sizes its transactions by it)
    assert ape_chain.blocks.head.gas_limit == gas_limit_before
    rec = migrate.reconcile(cleaned, plan, chain)
    assert rec["mismatches"] == []
    report = migrate.build_report(cleaned, plan.address, rec["token_ids"], rec)
    report_path = base / "sample-report.json"
    report_path.write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
    biggest = max(cleaned.securities, key=lambda s: s.holder_count)
    return {"base": base, "report": report_path, "cleaned": cleaned, "plan": plan,
            "code": biggest.code, "name": biggest.name, "sid": rec["token_ids"][biggest.code],
            "accounts": {a.account_no: a for a in cleaned.accounts}}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def console(request, migrated, chain, register):
    """The console app over the test node: follower (started) writing into a SQLite file, then
    into a PostgreSQL database; names from the report, two users."""
    users = Users(migrated["base"] / "users.json")
    for name, (role, password) in PASSWORDS.items():
        users.add(name, role, password)
    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    db = (str(migrated["base"] / "index.sqlite") if request.param == "sqlite"
          else request.getfixturevalue("postgres_server").new_database())
    follower = Follower(uri, register.address, indexer.abi_of_suite(), db, "test:console")
    follower.step()
    sessions = Sessions()
    app = create_app(follower, open_names(migrated["report"]), users, sessions)
    follower.start(interval=0.2)
    yield {"app": app, "follower": follower, "sessions": sessions, "uri": uri, "backend": request.param}
    follower.stop()


def client(console, who: str | None) -> TestClient:
    c = TestClient(console["app"], follow_redirects=False)
    if who:
        c.cookies.set(COOKIE, console["sessions"].issue(who, PASSWORDS[who][0]))
    return c


def holder_name(migrated, address: str) -> str:
    for no, acct in migrated["accounts"].items():
        if migrated["plan"].address.get(no) == address:
            return acct.name
    return ""


# ---------------------------------------------------------------- the indexer's database


def test_sql_indexer__resumes_from_its_checkpoint__applies_only_new_blocks(migrated, chain, register,
                                                                           index_db_location):
    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    db = IndexDb(index_db_location)
    first = SqlIndexer(indexer.HttpRpc(uri), register.address, indexer.abi_of_suite(), db=db, network_key="n")
    state = first.sync()
    n_events = db.query("SELECT COUNT(*) FROM events")[0][0]
    assert n_events == state.events > 0

    again = SqlIndexer(indexer.HttpRpc(uri), register.address, indexer.abi_of_suite(), db=db, network_key="n")
    seen = []
    again.sync(on_event=seen.append)

    assert seen == [] and again.state.last_block >= state.last_block
    assert again.state.to_json()["holdings"] == state.to_json()["holdings"]
    assert db.query("SELECT COUNT(*) FROM events")[0][0] == n_events
    db.close()


def test_index_db__holder_series__holders_and_units_at_the_end_of_each_day(index_db_location):
    db = IndexDb(index_db_location)
    a, b, c = ("0x" + ch * 40 for ch in "abc")
    # (sid, owner, block, log index, day, balance, paid, pledged, frozen, lock-up)
    db.write("n", None, [], [(1, a, 1, 0, 10, "10", "10", "0", "0", 0), (1, b, 1, 1, 10, "5", "5", "0", "0", 0),
                             (2, c, 2, 0, 10, "99", "99", "0", "0", 0),  # another security
                             (1, a, 3, 0, 11, "4", "4", "0", "0", 0), (1, b, 3, 1, 11, "11", "11", "0", "0", 0),
                             (1, a, 4, 0, 12, "0", "0", "0", "0", 0), (1, c, 5, 0, 12, "3", "3", "0", "0", 0),
                             (1, a, 6, 0, 12, "2", "2", "0", "0", 0)])

    assert db.holder_series("n", 1) == [(10, 2, 15), (11, 2, 15), (12, 3, 16)]
    assert db.holder_series("n", 2) == [(10, 1, 99)]
    assert db.holder_series("other", 1) == []
    db.close()


def test_index_db__postgres_dropped_its_connections__reconnects_and_the_write_lands(postgres_server):
    url = postgres_server.new_database()
    db = IndexDb(url)
    owner = "0x" + "ab" * 20
    db.write("n", None, [], [(1, owner, 5, 0, 100, "10", "10", "0", "0", 0)])
    postgres_server.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE datname = '{url.rsplit('/', 1)[1]}'")

    db.write("n", None, [], [(1, owner, 6, 0, 101, "7", "7", "2", "0", 0)])

    assert db.register_on("n", 1, 100) == [{"owner": owner, "balance": 10, "paid": 10, "pledged": 0, "frozen": 0,
                                            "lock_until_day": 0}]
    assert db.register_on("n", 1, 101) == [{"owner": owner, "balance": 7, "paid": 7, "pledged": 2, "frozen": 0,
                                            "lock_until_day": 0}]
    db.close()


def test_sql_indexer__register_of_today__equals_the_chain(console, migrated, register):
    sid = migrated["sid"]
    f = console["follower"]

    rows = f.db.register_on(f.network_key, sid, f.head_day)

    assert len(rows) == register.security(sid).holder_count > 1
    for r in rows:
        assert r["balance"] == register.balanceOf(r["owner"], sid)
        assert r["pledged"] == register.pledged_balance_of(r["owner"], sid)
        assert r["frozen"] == register.frozen_balance_of(r["owner"], sid)


def test_sql_indexer__register_before_the_migration__is_empty(console, migrated):
    f = console["follower"]

    assert f.db.register_on(f.network_key, migrated["sid"], cal.day_number(cal.EPOCH) + 1) == []


# ---------------------------------------------------------------- pages, roles, exports


def test_pages__not_logged_in__redirected_to_login(console):
    for path in ("/securities", "/securities/1", "/accounts", "/progress", "/history", "/health"):
        assert client(console, None).get(path).status_code == 303, path


def test_login__wrong_password__refused(console):
    r = client(console, None).post("/login", data={"user": "op", "password": "wrong-password"})

    assert r.status_code == 401 and COOKIE not in r.cookies


def test_login__right_password__session_cookie(console):
    r = client(console, None).post("/login", data={"user": "reg", "password": PASSWORDS["reg"][1]})

    assert r.status_code == 303 and r.headers["location"] == "/securities" and r.cookies.get(COOKIE)


def test_securities__search_by_code__one_row(console, migrated):
    r = client(console, "op").get("/securities", params={"q": migrated["code"]})

    assert r.status_code == 200
    assert migrated["code"] in r.text and migrated["name"] in r.text
    assert r.text.count('href="/securities/') == 3  # the one row's id, code and name links


def test_register__operator_sees_names__regulator_account_numbers_only(console, migrated, register):
    sid = migrated["sid"]
    holders = [h.account_no for h in next(s for s in migrated["cleaned"].securities
                                           if s.code == migrated["code"]).holdings]
    names = [migrated["accounts"][no].name for no in holders]

    op = client(console, "op").get(f"/securities/{sid}")
    reg = client(console, "reg").get(f"/securities/{sid}")

    assert op.status_code == reg.status_code == 200
    assert all(name in op.text for name in names)
    assert all(no in reg.text for no in holders)
    assert not any(name in reg.text for name in names)
    csv_reg = client(console, "reg").get(f"/securities/{sid}", params={"export": "csv", "table": f"register-{sid}"})
    assert not any(name in csv_reg.content.decode("utf-8-sig") for name in names)


def test_export__csv__utf8_bom_and_the_chain_balances(console, migrated, register):
    sid = migrated["sid"]

    r = client(console, "op").get(f"/securities/{sid}", params={"export": "csv", "table": f"register-{sid}",
                                                                 "lang": "zh"})

    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["账户号", "持有人", "地址", "持有数量"]
    scale = register.security(sid).unit_scale
    assert {row[2]: row[3] for row in rows[1:]} == {
        row[2]: migrate_amount(register.balanceOf(row[2], sid), scale) for row in rows[1:]}
    assert len(rows) - 1 == register.security(sid).holder_count


def migrate_amount(value: int, scale: int) -> str:
    from regchain.legacy.clean import format_amount

    return format_amount(value, scale)


def test_export__xlsx__same_rows_as_csv(console, migrated):
    sid = migrated["sid"]
    c = client(console, "op")
    params = {"table": f"register-{sid}", "lang": "en"}

    x = c.get(f"/securities/{sid}", params={**params, "export": "xlsx"})
    text = c.get(f"/securities/{sid}", params={**params, "export": "csv"}).content.decode("utf-8-sig")

    ws = load_workbook(io.BytesIO(x.content)).active
    assert [[("" if v is None else str(v)) for v in row] for row in ws.iter_rows(values_only=True)] == \
        list(csv.reader(io.StringIO(text)))


def test_account__holdings_pledges_freezes_in_queue_order(console, migrated, register):
    cleaned = migrated["cleaned"]
    frozen = next((f for f in cleaned.freezes), None)
    if frozen is None:
        pytest.skip("the sample has no freeze")
    address = migrated["plan"].address[frozen.account_no]

    sid = json.loads(migrated["report"].read_text(encoding="utf-8"))["securities"][frozen.security_code]["token_id"]

    page = client(console, "op").get(f"/accounts/{address}", params={"lang": "en"})
    r = client(console, "op").get(f"/accounts/{address}", params={"lang": "en", "export": "csv",
                                                                   "table": f"freezes-{address}"})

    assert page.status_code == 200 and holder_name(migrated, address) in page.text
    rows = [row for row in csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
            if row["Code"] == frozen.security_code]
    ids, in_force = register.freeze_queue_of(address, sid)
    assert [int(row["Freeze"]) for row in rows] == [int(i) for i in ids]
    assert [int(row["Queue"]) for row in rows] == list(range(1, len(rows) + 1))
    assert [row["Status"] == "IN_FORCE" for row in rows] == list(in_force)


def test_history__security_events_with_document_hashes(console, migrated):
    sid = migrated["sid"]

    r = client(console, "reg").get(f"/securities/{sid}/history", params={"export": "csv",
                                                                         "table": f"history-{sid}", "lang": "en"})

    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    events = {row["Event"] for row in rows}
    assert {"SecurityRegistered", "SecuritySealed", "HoldingsRegistered"} <= events
    assert all(row["Document hash"].startswith("0x") and len(row["Document hash"]) == 66 for row in rows)


def test_register__bad_day__400(console, migrated):
    assert client(console, "op").get(f"/securities/{migrated['sid']}", params={"day": "2026-13-01"}).status_code == 400


# ---------------------------------------------------------------- in a real browser


def _serve(app) -> tuple[uvicorn.Server, threading.Thread, int]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(100):
        if server.started:
            break
        time.sleep(0.05)
    return server, thread, port


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        yield b
        b.close()


def _login(page, base: str, who: str):
    page.goto(f"{base}/login?lang=zh")
    page.fill("#user", who)
    page.fill("#password", PASSWORDS[who][1])
    page.click("#login")
    page.wait_for_url(f"{base}/securities")


def test_browser__find_by_code__cap_table_equals_the_chain__csv__screenshots(console, migrated, register, tmp_path,
                                                                              request):
    if console["backend"] != "sqlite":
        pytest.skip("the browser test runs over SQLite; over PostgreSQL the pages are checked through HTTP")
    browser = request.getfixturevalue("browser")
    server, thread, port = _serve(console["app"])
    base = f"http://127.0.0.1:{port}"
    DOCS.mkdir(exist_ok=True)
    sid, code = migrated["sid"], migrated["code"]
    try:
        ctx = browser.new_context(viewport={"width": 1360, "height": 900}, accept_downloads=True, locale="zh-CN")
        page = ctx.new_page()
        _login(page, base, "op")
        page.screenshot(path=str(DOCS / "console-securities.png"), full_page=True)

        page.fill("#f-q", code)
        page.click("#go")
        page.wait_for_selector("#t-securities")
        links = page.locator("#t-securities tbody tr")
        assert links.count() == 1
        links.first.locator("a").nth(1).click()
        page.wait_for_selector(f"#t-register-{sid}")
        assert code in page.inner_text("#title")

        # the cap table as the page shows it, against the chain
        scale = register.security(sid).unit_scale
        cells = page.locator(f"#t-register-{sid} tbody tr").all()
        shown = {}
        for row in cells:
            tds = row.locator("td").all_inner_texts()
            shown[tds[2]] = (tds[1], tds[3], tds[6], tds[7])  # holder, balance, pledged, frozen
        assert len(shown) == register.security(sid).holder_count
        for address, (name, balance, pledged, frozen) in shown.items():
            assert balance == migrate_amount(register.balanceOf(address, sid), scale)
            assert pledged == migrate_amount(register.pledged_balance_of(address, sid), scale)
            assert frozen == migrate_amount(register.frozen_balance_of(address, sid), scale)
            assert name == holder_name(migrated, address)
        page.screenshot(path=str(DOCS / "console-register.png"), full_page=True)

        with page.expect_download() as dl:
            page.click(f"#csv-register-{sid}")
        path = tmp_path / "register.csv"
        dl.value.save_as(path)
        data = path.read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert {r[2]: r[3] for r in rows[1:]} == {a: v[1] for a, v in shown.items()}

        # an account page (the largest holder) and the English page
        first = next(iter(shown))
        page.goto(f"{base}/accounts/{first}?lang=en")
        page.wait_for_selector("#title")
        page.screenshot(path=str(DOCS / "console-account.png"), full_page=True)
        page.goto(f"{base}/securities/{sid}/history")
        page.screenshot(path=str(DOCS / "console-history.png"))
        ctx.close()

        # the regulator's reader: account numbers, never names
        ctx = browser.new_context(viewport={"width": 1360, "height": 900}, locale="zh-CN")
        page = ctx.new_page()
        _login(page, base, "reg")
        page.goto(f"{base}/securities/{sid}?lang=zh")
        page.wait_for_selector(f"#t-register-{sid}")
        text = page.inner_text("body")
        assert not any(v[0] and v[0] in text for v in shown.values())
        headers = page.locator(f"#t-register-{sid} thead th").all_inner_texts()
        assert headers[:2] == ["账户号", "地址"]
        page.screenshot(path=str(DOCS / "console-register-regulator.png"), full_page=True)
        ctx.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# ---------------------------------------------------------------- the command (`make console`)


def test_serve_command__follows_the_node_and_serves_the_pages(console, migrated, register, tmp_path, request):
    """`python -m regchain.console serve` as `make console` runs it, on a free port, over the test node;
    its database a SQLite file given by --db, or a PostgreSQL URL given by $REGCHAIN_INDEX_DB."""
    import os
    import subprocess
    import sys

    import requests

    users = tmp_path / "users.json"
    env = {**os.environ, "REGCHAIN_CONSOLE_PASSWORD": "op-password-1"}
    add = subprocess.run([sys.executable, "-m", "regchain.console", "adduser", "op", "--role", "operator",
                          "--users", str(users)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert add.returncode == 0, add.stderr
    if console["backend"] == "sqlite":
        db_args, shown = ["--db", str(tmp_path / "index.sqlite")], str(tmp_path / "index.sqlite")
    else:
        url = request.getfixturevalue("postgres_server").new_database()
        db_args, env["REGCHAIN_INDEX_DB"] = [], url
        shown = url.replace(":regchain-test-pw@", ":***@")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "regchain.console", "serve", "--rpc", console["uri"],
                             "--register", register.address, *db_args,
                             "--users", str(users), "--report", str(migrated["report"]), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        session = requests.Session()
        for _ in range(600):
            try:
                if session.get(f"{base}/login", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            raise AssertionError("the console did not start")
        assert session.get(f"{base}/securities", allow_redirects=False).status_code == 303
        login = session.post(f"{base}/login", data={"user": "op", "password": "op-password-1"})
        assert login.status_code == 200 and migrated["code"] in login.text
        page = session.get(f"{base}/securities/{migrated['sid']}")
        assert page.status_code == 200 and migrated["name"] in page.text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=20)
    assert f"into {shown} ..." in out and "regchain-test-pw" not in out


# ape's import warns (pydantic_settings) on stderr before the command runs: not the command's output
QUIET_ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}


def test_serve_command__database_unreachable__one_line_error(chain, register, postgres_server, tmp_path):
    import subprocess
    import sys

    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    url = f"postgresql://regchain:secret-pw@127.0.0.1:{postgres_server.port}/no_such_db"
    Users(tmp_path / "u.json").add("op", "operator", "op-password-1")
    done = subprocess.run([sys.executable, "-m", "regchain.console", "serve", "--rpc", uri,
                           "--register", register.address, "--db", url, "--users", str(tmp_path / "u.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=QUIET_ENV)

    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "secret-pw" not in lines[0]
    assert lines[0].startswith(f"Error: database postgresql://regchain:***@127.0.0.1:{postgres_server.port}/no_such_db: ")
    assert "password authentication failed" in lines[0]


def test_serve_command__unknown_database_url__one_line_error(chain, register, tmp_path):
    import subprocess
    import sys

    uri = getattr(chain.provider, "http_uri", None) or chain.provider.uri
    Users(tmp_path / "u.json").add("op", "operator", "op-password-1")
    done = subprocess.run([sys.executable, "-m", "regchain.console", "serve", "--rpc", uri,
                           "--register", register.address, "--db", "mysql://u@localhost/x",
                           "--users", str(tmp_path / "u.json")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=QUIET_ENV)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: database mysql://u@localhost/x: not a SQLite file path nor a postgresql:// URL"]


def test_serve_command__no_register__one_line_error(tmp_path):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "regchain.console", "serve", "--network", "nowhere",
                           "--rpc", "http://127.0.0.1:9", "--users", str(tmp_path / "u.json")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: no register recorded for network 'nowhere' (deployments/nowhere.json); pass --register"]


# ---------------------------------------------------------------- following (writes: last)


def test_follower__a_new_transfer__shows_on_the_page_and_the_past_day_keeps_the_old(console, migrated, register,
                                                                                         chain, accounts,
                                                                                         open_account,
                                                                                         new_security):
    f = console["follower"]
    alice, bob = accounts[4], accounts[5]
    for who in (alice, bob):
        if register.account_of(who).status == 0:
            open_account(who)
    sid = new_security([(alice, 100), (bob, 50)])
    registered_day = int(register.today())
    chain.pending_timestamp += 86400
    chain.mine()
    register.transfer(bob, sid, 30, sender=alice)
    start = time.monotonic()

    c = client(console, "op")
    # how fast is `make bench`'s indexer.follow_lag_s; here: that the thread picks it up at all
    while f.state.holding(bob.address, sid)["balance"] != 80 and time.monotonic() - start < 60:
        time.sleep(0.05)
    today_csv = c.get(f"/securities/{sid}", params={"export": "csv", "table": f"register-{sid}"})
    rows = {r[2]: r[3] for r in list(csv.reader(io.StringIO(today_csv.content.decode("utf-8-sig"))))[1:]}
    assert rows == {alice.address: "70", bob.address: "80"}
    past = f.db.register_on(f.network_key, sid, registered_day)
    assert {r["owner"]: r["balance"] for r in past} == {alice.address: 100, bob.address: 50}
