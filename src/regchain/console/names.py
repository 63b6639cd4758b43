"""Who and what the chain's ids are, from the operator's books: the chain keeps token ids and
addresses, the operator's books keep codes, names and account numbers (never on chain).

    names = open_names(report="samples/demo-20261203-report.json")
    names = open_names(books="books.sqlite", code_hashes=lambda: {1: "0x…"})  # the operator's books
    found = names.names_for(securities=[1, 2], addresses=["0x..."])
    found.securities[1].code, found.securities[1].name
    found.accounts["0x..."].account_no, found.accounts["0x..."].name

``Names`` is the interface the console reads through. ``ReportNames`` answers from the
migration's report (token id -> code, address -> account number, as the export spec defines
it) and, when the export folder is at hand, the names in it (cleaned by regchain.legacy.clean,
as the migration read them). The operator's books database (regchain.supervise.books) is to
answer the same call: ``BooksNames``, which also knows what `ops` recorded after the
migration (accounts opened and securities registered with ``--books``). Given both, the books
answer first and the report fills in what they do not know.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Protocol


@dataclass(frozen=True)
class SecurityName:
    code: str
    name: str = ""


@dataclass(frozen=True)
class AccountName:
    account_no: str
    name: str = ""


@dataclass
class Found:
    securities: dict[int, SecurityName] = field(default_factory=dict)
    accounts: dict[str, AccountName] = field(default_factory=dict)  # checksummed address -> entry


class Names(Protocol):
    def names_for(self, *, securities: Iterable[int] = (), addresses: Iterable[str] = ()) -> Found:
        """What the books know of these token ids and addresses (unknown ones are left out)."""

    def find_securities(self, text: str) -> set[int]:
        """Token ids whose code or name contains ``text`` (case-insensitive)."""

    def find_accounts(self, text: str) -> set[str]:
        """Addresses whose account number or name contains ``text``."""


class NoNames:
    """No books: every id is shown as the chain has it."""

    def names_for(self, *, securities=(), addresses=()) -> Found:
        return Found()

    def find_securities(self, text: str) -> set[int]:
        return set()

    def find_accounts(self, text: str) -> set[str]:
        return set()


class ReportNames:
    """Codes and account numbers from the migration's report; names from its export folder."""

    def __init__(self, report: Path | str, export: Path | str | None = None):
        from eth_utils import to_checksum_address

        data = json.loads(Path(report).read_text(encoding="utf-8"))
        names_of_codes: dict[str, str] = {}
        names_of_accounts: dict[str, str] = {}
        if export is not None:
            from regchain.legacy.clean import clean_folder

            result = clean_folder(export)
            names_of_codes = {s.code: s.name for s in result.securities}
            names_of_accounts = {a.account_no: a.name for a in result.accounts}
        self.securities: dict[int, SecurityName] = {}
        for code, entry in data.get("securities", {}).items():
            if entry.get("token_id"):
                self.securities[int(entry["token_id"])] = SecurityName(code, names_of_codes.get(code, ""))
        self.accounts: dict[str, AccountName] = {}
        # the account a merged one went into is the holder's number; merged numbers are not shown
        for no, entry in sorted(data.get("accounts", {}).items(), key=lambda kv: kv[1].get("status") != "MIGRATED"):
            address = entry.get("address")
            if address and entry.get("status") == "MIGRATED":
                self.accounts.setdefault(to_checksum_address(address), AccountName(no, names_of_accounts.get(no, "")))

    def names_for(self, *, securities=(), addresses=()) -> Found:
        return Found({int(s): self.securities[int(s)] for s in securities if int(s) in self.securities},
                     {a: self.accounts[a] for a in addresses if a in self.accounts})

    def find_securities(self, text: str) -> set[int]:
        t = text.strip().lower()
        return {sid for sid, s in self.securities.items() if t in s.code.lower() or t in s.name.lower()}

    def find_accounts(self, text: str) -> set[str]:
        t = text.strip().lower()
        return {a for a, n in self.accounts.items() if t in n.account_no.lower() or (n.name and t in n.name.lower())}


