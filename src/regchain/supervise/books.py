"""The operator's books (off chain, SQLite): what the chain keeps only as hashes.

Names, id numbers, security codes, account numbers, document numbers, courts and case numbers
never go on chain; the supervisory objects need them. The books map each hash the chain holds
to what it stands for:

- ``operator``: the market operator (交易场所 / 开户机构 / 登记机构): name, USCC, namespace;
- ``securities``: ``code_hash`` -> code, name, issuer USCC and name, registration date;
- ``holders``: identity hash -> holder name, type, id type and number (USCC of an institution);
- ``accounts``: wallet -> account number and identity;
- ``documents``: ``doc`` -> document number and title;
- ``cases``: ``case_hash`` -> court and case number.

Writers: the migration (from the export and its report, ``migration_books``) and the registrar's
ops commands. Every write is an upsert, so writing the same books twice changes nothing. A lookup
the generator needs and the books lack raises ``SuperviseError`` naming what is missing.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from regchain.supervise import SuperviseError

SCHEMA = """
CREATE TABLE IF NOT EXISTS operator (
    id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, uscc TEXT NOT NULL, namespace TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS securities (
    code_hash TEXT PRIMARY KEY, code TEXT NOT NULL, name TEXT NOT NULL, issuer_uscc TEXT NOT NULL,
    issuer_name TEXT NOT NULL, registered_on TEXT, short_name TEXT);
CREATE TABLE IF NOT EXISTS holders (
    identity TEXT PRIMARY KEY, name TEXT NOT NULL, holder_type TEXT NOT NULL, id_type TEXT NOT NULL,
    id_number TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
    wallet TEXT PRIMARY KEY, account_no TEXT NOT NULL, identity TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (doc TEXT PRIMARY KEY, file_number TEXT, title TEXT);
CREATE TABLE IF NOT EXISTS cases (case_hash TEXT PRIMARY KEY, court TEXT NOT NULL, case_no TEXT NOT NULL);
"""

HOLDER_TYPES = ("INDIVIDUAL", "INSTITUTION", "PRODUCT")


def _hex(value) -> str:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    return str(value).lower()


@dataclass(frozen=True)
class Operator:
    name: str
    uscc: str
    namespace: str


@dataclass(frozen=True)
class SecurityBook:
    code: str
    name: str
    issuer_uscc: str
    issuer_name: str
    registered_on: str | None
    short_name: str | None


@dataclass(frozen=True)
class Holder:
    name: str
    holder_type: str  # INDIVIDUAL / INSTITUTION / PRODUCT
    id_type: str      # RESIDENT_ID / USCC / PASSPORT / OTHER
    id_number: str


class Books:
    """The books in one SQLite file (created if missing)."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(self.path)
            self.db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise SuperviseError(f"books {self.path}: {exc}") from None
        self._cache: dict = {}

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------ writing (upserts)

    def set_operator(self, name: str, uscc: str, namespace: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO operator VALUES (1, ?, ?, ?)", (name, uscc, namespace))

    def add_security(self, code_hash, code: str, name: str, issuer_uscc: str, issuer_name: str | None = None,
                     registered_on: str | None = None, short_name: str | None = None) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO securities VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (_hex(code_hash), code, name, issuer_uscc, issuer_name or name, registered_on,
                             short_name))

    def add_holder(self, identity, name: str, holder_type: str, id_type: str, id_number: str) -> None:
        if holder_type not in HOLDER_TYPES:
            raise SuperviseError(f"books: holder type {holder_type!r} is not one of {', '.join(HOLDER_TYPES)}")
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO holders VALUES (?, ?, ?, ?, ?)",
                            (_hex(identity), name, holder_type, id_type, id_number))

    def add_account(self, wallet, account_no: str, identity) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?)",
                            (_hex(wallet), account_no, _hex(identity)))

    def add_document(self, doc, file_number: str | None, title: str | None = None) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO documents VALUES (?, ?, ?)", (_hex(doc), file_number, title))

    def add_case(self, case_hash, court: str, case_no: str) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO cases VALUES (?, ?, ?)", (_hex(case_hash), court, case_no))

    # ------------------------------------------------------------ lookups

    def _one(self, sql: str, key: str):
        ck = (sql, key)
        if ck not in self._cache:
            self._cache[ck] = self.db.execute(sql, (key,)).fetchone()
        return self._cache[ck]

    def operator(self) -> Operator:
        row = self.db.execute("SELECT name, uscc, namespace FROM operator").fetchone()
        if row is None:
            raise SuperviseError(f"books {self.path}: no operator (name, USCC, namespace) recorded")
        return Operator(*row)

    def security(self, code_hash) -> SecurityBook:
        row = self._one("SELECT code, name, issuer_uscc, issuer_name, registered_on, short_name "
                        "FROM securities WHERE code_hash = ?", _hex(code_hash))
        if row is None:
            raise SuperviseError(f"books: no security for code_hash {_hex(code_hash)}")
        return SecurityBook(*row)

    def holder(self, identity) -> Holder:
        row = self._one("SELECT name, holder_type, id_type, id_number FROM holders WHERE identity = ?",
                        _hex(identity))
        if row is None:
            raise SuperviseError(f"books: no holder for identity {_hex(identity)}")
        return Holder(*row)

    def account_no(self, wallet) -> str | None:
        row = self._one("SELECT account_no FROM accounts WHERE wallet = ?", _hex(wallet))
        return row[0] if row else None

    def document(self, doc) -> tuple[str | None, str | None]:
        """(file number, title) of a document hash; (None, None) if the books do not know it."""
        row = self._one("SELECT file_number, title FROM documents WHERE doc = ?", _hex(doc))
        return (row[0], row[1]) if row else (None, None)

    def case(self, case_hash) -> tuple[str, str]:
        """(court, case number) of a case hash."""
        row = self._one("SELECT court, case_no FROM cases WHERE case_hash = ?", _hex(case_hash))
        if row is None:
            raise SuperviseError(f"books: no court and case number for case_hash {_hex(case_hash)}")
        return row[0], row[1]

    def counts(self) -> dict:
        return {t: self.db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("securities", "holders", "accounts", "documents", "cases")}


