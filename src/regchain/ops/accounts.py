"""Investor accounts (基础账户管理) and global roles: `ops account ...`, `ops role ...`."""

from __future__ import annotations

import click

from regchain import cli as common
from regchain.constants import InvestorClass, Role
from regchain.ops.session import books, docref, done, run


def open_account(session, address, id_type, id_number, identity, klass, qualified, doc_text, books_path, name,
                 account_no):
    """Open an investor account; its identity is the migration's keyed hash of the id, never a
    bare hash. With --books the names go to the operator's books once the chain accepted."""
    address = common.address_arg(address)
    ident = common.identity_arg(id_type, id_number, identity)
    book = books(books_path, name=name, id_type=id_type, id_number=id_number)

    def action(reg, who):
        done(reg.open_account(address, ident, int(InvestorClass[klass.upper()]), qualified,
                              docref(doc_text, f"open {address}"), sender=who), f"account {address} opened")
        if book is not None:
            book.add_holder(ident, name, klass.upper(), id_type.upper(), id_number)
            book.add_account(address, account_no or address, ident)
    run(session, action)


STATUS_FUNCTIONS = {"suspend": "suspend_account", "reactivate": "reactivate_account", "close": "close_account"}


def set_status(session, name, address, doc_text):
    """suspend, reactivate or close the account at ADDRESS."""
    address = common.address_arg(address)
    fn = STATUS_FUNCTIONS[name]
    run(session, lambda reg, who: done(getattr(reg, fn)(address, docref(doc_text, f"{name} {address}"), sender=who),
                                       f"account {address}: {name}"))


def qualify(session, address, qualified, doc_text):
    address = common.address_arg(address)
    run(session, lambda reg, who: done(reg.set_qualified(address, qualified, docref(doc_text, f"qualify {address}"),
                                                         sender=who), f"account {address}: qualified={qualified}"))


def role_flags(text: str) -> int:
    """Global roles by name, comma-separated (REGISTRAR, COURT_AGENT, ...), as flags."""
    flags = 0
    for name in text.upper().replace("|", ",").split(","):
        try:
            flags |= int(Role[name.strip()])
        except KeyError:
            raise click.ClickException(f"unknown role {name!r}; one of {', '.join(r.name for r in Role)}") from None
    return flags


ROLE_CHANGES = {"grant": ("grant_role", "granted"), "revoke": ("revoke_role", "revoked")}


def change_roles(session, verb, address, roles, doc_text):
    """grant or revoke the global ROLES of ADDRESS."""
    address = common.address_arg(address)
    flags = role_flags(roles)
    d = docref(doc_text, f"{verb} {roles} {address}")
    fn, past = ROLE_CHANGES[verb]
    run(session, lambda reg, who: done(getattr(reg, fn)(address, flags, d, sender=who), f"{address}: {past} {roles}"))
