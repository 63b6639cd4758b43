"""Who and what the chain's ids are, from the operator's books: the chain keeps token ids and
addresses, the operator's books keep codes, names and account numbers (never on chain).

    names = open_names(report="samples/demo-20261203-report.json")   # or books=... later
    found = names.names_for(securities=[1, 2], addresses=["0x..."])
    found.securities[1].code, found.securities[1].name
    found.accounts["0x..."].account_no, found.accounts["0x..."].name

``Names`` is the interface the console reads through. ``ReportNames`` answers from the
migration's report (token id -> code, address -> account number, as the export spec defines
it) and, when the export folder is at hand, the names in it (cleaned by regchain.legacy.clean,
as the migration read them). The operator's books database (regchain.supervise.books) is to
answer the same call; switching is a change of ``open_names`` only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Protocol


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


def open_names(report: Path | str | None = None, export: Path | str | None = None) -> Names:
    """The names the console shows: from the migration's report (and export) if given, else none."""
    if report is None:
        return NoNames()
    if export is None:
        # the migration's report sits beside its export folder: samples/demo-X-report.json and samples/demo-X
        guess = Path(str(report).removesuffix("-report.json"))
        export = guess if guess.is_dir() else None
    return ReportNames(report, export)