# ---------------------------------------------------------------- written by the migration


def write_migration_books(books: Books, source, result, plan) -> dict:
    """The books of a migrated export: securities by ``code_hash``, holders by identity hash,
    accounts by address (merged account numbers map to the surviving one), courts and case
    numbers by ``case_hash``. ``result`` is the cleaned export (regchain.legacy.clean), ``plan``
    the migration's addresses and identities (regchain.migrate.Plan). Upserts in one transaction:
    a second run writes the same rows again and changes nothing."""
    from regchain import calendar as cal
    from regchain.legacy.reader import read_table
    from regchain.identities import case_hash, code_hash

    courts = {}
    freezes = read_table(Path(source) / "freezes.csv", "freezes")
    for row in freezes.rows:
        courts[row["freeze_no"].strip().upper()] = row["court"].strip()
    secs, holders, accounts, cases = [], [], [], {}
    for s in result.securities:
        secs.append((_hex(code_hash(s.code)), s.code, s.name, s.issuer_id, s.name,
                     cal.date_of(s.registered_day).isoformat(), None))
        for f in s.freezes:
            court = courts.get(f.freeze_no.strip().upper()) or "（法院未记载）"
            cases[_hex(case_hash(f.case_no))] = (court, f.case_no)
    for a in result.accounts:
        identity = _hex(plan.identity[a.account_no])
        holders.append((identity, a.name, a.holder_type.name, str(a.id_type), a.id_number))
        accounts.append((_hex(plan.address[a.account_no]), a.account_no, identity))
    with books.db:
        books.db.executemany("INSERT OR REPLACE INTO securities VALUES (?, ?, ?, ?, ?, ?, ?)", secs)
        books.db.executemany("INSERT OR REPLACE INTO holders VALUES (?, ?, ?, ?, ?)", holders)
        books.db.executemany("INSERT OR REPLACE INTO accounts VALUES (?, ?, ?)", accounts)
        books.db.executemany("INSERT OR REPLACE INTO cases VALUES (?, ?, ?)",
                             [(k, c, n) for k, (c, n) in cases.items()])
    books._cache.clear()
    return {"securities": len(secs), "holders": len(holders), "accounts": len(accounts), "cases": len(cases)}
