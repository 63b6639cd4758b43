"""The snapshot store: ``DIR/objects/<object_id>/<version>.json`` plus a SQLite index ``DIR/index.sqlite``.

Each file holds the canonical bytes of a sealed snapshot, exactly what the regulator gets and
what the anchor's SM3 digest covers. The index (one row per snapshot) holds its type, operation,
digest, business step (block, tx, log index), and once anchored the anchoring transaction, block
and log index. The same SQLite file keeps the generator's checkpoint and its error log, so the
index and the checkpoint commit together.

``put`` is idempotent: a snapshot whose unsigned content equals the stored one is skipped (the
seal is randomised, so the comparison leaves it out); a different one is a bug and stops the run.
A file written before a crash, whose index row was rolled back, is taken as it is when the
regenerated snapshot has the same content.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from regchain.supervise import SuperviseError
from regchain.supervise.seal import canonical, sm3, unsigned

SCHEMA = """
CREATE TABLE IF NOT EXISTS snapshots (
    object_id TEXT NOT NULL, version INTEGER NOT NULL, type TEXT NOT NULL, operation TEXT NOT NULL,
    digest TEXT NOT NULL, business_tx TEXT, block INTEGER, log_index INTEGER, step TEXT,
    anchor_tx TEXT, anchor_block INTEGER, anchor_log_index INTEGER,
    PRIMARY KEY (object_id, version));
