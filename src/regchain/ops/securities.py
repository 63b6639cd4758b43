"""Securities and their initial registration (股权初始登记): `ops security register|status`."""

from __future__ import annotations

import csv
from pathlib import Path

import click

from regchain import calendar as cal
from regchain import cli as common
from regchain.constants import Kind, SecurityStatus
from regchain.ops.session import books, docref, done, run, say

HOLDINGS_PER_TX = 100  # rows of one register_holdings transaction


def read_holdings(path: Path, default_day: int, scale: int = 0) -> list[tuple]:
    """CSV with header: holder,units[,paid][,acquired (YYYY-MM-DD or day)][,lock_until][,insider];
    units and paid are decimals in the security's unit."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            try:
                units = common.amount_arg(row["units"], scale, "units")
                rows.append((common.address_arg(row["holder"].strip()), units,
                             common.amount_arg(row["paid"], scale, "paid") if row.get("paid") else units,
                             common.day_arg(row["acquired"]) if row.get("acquired") else default_day,
                             common.day_arg(row["lock_until"]) if row.get("lock_until") else 0,
                             (row.get("insider") or "").strip().lower() in ("1", "true", "yes", "y")))
            except (KeyError, ValueError, click.ClickException) as exc:
                raise click.ClickException(f"{path}:{n}: {common.one_line(exc)}") from None
    return rows


def register_security(session, code, kind, scale, total, holdings, seal, doc_text, books_path, name, issuer_uscc):
    """Register the security CODE (hashed as the migration hashes codes) with the holdings of
    the CSV `holdings`, and seal it unless told not to; every row is checked before connecting."""
    common.code_hash(code)
    if total is not None:
        common.amount_arg(total, scale, "--total")
    if holdings:
        read_holdings(holdings, 0, scale)  # every row checked before connecting
    book = books(books_path, name=name, issuer_uscc=issuer_uscc)

    def action(reg, who):
        today = int(reg.today())
        rows = read_holdings(holdings, today, scale) if holdings else []
        declared = common.amount_arg(total, scale, "--total") if total is not None else sum(r[1] for r in rows)
        if not declared:
            raise click.ClickException("give --total or --holdings")
        code_hash = common.code_hash(code)
        d = docref(doc_text, f"register {code}")
        reg.register_security(code_hash, int(Kind[kind.upper()]), scale, declared, d, sender=who)
        sid = int(reg.security_id(code_hash))
        if book is not None:
            book.add_security(code_hash, code, name, issuer_uscc, name, cal.date_of(today).isoformat())
        for i in range(0, len(rows), HOLDINGS_PER_TX):
            reg.register_holdings(sid, rows[i:i + HOLDINGS_PER_TX], d, sender=who)
        if seal and rows:
            reg.seal_security(sid, d, sender=who)
        say(f"security {code}: id {sid}, {kind.upper()}, {declared:,} units, {len(rows)} holdings"
            f"{', sealed' if seal and rows else ', pending'}")
    run(session, action)


def set_status(session, security, status, doc_text):
    """Suspend, reactivate (active) or delist SECURITY (its code, or #id)."""
    common.security_text(security)

    def action(reg, who):
        sid = common.security_arg(reg, security)
        done(reg.set_security_status(sid, int(SecurityStatus[status.upper()]),
                                     docref(doc_text, f"status {security} {status}"), sender=who),
             f"security {security}: {status}")
    run(session, action)
