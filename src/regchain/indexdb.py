"""The indexer's database (a SQLite file by default, PostgreSQL given a ``postgresql://`` URL):
the register rebuilt from events (regchain.indexer), kept up to date incrementally, with the
history the console reads. Both databases run the same statements (Sqlite/Postgres below are
the only difference: placeholders, connections, transactions).

    db = IndexDb(Path(".cache/index.sqlite"))        # or IndexDb("postgresql://user:pw@host:5432/dbname")
    idx = SqlIndexer(rpc, register_address, abi_of_suite(), db=db, network_key="ethereum:devnet:20231")
    idx.sync()                  # applies the blocks after the checkpoint; call it again to follow

It is indexer.Indexer with its checkpoint in the database instead of a JSON file (the same
Decoder, Applier and State: nothing is decoded or applied twice in the code base), plus
two tables written in the same transaction as the checkpoint, so they never disagree:

- ``events``: every event (block, log index, tx, time, market day, name, the security it
  concerns, its document hash: the event's own or its transaction's, as the supervisory
  feed has it), one row each;
- ``holdings``: after each event that touched a holding, the holding as it then was
  (balance, paid-in, pledged, frozen, lock-up): the register of a past day is, per holder,
  the last row of that holding on or before that day.

The checkpoint is the ``checkpoint`` row (last block and its hash, the State's scalars) with
``state_records``: one row per record of the State's tables (an account, a security, a
holding, a pledge, ...). A write of the state writes only the records that the events applied
since the last write touched (``Tracked``), so following a province costs what its new blocks
change, not what the register holds.

A restart resumes from the checkpoint (and starts afresh if the chain is not the one the
checkpoint was written on, as the JSON checkpoint does). Nothing is replayed per request.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import fields
from pathlib import Path

from regchain import indexer
from regchain.indexer import Event, Indexer, State, hkey

# One schema and one set of statements for both databases: integers are BIGINT (SQLite takes the
# name), amounts TEXT (uint256), and rows are upserted with ON CONFLICT, which both understand.
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS checkpoint (
    network_key TEXT PRIMARY KEY, chain_id BIGINT, address TEXT, last_block BIGINT,
    last_block_hash TEXT, schema BIGINT, state TEXT)""",
    """CREATE TABLE IF NOT EXISTS events (
    network_key TEXT, block BIGINT, log_index BIGINT, tx TEXT, timestamp BIGINT, day BIGINT,
    name TEXT, category TEXT, sid BIGINT, doc TEXT, args TEXT,
    PRIMARY KEY (network_key, block, log_index))""",
    "CREATE INDEX IF NOT EXISTS events_sid ON events (network_key, sid, block)",
    """CREATE TABLE IF NOT EXISTS holdings (
    network_key TEXT, sid BIGINT, owner TEXT, block BIGINT, log_index BIGINT, day BIGINT,
    balance TEXT, paid TEXT, pledged TEXT, frozen TEXT, lock_until_day BIGINT,
    PRIMARY KEY (network_key, sid, owner, block, log_index))""",
    "CREATE INDEX IF NOT EXISTS holdings_day ON holdings (network_key, sid, day)",
    """CREATE TABLE IF NOT EXISTS state_records (
    network_key TEXT, part TEXT, item TEXT, record TEXT,
    PRIMARY KEY (network_key, part, item))""",
)
COLUMNS = {
    "checkpoint": (("network_key",), ("chain_id", "address", "last_block", "last_block_hash", "schema", "state")),
    "events": (("network_key", "block", "log_index"),
               ("tx", "timestamp", "day", "name", "category", "sid", "doc", "args")),
    "holdings": (("network_key", "sid", "owner", "block", "log_index"),
                 ("day", "balance", "paid", "pledged", "frozen", "lock_until_day")),
    "state_records": (("network_key", "part", "item"), ("record",)),
}

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class IndexDbError(indexer.IndexerError):
    """The database cannot be opened or written; the message is one line."""


def upsert(table: str) -> str:
    """INSERT of a whole row that replaces the row with the same key (SQLite >= 3.24 and PostgreSQL)."""
    key, rest = COLUMNS[table]
    cols = key + rest
    return (f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in rest))


def is_postgres(location) -> bool:
    return isinstance(location, str) and location.startswith(POSTGRES_SCHEMES)


def display(location) -> str:
    """The database as messages name it: a URL without its password."""
    if "://" not in str(location):
        return str(location)
    from urllib.parse import urlsplit, urlunsplit

    u = urlsplit(location)
    netloc = u.netloc
    if u.password is not None:
        user, host = netloc.rsplit("@", 1)
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    query = "&".join("password=***" if kv.lower().startswith("password=") else kv for kv in u.query.split("&")) \
        if u.query else u.query
    if (netloc, query) == (u.netloc, u.query):
        return location
    return urlunsplit(u._replace(netloc=netloc, query=query))


