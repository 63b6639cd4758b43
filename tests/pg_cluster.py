"""A throw-away PostgreSQL server for the tests of the indexer's database on PostgreSQL.

`postgres_server` (session): initdb in a temporary directory, the server on a free TCP port
of 127.0.0.1 (picked by binding port 0) with its unix socket in the same directory, stopped
and removed at the end. As root it runs as the `postgres` system user (the server refuses
root). A user `regchain` with a password owns each database the tests create, as an
operator would set it up (docs/console.md); `new_database()` gives its postgresql:// URL.

If PostgreSQL is not installed or does not start, the fixture fails with one line (CI
installs it: .ci/run)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

USER, PASSWORD = "regchain", "regchain-test-pw"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, root: Path, port: int, run_as: list[str]):
        self.root, self.port, self.run_as = root, port, run_as
        self.data = root / "data"
        self.log = root / "server.log"

    def _run(self, bindir: Path, tool: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.run_as, str(bindir / tool), *args], capture_output=True, text=True,
                              timeout=120, cwd=self.root)

    def start(self, bindir: Path) -> None:
        pwfile = self.root / "pw"
        pwfile.write_text("postgres-test-pw\n")
        self._chown(pwfile)
        done = self._run(bindir, "initdb", "-D", str(self.data), "-U", "postgres", "--pwfile", str(pwfile),
                         "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C")
        if done.returncode != 0:
            raise RuntimeError("initdb: " + _last_line(done.stderr or done.stdout))
        for attempt in range(3):  # the free port may be taken between picking and binding it
            if attempt:
                self.port = _free_port()
            opts = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")
            done = self._run(bindir, "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                             "-o", opts, "start")
            if done.returncode == 0:
                break
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            if "could not create any TCP/IP sockets" not in log:
                break
        if done.returncode != 0:
            raise RuntimeError("pg_ctl start: " + _last_line(log or done.stderr or done.stdout))
        self.admin(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")

    def _chown(self, path: Path) -> None:
        if self.run_as:
            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def admin(self, sql: str) -> None:
        """A statement as the superuser over the unix socket (autocommit: CREATE DATABASE)."""
        import psycopg

        with psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as c:
            c.execute(sql)

    def new_database(self) -> str:
        """A fresh database owned by the `regchain` user; its URL (TCP, password)."""
        name = "idx_" + uuid.uuid4().hex[:12]
        self.admin(f"CREATE DATABASE {name} OWNER {USER}")
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def stop(self, bindir: Path) -> None:
        self._run(bindir, "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")


def _last_line(text: str) -> str:
    """The line that says why: the first FATAL/ERROR of a server log or a tool's error, else the last line."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    why = [ln for ln in lines if any(k in ln for k in ("FATAL:", "ERROR:", "PANIC:", "error:"))]
    return why[0] if why else lines[-1] if lines else "no output"


@pytest.fixture(scope="session")
def postgres_server():
    bindir = _bindir()
    if bindir is None:
        pytest.fail("PostgreSQL is not installed (no initdb): apt-get install postgresql", pytrace=False)
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail("running as root and there is no `postgres` user to run PostgreSQL as", pytrace=False)
        run_as = ["runuser", "-u", "postgres", "--"]
    # not under pytest's tmp dirs: those are mode 700 to root, and the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="regchain-pg-"))
    server = PostgresServer(root, _free_port(), run_as)
    server._chown(root)
    try:
        server.start(bindir)
    except Exception as exc:  # noqa: BLE001 - one line, whatever went wrong
        server.stop(bindir)
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL could not start ({bindir}): {str(exc).splitlines()[0] if str(exc) else exc!r}",
                    pytrace=False)
    try:
        yield server
    finally:
        server.stop(bindir)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def index_db_location(request, tmp_path):
    """Where a test's indexer database lives: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "index.sqlite")
    return request.getfixturevalue("postgres_server").new_database()
