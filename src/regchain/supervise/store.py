"""The snapshot store: ``DIR/objects/<object_id>/<version>.json`` plus a SQLite index ``DIR/index.sqlite``;
or the same keys in S3-compatible storage (``s3://BUCKET/PREFIX``) with the index in a local file.

Each file holds the canonical bytes of a sealed snapshot, exactly what the regulator gets and
what the anchor's SM3 digest covers. The index (one row per snapshot) holds its type, operation,
digest, business step (block, tx, log index), and once anchored the anchoring transaction, block
and log index. The same SQLite file keeps the generator's checkpoint and its error log, so the
index and the checkpoint commit together.

``put`` is idempotent: a snapshot whose unsigned content equals the stored one is skipped (the
seal is randomised, so the comparison leaves it out); a different one is a bug and stops the run.
The index row is the commit point: a file is written in place (``O_EXCL``, no temporary file) and
its row committed after it. A complete file written before a crash, whose index row was rolled
back, is taken as it is when the regenerated snapshot has the same content; an incomplete one (the
crash came during its write) is written again.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from typing import Callable
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


def complete(data: bytes) -> bool:
    """Whether stored bytes are a whole JSON value (a file cut short by a kill is not)."""
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


class FileObjects:
    """The snapshot files: ``DIR/objects/<object_id>/<version>.json`` (plain ``os`` calls: pathlib's
    overhead was most of a store's cost)."""

    def __init__(self, directory: Path):
        self.root = os.path.join(str(directory), "objects")
        os.makedirs(self.root, exist_ok=True)

    def path(self, object_id: str, version: int) -> Path:
        return Path(self._name(object_id, version))

    def _name(self, object_id: str, version: int) -> str:
        if "/" in object_id or object_id.startswith("."):
            raise SuperviseError(f"object id {object_id!r} cannot name a file")
        return f"{self.root}/{object_id}/{version}.json"

    def read(self, object_id: str, version: int) -> bytes | None:
        try:
            with open(self._name(object_id, version), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, SuperviseError):
            return None

    def write(self, object_id: str, version: int, data: bytes) -> bytes | None:
        """Write the file unless a complete one exists; returns the existing file's bytes (None:
        written). The file is created with ``O_EXCL`` and written in place: the snapshot's index row,
        committed after the write, is what makes it stored (a reader goes by the index: ``serve``).
        A file without its row is what a killed run left: a complete one (it parses as JSON; a proper
        prefix of a JSON object never does) is returned for the caller to compare, an incomplete one
        (the kill came during its write) is written again. The object's folder is made with its
        version 0 (or when missing): three system calls for most snapshots, four for a new object."""
        name = self._name(object_id, version)
        if version == 0:
            try:
                os.mkdir(name.rsplit("/", 1)[0])
            except FileExistsError:
                pass
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileNotFoundError:  # a later version whose folder is gone
            os.makedirs(name.rsplit("/", 1)[0], exist_ok=True)
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            existing = self.read(object_id, version)
            if existing is not None and complete(existing):
                return existing
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        return None

    def write_many(self, items: list) -> list:
        return [self.write(*item) for item in items]

    def keys(self) -> dict[tuple[str, int], str]:
        """(object_id, version) -> file name of every stored snapshot."""
        out = {}
        with os.scandir(self.root) as folders:
            for folder in folders:
                if not folder.is_dir():
                    continue
                with os.scandir(folder.path) as files:
                    for f in files:
                        stem, dot, ext = f.name.partition(".")
                        if ext == "json" and stem.isdigit():
                            out[(folder.name, int(stem))] = f.path
        return out


class S3Objects:
    """The snapshot objects in S3-compatible storage: the same layout as files, under a bucket and a
    prefix (``s3://BUCKET/PREFIX`` -> keys ``PREFIX/objects/<object_id>/<version>.json``), each the
    canonical bytes. Endpoint and credentials come from the environment as for any S3 client
    (``AWS_ENDPOINT_URL`` for a MinIO or other S3-compatible service, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``). A put is whole or absent (S3 semantics) and
    conditional (``If-None-Match: *``): an existing object is never overwritten."""

    PARALLEL = 16  # puts in flight (each a round trip)

    def __init__(self, url: str):
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError

        bucket, _, prefix = url[len("s3://"):].partition("/")
        if not bucket:
            raise SuperviseError(f"{url}: an S3 store is s3://BUCKET[/PREFIX]")
        self.url, self.bucket, self.prefix = url, bucket, prefix.strip("/")
        self.client = boto3.client("s3", config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                       max_pool_connections=self.PARALLEL))
        try:
            self._call(self.client.head_bucket, Bucket=bucket)
        except ClientError:
            raise SuperviseError(f"S3 store {url}: no bucket {bucket} (or no access to it)") from None

    def _call(self, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in ("NoSuchKey", "404", "PreconditionFailed", "412"):
                raise
            raise SuperviseError(f"S3 store {self.url}: {code or 'error'}: "
                                 f"{exc.response.get('Error', {}).get('Message') or exc}") from None
        except BotoCoreError as exc:
            raise SuperviseError(f"S3 store {self.url}: {str(exc).splitlines()[0]}") from None

    def _key(self, object_id: str, version: int) -> str:
        if "/" in object_id or object_id.startswith("."):
            raise SuperviseError(f"object id {object_id!r} cannot name a file")
        return f"{self.prefix}/objects/{object_id}/{version}.json" if self.prefix else \
            f"objects/{object_id}/{version}.json"

    def path(self, object_id: str, version: int) -> str:
        return f"s3://{self.bucket}/{self._key(object_id, version)}"

    def read(self, object_id: str, version: int) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            key = self._key(object_id, version)
        except SuperviseError:
            return None
        try:
            return self._call(self.client.get_object, Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError:
            return None

    def write(self, object_id: str, version: int, data: bytes) -> bytes | None:
        from botocore.exceptions import ClientError

        key = self._key(object_id, version)
        try:
            self._call(self.client.put_object, Bucket=self.bucket, Key=key, Body=data, IfNoneMatch="*",
                       ContentType="application/json")
            return None
        except ClientError:  # 412: stored already
            existing = self.read(object_id, version)
            if existing is None:
                raise SuperviseError(f"S3 store {self.url}: {key} refused as existing but cannot be read") from None
            return existing

    def write_many(self, items: list) -> list:
        """``write`` of each (object_id, version, data), PARALLEL at a time; results in order."""
        if len(items) < 2:
            return [self.write(*item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self.PARALLEL, len(items))) as pool:
            return list(pool.map(lambda item: self.write(*item), items))

    def keys(self) -> dict[tuple[str, int], str]:
        base = f"{self.prefix}/objects/" if self.prefix else "objects/"
        out = {}
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base)
        for page in self._call(lambda: list(pages)):
            for item in page.get("Contents", []):
                folder, _, name = item["Key"][len(base):].partition("/")
                stem, _, ext = name.partition(".")
                if folder and ext == "json" and stem.isdigit() and "/" not in name:
                    out[(folder, int(stem))] = item["Key"]
        return out


def differs(content: dict) -> SuperviseError:
    return SuperviseError(f"stored snapshot {content['object_id']}/{content['version']} differs from the one "
                          "generated now (a bug: stopping, nothing rewritten)")


def open_objects(location):
    """The objects of a store: a directory, or ``s3://BUCKET/PREFIX``."""
    return S3Objects(str(location)) if str(location).startswith("s3://") else FileObjects(Path(location))


class Store:
    """Snapshot objects (a directory, or S3-compatible storage given as ``s3://BUCKET/PREFIX``) and
    the SQLite index: ``DIR/index.sqlite`` for a directory; for S3 a local file named by ``index``."""

    def __init__(self, location, *, readonly: bool = False, index=None):
        self.location = str(location)
        self.readonly = readonly
        s3 = self.location.startswith("s3://")
        if s3 and index is None:
            raise SuperviseError(f"an S3 store keeps its index locally: give the index file (--index) for {location}")
        self.dir = None if s3 else Path(location)
        index_path = Path(index) if index is not None else self.dir / "index.sqlite"
        if readonly and not index_path.is_file():
            raise SuperviseError(f"no snapshot store at {location} ({index_path.name} missing)")
        if not readonly:
            index_path.parent.mkdir(parents=True, exist_ok=True)
        self.objects = open_objects(location)
        uri = f"file:{index_path}" + ("?mode=ro" if readonly else "")
        self.db = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL" if not readonly else "PRAGMA query_only=1")
        if not readonly:
            self.db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable at checkpoints, never corrupt
            self.db.executescript(SCHEMA)
        self._current: dict = {}  # object_id -> (version, fingerprint) | None: the current table, cached
        self._dirty: dict = {}    # object_id -> (version, fingerprint) set, written at the commit

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ transactions

    def begin(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        if self._dirty:  # set_current's rows, written together
            self.db.executemany("INSERT OR REPLACE INTO current VALUES (?, ?, ?)",
                                [(oid, v, fp) for oid, (v, fp) in self._dirty.items()])
            self._dirty.clear()
        self.db.execute("COMMIT")

    def rollback(self) -> None:
        self._current.clear()
        self._dirty.clear()
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    # ------------------------------------------------------------ files

    def path(self, object_id: str, version: int):
        return self.objects.path(object_id, version)

    def read_bytes(self, object_id: str, version: int) -> bytes | None:
        return self.objects.read(object_id, version)

    def put(self, sealed: dict, *, business_tx: str | None, block: int | None, log_index: int | None,
            step: str | None) -> str:
        """Store a sealed snapshot (file, then index row); returns its digest. An identical stored
        content is kept as it is (the seal is randomised: the comparison leaves it out); a different
        one raises."""
        return self.put_bytes(sealed["header"]["content"], canonical(sealed), canonical(unsigned(sealed)),
                              business_tx=business_tx, block=block, log_index=log_index, step=step)

    def put_bytes(self, content: dict, data: bytes, message: bytes, *, business_tx: str | None,
                  block: int | None, log_index: int | None, step: str | None) -> str:
        """``put`` of the canonical bytes ``data`` of a sealed snapshot whose unsigned form is ``message``."""
        stored = self.objects.write(content["object_id"], content["version"], data)
        return self._index(content, data, message, stored, dict(business_tx=business_tx, block=block,
                                                                  log_index=log_index, step=step))

    def put_many(self, items: list, after_each: Callable[[], None] = lambda: None) -> None:
        """``put_bytes`` of each (content, data, message, where) in order; an S3 store sends the
        objects in parallel first, then indexes them in order."""
        if isinstance(self.objects, FileObjects):
            for content, data, message, where in items:
                self.put_bytes(content, data, message, **where)
                after_each()
            return
        stored = self.objects.write_many([(c["object_id"], c["version"], d) for c, d, _, _ in items])
        for (content, data, message, where), existing in zip(items, stored):
            self._index(content, data, message, existing, where)
            after_each()

    def _index(self, content: dict, data: bytes, message: bytes, stored: bytes | None, where: dict) -> str:
        if stored is not None:
            if canonical(unsigned(json.loads(stored))) != message:
                raise differs(content)
            data = stored
        return self.index(content, sm3(data), where)

    def index(self, content: dict, digest: str, where: dict) -> str:
        """The index row of a stored snapshot whose bytes have SM3 ``digest``."""
        self.index_many([(content, digest, where)])
        return digest

    def index_many(self, items: list) -> None:
        """``index`` of each (content, digest, where), one statement for all (a sealing worker wrote
        the files: ``seal.process``)."""
        self.db.executemany("INSERT OR IGNORE INTO snapshots (object_id, version, type, operation, digest, business_tx,"
                            " block, log_index, step) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [(c["object_id"], c["version"], c["type"], c["operation"], digest, w["business_tx"],
                              w["block"], w["log_index"], w["step"]) for c, digest, w in items])

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
        return self.unanchored_after(0)[0]

    def unanchored_after(self, rowid: int) -> tuple[list[Row], int]:
        """The unanchored snapshots indexed after ``rowid`` (in order), and the rowid of the newest."""
        found = self.db.execute("SELECT rowid, * FROM snapshots WHERE anchor_tx IS NULL AND rowid > ? ORDER BY rowid",
                                (rowid,)).fetchall()
        return [Row(*r[1:]) for r in found], (found[-1][0] if found else rowid)

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
        try:
            return self._current[object_id]
        except KeyError:
            r = self.db.execute("SELECT version, fingerprint FROM current WHERE object_id = ?",
                                (object_id,)).fetchone()
            out = (r[0], r[1]) if r else None
            if not self.readonly:  # a reader (serve) follows a writer: no cache
                self._current[object_id] = out
            return out

    def set_current(self, object_id: str, version: int, fingerprint: str) -> None:
        """Within a transaction (``begin``): written at its ``commit``, read back from memory until then."""
        self._current[object_id] = self._dirty[object_id] = (version, fingerprint)

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