# The State's tables (dict fields: accounts, securities, holdings, pledges, ...), kept as rows of
# state_records; its other fields (last block, counters, the calendar's publications, notes) are
# the checkpoint row's ``state`` JSON.
TABLES = tuple(f.name for f in fields(State) if f.default_factory is dict)
# The checkpoint row's ``schema``: the State's schema, plus 100 when its tables are in state_records
# (a row with the bare State schema holds the whole State, as written before state_records; an
# older console reading a row of this format sees a schema it does not know and starts afresh).
RECORDS_SCHEMA = indexer.SCHEMA + 100


class Tracked(dict):
    """A table of the State that notes the keys it is asked for while ``tracking`` (the applier
    updates records in place after a lookup, so a lookup counts as a change: conservative,
    and proportional to the events applied). Iteration and ``in`` are not noted."""

    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.changed: set[str] = set()
        self.tracking = False

    def _note(self, key) -> None:
        if self.tracking:
            self.changed.add(key)

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def setdefault(self, key, default=None):
        self._note(key)
        return super().setdefault(key, default)

    def __setitem__(self, key, value):
        self._note(key)
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._note(key)
        super().__delitem__(key)

    def pop(self, key, *default):
        self._note(key)
        return super().pop(key, *default)

    def update(self, *args, **kw):
        new = dict(*args, **kw)
        for key in new:
            self._note(key)
        super().update(new)


def track(state: State, *, all_changed: bool = False) -> State:
    """Make the State's tables Tracked (every record counted as changed with ``all_changed``:
    a state that is not yet in state_records)."""
    for name in TABLES:
        table = Tracked(getattr(state, name))
        if all_changed:
            table.changed.update(table)
        setattr(state, name, table)
    return state


def tracking(state: State, on: bool) -> None:
    for name in TABLES:
        getattr(state, name).tracking = on


def scalars_json(state: State) -> str:
    """The checkpoint row's ``state``: the State without its tables (small, whatever the register's size)."""
    return json.dumps({f.name: getattr(state, f.name) for f in fields(State) if f.name not in TABLES},
                      ensure_ascii=False)


def changed_records(state: State) -> tuple[list[tuple], list[tuple]]:
    """((part, item, record JSON) to write, (part, item) to delete): the records changed since they
    were last written (all of a table that is not Tracked)."""
    put, drop = [], []
    for name in TABLES:
        table = getattr(state, name)
        # a copy (taken at once): a reader on another thread may look a record up meanwhile
        for key in (tuple(table.changed) if isinstance(table, Tracked) else tuple(table)):
            if not isinstance(key, str):  # a lookup that missed (the tables' keys are strings)
                continue
            if key in table:
                put.append((name, key, json.dumps(dict.__getitem__(table, key), ensure_ascii=False)))
            else:
                drop.append((name, key))
    return put, drop


def written(state: State, put: list[tuple], drop: list[tuple]) -> None:
    """After the transaction committed: those records are no longer changed."""
    for name, key, *_ in (*put, *drop):
        table = getattr(state, name)
        if isinstance(table, Tracked):
            table.changed.discard(key)


class Sqlite:
    """The dialect seam, SQLite side: a file, WAL (the follower writes while requests read)."""

    name = "sqlite"

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)

    def connect(self):
        c = sqlite3.connect(self.path, timeout=30)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")
        return c

    def alive(self, c) -> bool:
        return True

    def sql(self, text: str) -> str:
        return text

    def transaction(self, c):
        return c  # sqlite3: `with conn:` commits, or rolls back on an exception

    def create_schema(self, c) -> None:
        with c:
            for stmt in SCHEMA:
                c.execute(stmt)


class Postgres:
    """The dialect seam, PostgreSQL side (psycopg 3): %s placeholders, autocommit for reads and
    an explicit transaction per write, the schema created under an advisory lock (two processes
    starting on an empty database do not race)."""

    name = "postgresql"
    SCHEMA_LOCK = 0x7265_6763  # "regc"

    def __init__(self, url: str):
        self.url = url

    def connect(self):
        import psycopg

        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=10,
                                   application_name="regchain-indexer")
        except psycopg.Error as exc:
            first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
            raise IndexDbError(f"database {display(self.url)}: {first}") from None

    def alive(self, c) -> bool:
        return not (c.closed or c.broken)

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def transaction(self, c):
        return c.transaction()

    def create_schema(self, c) -> None:
        with c.transaction():
            c.execute("SELECT pg_advisory_xact_lock(%s)", (self.SCHEMA_LOCK,))
            for stmt in SCHEMA:
                c.execute(stmt)


