"""What the operator commands `ape run ops` and `ape run audit` do; scripts/ops.py and
scripts/audit.py keep only their click trees (options, help, one call per command).

    session.py      one run of `ops`: its options, Confirming (describe, eth_call check, confirm,
                    send through regchain.writer, events decoded), result lines, the --json document
    accounts.py     investor accounts (opened with the migration's keyed identity), global roles
    securities.py   a security and its initial holdings (CSV), its status
    calendar.py     publishing and amending the trading calendar
    holdings.py     transfers, pledges, freezes, court-ordered transfers
    reads.py        show holder, cap table, history (the register rebuilt from events)
    business.py     every other business action: a command made from the suite's ABI
    audit.py        `audit`, `audit feed`, `audit html`: connect, run regchain.audit, report

The top floor of the package: it uses regchain.cli and the services below it (regchain.audit,
indexer, provision, writer, supervise.books); nothing below imports it.
"""