def open_names(report: Path | str | None = None, export: Path | str | None = None, *,
               books: Path | str | None = None, code_hashes: Callable[[], dict[int, str]] | None = None) -> Names:
    """The names the console shows: from the operator's books (``books``, with ``code_hashes``)
    and/or the migration's report (and export); none if neither is given."""
    sources = []
    if books is not None:
        if code_hashes is None:
            raise ValueError("books need code_hashes (token id -> code hash)")
        sources.append(BooksNames(books, code_hashes))
    if report is not None:
        if export is None:
            # the migration's report sits beside its export folder: samples/demo-X-report.json and samples/demo-X
            guess = Path(str(report).removesuffix("-report.json"))
            export = guess if guess.is_dir() else None
        sources.append(ReportNames(report, export))
    if not sources:
        return NoNames()
    return sources[0] if len(sources) == 1 else LayeredNames(*sources)


class BooksNames:
    """Codes, names and account numbers from the operator's books (regchain.supervise.books,
    written by ``migrate --books`` and by ``ops ... --books``), read afresh on every call so
    what the back office records today shows at once. The chain knows a security only by its
    token id and code hash: ``code_hashes()`` gives {token id: code hash (0x-hex)}, from the
    SecurityRegistered events the console's indexer holds."""

    def __init__(self, books: Path | str, code_hashes: Callable[[], dict[int, str]]):
        self.path = Path(books)
        if not self.path.is_file():
            raise FileNotFoundError(f"books {self.path}: no such file")
        self.code_hashes = code_hashes

    def _rows(self, sql: str, params=()) -> list[tuple]:
        import sqlite3

        db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)  # one per call: pages run on threads
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()

    def _accounts(self, where: str, params) -> dict[str, AccountName]:
        from eth_utils import to_checksum_address

        rows = self._rows("SELECT a.wallet, a.account_no, COALESCE(h.name, '') FROM accounts a "
                          f"LEFT JOIN holders h ON h.identity = a.identity WHERE {where}", params)
        return {to_checksum_address(w): AccountName(no, name) for w, no, name in rows if len(w) == 42}

    def names_for(self, *, securities=(), addresses=()) -> Found:
        found = Found()
        wanted = [int(s) for s in securities]
        if wanted:
            hashes = self.code_hashes()
            by_hash = {hashes[s].lower(): s for s in wanted if s in hashes}
            for h, code, name in self._rows(
                    f"SELECT code_hash, code, name FROM securities WHERE code_hash IN ({','.join('?' * len(by_hash))})",
                    list(by_hash)) if by_hash else []:
                found.securities[by_hash[h]] = SecurityName(code, name)
        addresses = list(addresses)
        if addresses:
            found.accounts = self._accounts(f"a.wallet IN ({','.join('?' * len(addresses))})",
                                            [a.lower() for a in addresses])
        return found

    def find_securities(self, text: str) -> set[int]:
        t = f"%{text.strip().lower()}%"
        matched = {h for (h,) in self._rows(
            "SELECT code_hash FROM securities WHERE lower(code) LIKE ? OR lower(name) LIKE ?", (t, t))}
        return {sid for sid, h in self.code_hashes().items() if h.lower() in matched}

    def find_accounts(self, text: str) -> set[str]:
        t = f"%{text.strip().lower()}%"
        return set(self._accounts("lower(a.account_no) LIKE ? OR lower(h.name) LIKE ?", (t, t)))


class LayeredNames:
    """The first source that knows an id answers; searches are the union."""

    def __init__(self, *sources):
        self.sources = sources

    def names_for(self, *, securities=(), addresses=()) -> Found:
        securities, addresses = list(securities), list(addresses)
        found = Found()
        for source in reversed(self.sources):
            part = source.names_for(securities=securities, addresses=addresses)
            found.securities.update(part.securities)
            found.accounts.update(part.accounts)
        return found

    def find_securities(self, text: str) -> set[int]:
        return set().union(*(s.find_securities(text) for s in self.sources))

    def find_accounts(self, text: str) -> set[str]:
        return set().union(*(s.find_accounts(text) for s in self.sources))