class IndexDb:
    """The indexer's database: a SQLite file (a path) or PostgreSQL (a ``postgresql://`` URL, the
    database and its user created by the operator; the tables are created here). One connection
    per thread (the follower writes, requests read)."""

    def __init__(self, location: Path | str):
        if is_postgres(location):
            self.dialect = Postgres(location)
        elif "://" in str(location):
            raise IndexDbError(f"database {display(location)}: not a SQLite file path nor a postgresql:// URL")
            self.path = None
        else:
            self.path = Path(location)
            self.dialect = Sqlite(self.path)
        self.where = display(location)
        self._local = threading.local()
        self._all: list = []
        self._all_lock = threading.Lock()
        try:
            self.dialect.create_schema(self.conn())
        except IndexDbError:
            raise
        except Exception as exc:  # permissions, a file that is no database
            raise IndexDbError(f"database {self.where}: {str(exc).splitlines()[0] if str(exc) else exc!r}") \
                from None

    def conn(self):
        c = getattr(self._local, "conn", None)
        if c is None or not self.dialect.alive(c):
            c = self.dialect.connect()
            self._local.conn = c
            with self._all_lock:
                self._all.append(c)
        return c

    def run(self, work):
        """``work(connection)``, once more on a new connection if the server dropped this one
        (a PostgreSQL restart, a terminated backend): every write here is a whole transaction
        of upserts, so doing it again is safe."""
        c = self.conn()
        try:
            return work(c)
        except Exception:
            if self.dialect.alive(c):
                raise
        return work(self.conn())

    def query(self, sql: str, params: tuple | list = ()) -> list[tuple]:
        """Rows of a SELECT written with ``?`` placeholders (either database)."""
        return self.run(lambda c: c.execute(self.dialect.sql(sql), tuple(params)).fetchall())

    def close(self) -> None:
        """Close the connections of every thread (PostgreSQL's are the server's; SQLite's close
        on their own thread's exit)."""
        if self.dialect.name == "sqlite":
            return
        with self._all_lock:
            conns, self._all = self._all, []
        for c in conns:
            c.close()

    # ------------------------------------------------------------ checkpoint

    def load(self, network_key: str) -> dict | None:
        rows = self.query("SELECT chain_id, address, last_block, last_block_hash, schema, state FROM checkpoint "
                          "WHERE network_key = ?", (network_key,))
        if not rows:
            return None
        row = rows[0]
        return {"chain_id": row[0], "address": row[1], "last_block": row[2], "last_block_hash": row[3],
                "schema": row[4], "state": row[5]}

    def forget(self, network_key: str) -> None:
        def work(c):
            with self.dialect.transaction(c):
                for table in COLUMNS:
                    c.execute(self.dialect.sql(f"DELETE FROM {table} WHERE network_key = ?"), (network_key,))
        self.run(work)

    def write(self, network_key: str, state: State | None, events: list[dict], holdings: list[tuple]) -> None:
        """The rows of the events applied since the last write and, with ``state``, the checkpoint
        (its row and the records changed since it was last written), in one transaction. Rows are
        keyed by (block, log index): a resume from an older checkpoint writes the same rows again,
        so the state may be written less often than the rows."""
        sql = self.dialect.sql
        put, drop = changed_records(state) if state is not None else ([], [])

        def work(c):
            with self.dialect.transaction(c):
                cur = c.cursor()
                if state is not None:
                    cur.execute(sql(upsert("checkpoint")),
                                (network_key, state.chain_id, state.address, state.last_block, state.last_block_hash,
                                 RECORDS_SCHEMA, scalars_json(state)))
                    if put:
                        cur.executemany(sql(upsert("state_records")), [(network_key, *r) for r in put])
                    if drop:
                        cur.executemany(sql("DELETE FROM state_records WHERE network_key = ? AND part = ? AND item = ?"),
                                        [(network_key, *r) for r in drop])
                if events:
                    cur.executemany(sql(upsert("events")),
                                    [(network_key, e["block"], e["log_index"], e["tx"], e["timestamp"], e["day"],
                                      e["event"], e["category"], e["sid"], e["doc"],
                                      json.dumps(e["fields"], ensure_ascii=False)) for e in events])
                if holdings:
                    cur.executemany(sql(upsert("holdings")), [(network_key, *h) for h in holdings])
                cur.close()
        self.run(work)
        if state is not None:
            written(state, put, drop)

    def load_state(self, network_key: str, entry: dict) -> State:
        """The State of a checkpoint (``load``'s entry): its row's scalars and its records. A
        checkpoint written whole into the row (before state_records) is read as it is and all its
        records count as changed, so the next write moves them into state_records."""
        data = json.loads(entry["state"])
        if entry["schema"] != RECORDS_SCHEMA:
            return track(State.from_json(data), all_changed=True)
        tables: dict[str, dict] = {name: {} for name in TABLES}
        for part, item, record in self.query(
                "SELECT part, item, record FROM state_records WHERE network_key = ? ORDER BY part, item", (network_key,)):
            if part in tables:
                tables[part][item] = json.loads(record)
        return track(State.from_json({**data, **tables}))

    # ------------------------------------------------------------ reading

    def register_on(self, network_key: str, sid: int, day: int) -> list[dict]:
        """Each holder's holding of ``sid`` at the end of ``day`` (balance > 0), largest first."""
        rows = self.query(
            """SELECT owner, balance, paid, pledged, frozen, lock_until_day FROM (
                   SELECT holdings.*, ROW_NUMBER() OVER (PARTITION BY owner ORDER BY block DESC, log_index DESC) AS n
                   FROM holdings WHERE network_key = ? AND sid = ? AND day <= ?) AS latest WHERE n = 1""",
            (network_key, sid, day))
        out = [{"owner": r[0], "balance": int(r[1]), "paid": int(r[2]), "pledged": int(r[3]), "frozen": int(r[4]),
                "lock_until_day": r[5]} for r in rows if int(r[1]) > 0]
        return sorted(out, key=lambda h: (-h["balance"], h["owner"]))

    def holder_series(self, network_key: str, sid: int) -> list[tuple[int, int, int]]:
        """(day, holders, units held) at the end of each day a holding of ``sid`` changed."""
        balances: dict[str, int] = {}
        series: list[tuple[int, int, int]] = []
        holders = units = 0  # kept as the rows go (a recount per row was quadratic in the history)
        for owner, day, balance in self.query(
                "SELECT owner, day, balance FROM holdings WHERE network_key = ? AND sid = ? "
                "ORDER BY block, log_index", (network_key, sid)):
            new, old = int(balance), balances.get(owner, 0)
            balances[owner] = new
            holders += (new > 0) - (old > 0)
            units += new - old
            point = (day, holders, units)
            if series and series[-1][0] == day:
                series[-1] = point
            else:
                series.append(point)
        return series

    def events_of(self, network_key: str, sid: int | None = None, limit: int = 1000) -> list[dict]:
        """The events of a security (all events with ``sid`` None), newest first."""
        where, params = "network_key = ?", [network_key]
        if sid is not None:
            where += " AND sid = ?"
            params.append(sid)
        rows = self.query(
            f"SELECT block, log_index, tx, timestamp, day, name, category, sid, doc, args FROM events WHERE {where} "
            "ORDER BY block DESC, log_index DESC LIMIT ?", (*params, limit))
        return [{"block": r[0], "log_index": r[1], "tx": r[2], "timestamp": r[3], "day": r[4], "event": r[5],
                 "category": r[6], "sid": r[7], "doc": r[8], "fields": json.loads(r[9])} for r in rows]