CREATE INDEX IF NOT EXISTS snapshots_unanchored ON snapshots (anchor_tx) WHERE anchor_tx IS NULL;
CREATE INDEX IF NOT EXISTS snapshots_anchor_block ON snapshots (anchor_block);
CREATE TABLE IF NOT EXISTS current (
    object_id TEXT PRIMARY KEY, version INTEGER NOT NULL, fingerprint TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS checkpoint (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS errors (
    id INTEGER PRIMARY KEY AUTOINCREMENT, object_id TEXT, version INTEGER, block INTEGER, message TEXT NOT NULL);
"""


@dataclass
class Row:
    object_id: str
    version: int
    type: str
    operation: str
    digest: str
    business_tx: str | None
    block: int | None
    log_index: int | None
    step: str | None
    anchor_tx: str | None
    anchor_block: int | None
    anchor_log_index: int | None


class Store:
    def __init__(self, directory, *, readonly: bool = False):
        self.dir = Path(directory)
        if str(directory).startswith("s3://"):
            raise SuperviseError("an S3 store is not built yet: give a directory (--store DIR)")
        if readonly and not (self.dir / "index.sqlite").is_file():
            raise SuperviseError(f"no snapshot store at {self.dir} (index.sqlite missing)")
        (self.dir / "objects").mkdir(parents=True, exist_ok=True)
        uri = f"file:{self.dir / 'index.sqlite'}" + ("?mode=ro" if readonly else "")
        self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL" if not readonly else "PRAGMA query_only=1")
        if not readonly:
            self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ transactions

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # ------------------------------------------------------------ files

    def path(self, object_id: str, version: int) -> Path:
        if "/" in object_id or object_id.startswith("."):
            raise SuperviseError(f"object id {object_id!r} cannot name a file")
        return self.dir / "objects" / object_id / f"{version}.json"

    def read_bytes(self, object_id: str, version: int) -> bytes | None:
        try:
            return self.path(object_id, version).read_bytes()
        except (FileNotFoundError, SuperviseError):
            return None

    def same_content(self, snapshot: dict) -> bool | None:
        """None: nothing stored under its (object_id, version); True/False: stored content equal or not."""
        c = snapshot["header"]["content"]
        data = self.read_bytes(c["object_id"], c["version"])
        if data is None:
            return None
        return canonical(unsigned(json.loads(data))) == canonical(unsigned(snapshot))

    def put(self, sealed: dict, *, business_tx: str | None, block: int | None, log_index: int | None,
            step: str | None, known_new: bool = False) -> str:
        """Store a sealed snapshot (file, then index row); returns its digest. An identical stored
        content is kept as it is; a different one raises. ``known_new``: the caller has just seen that
        nothing is stored under its (object_id, version)."""
        c = sealed["header"]["content"]
        oid, ver = c["object_id"], c["version"]
        path = self.path(oid, ver)
        same = None if known_new else self.same_content(sealed)
        if same is False:
            raise SuperviseError(f"stored snapshot {oid}/{ver} differs from the one generated now "
                                 "(a bug: stopping, nothing rewritten)")
        if same is None:
            data = canonical(sealed)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            tmp.replace(path)
        else:
            data = path.read_bytes()
        digest = sm3(data)
        self.db.execute("INSERT OR IGNORE INTO snapshots (object_id, version, type, operation, digest, business_tx,"
                        " block, log_index, step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (oid, ver, c["type"], c["operation"], digest, business_tx, block, log_index, step))
        return digest

    # ------------------------------------------------------------ index

    def has(self, object_id: str, version: int) -> bool:
        return self.db.execute("SELECT 1 FROM snapshots WHERE object_id = ? AND version = ?",
                               (object_id, version)).fetchone() is not None

    def row(self, object_id: str, version: int) -> Row | None:
        r = self.db.execute("SELECT * FROM snapshots WHERE object_id = ? AND version = ?",
                            (object_id, version)).fetchone()
        return Row(*r) if r else None

    def rows(self, where: str = "1", params: tuple = ()) -> list[Row]:
        return [Row(*r) for r in self.db.execute(
            f"SELECT * FROM snapshots WHERE {where} ORDER BY block, log_index, rowid", params)]

    def unanchored(self) -> list[Row]:
        return [Row(*r) for r in self.db.execute(
            "SELECT * FROM snapshots WHERE anchor_tx IS NULL ORDER BY rowid")]

    def mark_anchored(self, items: list[tuple[str, int, str, int, int]]) -> None:
        """(object_id, version, anchor tx, anchor block, anchor log index) for each anchored snapshot."""
        self.db.executemany("UPDATE snapshots SET anchor_tx = ?, anchor_block = ?, anchor_log_index = ? "
                            "WHERE object_id = ? AND version = ?",
                            [(tx, b, li, oid, v) for oid, v, tx, b, li in items])

    def in_block(self, block: int) -> list[tuple[str, int]]:
        return [(o, v) for o, v in self.db.execute(
            "SELECT object_id, version FROM snapshots WHERE anchor_block = ? ORDER BY anchor_log_index", (block,))]

    def counts(self) -> dict:
        return dict(self.db.execute("SELECT type, COUNT(*) FROM snapshots GROUP BY type ORDER BY type"))

    def anchored_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM snapshots WHERE anchor_tx IS NOT NULL").fetchone()[0]

    # ------------------------------------------------------------ current versions (checkpointed)

    def current(self, object_id: str) -> tuple[int, str] | None:
        r = self.db.execute("SELECT version, fingerprint FROM current WHERE object_id = ?", (object_id,)).fetchone()
        return (r[0], r[1]) if r else None

    def set_current(self, object_id: str, version: int, fingerprint: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO current VALUES (?, ?, ?)", (object_id, version, fingerprint))

    def latest_version(self, object_id: str) -> int | None:
        r = self.db.execute("SELECT MAX(version) FROM snapshots WHERE object_id = ?", (object_id,)).fetchone()
        return r[0] if r else None

    # ------------------------------------------------------------ checkpoint, errors

    def get(self, key: str, default=None):
        r = self.db.execute("SELECT value FROM checkpoint WHERE key = ?", (key,)).fetchone()
        return json.loads(r[0]) if r else default

    def set(self, key: str, value) -> None:
        self.db.execute("INSERT OR REPLACE INTO checkpoint VALUES (?, ?)", (key, json.dumps(value, ensure_ascii=False)))

    def log_error(self, object_id: str | None, version: int | None, block: int | None, message: str) -> None:
        self.db.execute("INSERT INTO errors (object_id, version, block, message) VALUES (?, ?, ?, ?)",
                        (object_id, version, block, message))

    def errors(self) -> list[tuple]:
        return list(self.db.execute("SELECT object_id, version, block, message FROM errors ORDER BY id"))