def security_of(state: State, ev: Event) -> int | None:
    """The security an event concerns: its ``id``, or that of the pledge, freeze, instruction or
    listing it names; None for events of no one security (roles, accounts, calendar)."""
    a = ev.args
    if "id" in a:
        return int(a["id"])
    for arg, table in (("pledge_id", state.pledges), ("freeze_id", state.freezes),
                       ("instruction_id", state.instructions), ("listing_id", state.listings)):
        if arg in a:
            rec = table.get(str(a[arg]))
            return int(rec["id"]) if rec else None
    return None


def touched_holdings(state: State, ev: Event, sid: int | None) -> list[str]:
    """The holding keys ("owner|id") an event may have changed."""
    if sid is None:
        return []
    owners = {v for k, v in ev.args.items() if k != "actor" and isinstance(v, str) and len(v) == 42
              and v.startswith("0x")}
    for arg, table, field in (("pledge_id", state.pledges, "pledgor"), ("freeze_id", state.freezes, "owner"),
                              ("instruction_id", state.instructions, "seller"),
                              ("listing_id", state.listings, "seller")):
        rec = table.get(str(ev.args.get(arg))) if arg in ev.args else None
        if rec:
            owners.add(rec[field])
    return [hkey(o, sid) for o in sorted(owners) if hkey(o, sid) in state.holdings]


class SqlIndexer(Indexer):
    """indexer.Indexer with its checkpoint, the events and the holdings' history in an IndexDb.

    The rows of new events are written at every ``save``; the state (the checkpoint row and the
    records the events since its last write changed) at most every ``state_every_s`` seconds and
    on ``save(final=True)``: a restart resumes from the last state written and writes the same
    rows again."""

    def __init__(self, rpc, address: str, abi: list[dict], *, db: IndexDb, network_key: str,
                 state_every_s: float = 10.0, **kw):
        self.db = db
        self.state_every_s = state_every_s
        self._events: list[Event] = []
        self._meta: dict[tuple[int, int], tuple[int | None, int]] = {}
        self._holdings: list[tuple] = []
        self._state_saved_at: float | None = None
        super().__init__(rpc, address, abi, checkpoint=None, network_key=network_key, **kw)
        if not isinstance(self.state.holdings, Tracked):  # a fresh state
            track(self.state)
        # security id -> owners with a holding record (the register of one security without a scan)
        self.owners: dict[int, set[str]] = {}
        for key in self.state.holdings:
            owner, sid = key.split("|")
            self.owners.setdefault(int(sid), set()).add(owner)

    def _load(self) -> State | None:
        entry = self.db.load(self.network_key)
        if entry is None:
            return None
        why = None
        if entry["schema"] not in (RECORDS_SCHEMA, indexer.SCHEMA):
            why = "was written by another version of the indexer"
        elif entry["chain_id"] != self.chain_id or (entry["address"] or "").lower() != self.address.lower():
            why = f"is for chain {entry['chain_id']} / {entry['address']}"
        elif entry["last_block"] >= 0:
            block = self.rpc.call("eth_getBlockByNumber", [hex(entry["last_block"]), False])
            if not block or block.get("hash") != entry["last_block_hash"]:
                why = f"block {entry['last_block']} is not on this chain any more (reset or reorg)"
        if why:
            if self.echo:
                self.echo(f"index {self.db.where} [{self.network_key}] {why}: starting afresh")
            self.db.forget(self.network_key)
            return None
        return self.db.load_state(self.network_key, entry)

    def holders_of(self, sid: int) -> list[tuple[str, dict]]:
        """As State.holders_of, from the owners' index."""
        out = []
        for owner in self.owners.get(int(sid), ()):
            h = self.state.holdings.get(hkey(owner, sid))
            if h and h["balance"] > 0:
                out.append((owner, h))
        return sorted(out, key=lambda kv: (-kv[1]["balance"], kv[0]))

    def _record(self, ev: Event) -> None:
        """After each event (the state is just after it): its security and the holdings it touched."""
        s = self.state
        sid = security_of(s, ev)
        day = s.day_of(ev.timestamp) if ev.timestamp is not None else None
        self._events.append(ev)
        self._meta[(ev.block, ev.log_index)] = (sid, day)
        for key in touched_holdings(s, ev, sid):
            h = s.holdings[key]
            owner = key.split("|")[0]
            self.owners.setdefault(sid, set()).add(owner)
            self._holdings.append((sid, owner, ev.block, ev.log_index, day, str(h["balance"]),
                                   str(s.paid_view(owner, sid)), str(s.pledged(key)), str(s.frozen(key, day)),
                                   h["lock_until_day"]))

    def sync(self, to_block: int | None = None, on_event=None, on_holding=None,
             stop_after_chunks: int | None = None) -> State:
        def both(ev):
            self._record(ev)
            if on_event:
                on_event(ev)
        tracking(self.state, True)  # what the applier looks up is what the next state write writes
        try:
            return super().sync(to_block, on_event=both, on_holding=on_holding, stop_after_chunks=stop_after_chunks)
        finally:
            tracking(self.state, False)

    def save(self, final: bool = False) -> None:
        import time

        now = time.monotonic()
        write_state = final or self._state_saved_at is None or now - self._state_saved_at >= self.state_every_s
        if write_state and self.state.last_block >= 0 and self.state.last_block_hash is None:
            block = self.rpc.call("eth_getBlockByNumber", [hex(self.state.last_block), False])
            self.state.last_block_hash = block["hash"] if block else None
        rows = []
        for line in indexer.feed_lines(self._events):
            if line["leg"] != "event":
                continue
            sid, day = self._meta[(line["block"], line["log_index"])]
            rows.append({**line, "sid": sid, "day": day})
        self.db.write(self.network_key, self.state if write_state else None, rows, self._holdings)
        if write_state:
            self._state_saved_at = now
        self._events, self._meta, self._holdings = [], {}, []
