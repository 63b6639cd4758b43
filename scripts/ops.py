"""Run the register day to day: `ape run ops <group> <action> ...`.

    ape run ops [--network NET] [--register 0x..] --account ACC <command> ...

    account open|suspend|reactivate|close|qualify   investor accounts (registrar)
    security register CODE --kind jsc --total N [--holdings FILE.csv] [--seal]
    calendar publish [--ahead-days N]               weekdays after the published horizon
    transfer RECEIVER ID AMOUNT                     checked with can_transfer first
    pledge offer|accept|release|enforce ...
    freeze add|lift|renew ...;  court-transfer FREEZE_ID RECEIVER UNITS
    role grant|revoke ADDRESS ROLE[,ROLE]
    show holder ADDRESS | show cap-table ID [--csv FILE] | show history OWNER ID

--account is a keyfile alias (passphrase from REGCHAIN_PASSPHRASE, or prompted), test:N,
or the address of an unlocked test account. Document references (--doc) are hashed text or
a 0x 32-byte hash. A refused action prints the contract's reason in one line and exits 1.
Reads (show ...) come from the register rebuilt from events (regchain.indexer).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import click
from eth_utils import keccak

from regchain import calendar as cal
from regchain import cli as common
from regchain import indexer
from regchain.constants import InvestorClass, Kind, Role, SecurityStatus
from regchain.setup import ensure_calendar


class Ctx:
    def __init__(self, network, register_address, account):
        self.network, self.register_address, self.account = network, register_address, account


def run(ctx: Ctx, action, needs_signer: bool = True):
    """Connect, call action(register, signer); a revert becomes one line and exit 1."""
    try:
        with common.connected(ctx.network):
            reg = common.register(ctx.register_address)
            who = common.signer(ctx.account) if needs_signer else None
            return action(reg, who)
    except click.ClickException:
        raise
    except Exception as exc:
        if os.environ.get("REGCHAIN_DEBUG"):
            raise
        raise click.ClickException(f"refused: {common.one_line(exc)}"
                                   if getattr(exc, "revert_message", None) else common.one_line(exc)) from None


def done(receipt, what: str):
    click.echo(f"{what} (tx {receipt.txn_hash}, block {receipt.block_number})")


doc_opt = click.option("--doc", "doc_text", default=None, help="Business document: text (hashed) or a 0x hash.")


def docref(text, default):
    return common.doc_ref(text if text is not None else default)


@click.group()
@click.option("--network", default=None, help=f"ape network choice (default {common.DEFAULT_NETWORK}).")
@click.option("--register", "register_address", default=None, help="Register address (default: the record).")
@click.option("--account", default=None, help="Signer: keyfile alias, test:N or a test account's address.")
@click.pass_context
def cli(ctx, network, register_address, account):
    ctx.obj = Ctx(network, register_address, account)


# ---------------------------------------------------------------- accounts


@cli.group()
def account():
    """Investor accounts (基础账户管理)."""


books_opt = click.option("--books", "books_path", default=None, type=click.Path(dir_okay=False),
                         help="Also record the names in the operator's books (SQLite) once the chain accepted.")


def _books(books_path, **required):
    """The operator's books, if --books is given (then every named option is required)."""
    if books_path is None:
        return None
    missing = [f"--{k.replace('_', '-')}" for k, v in required.items() if not v]
    if missing:
        raise click.ClickException(f"--books needs {', '.join(missing)}")
    from regchain.supervise.books import Books

    return Books(books_path)


@account.command("open")
@click.argument("address")
@click.option("--identity", required=True, help="The salted identity hash (0x..) or text to hash.")
@click.option("--class", "klass", type=click.Choice([c.name.lower() for c in InvestorClass]), default="individual")
@click.option("--qualified/--not-qualified", default=True)
@doc_opt
@books_opt
@click.option("--name", default=None, help="Holder name (books only, never on chain).")
@click.option("--id-type", default="RESIDENT_ID", show_default=True, help="RESIDENT_ID, USCC, PASSPORT or OTHER (books).")
@click.option("--id-number", default=None, help="Id number (books only).")
@click.option("--account-no", default=None, help="The operator's account number (books; default: the address).")
@click.pass_obj
def account_open(obj, address, identity, klass, qualified, doc_text, books_path, name, id_type, id_number,
                 account_no):
    address = common.address_arg(address)
    books = _books(books_path, name=name, id_number=id_number)
    ident = common.doc_ref(identity)

    def action(reg, who):
        done(reg.open_account(address, ident, int(InvestorClass[klass.upper()]), qualified,
                              docref(doc_text, f"open {address}"), sender=who), f"account {address} opened")
        if books is not None:
            books.add_holder(ident, name, klass.upper(), id_type.upper(), id_number)
            books.add_account(address, account_no or address, ident)
    run(obj, action)


def _status_command(name, fn):
    @account.command(name)
    @click.argument("address")
    @doc_opt
    @click.pass_obj
    def cmd(obj, address, doc_text):
        address = common.address_arg(address)
        run(obj, lambda reg, who: done(getattr(reg, fn)(address, docref(doc_text, f"{name} {address}"), sender=who),
                                       f"account {address}: {name}"))
    cmd.__doc__ = f"{name.capitalize()} an account."
    return cmd


_status_command("suspend", "suspend_account")
_status_command("reactivate", "reactivate_account")
_status_command("close", "close_account")


@account.command("qualify")
@click.argument("address")
@click.option("--qualified/--not-qualified", default=True)
@doc_opt
@click.pass_obj
def account_qualify(obj, address, qualified, doc_text):
    address = common.address_arg(address)
    run(obj, lambda reg, who: done(reg.set_qualified(address, qualified, docref(doc_text, f"qualify {address}"),
                                                     sender=who), f"account {address}: qualified={qualified}"))


# ---------------------------------------------------------------- securities, calendar


@cli.group()
def security():
    """Securities and initial registration (股权初始登记)."""


def read_holdings(path: Path, default_day: int) -> list[tuple]:
    """CSV with header: holder,units[,paid][,acquired (YYYY-MM-DD or day)][,lock_until][,insider]."""
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            try:
                units = int(row["units"])
                rows.append((common.address_arg(row["holder"].strip()), units,
                             int(row.get("paid") or units),
                             common.day_arg(row["acquired"]) if row.get("acquired") else default_day,
                             common.day_arg(row["lock_until"]) if row.get("lock_until") else 0,
                             (row.get("insider") or "").strip().lower() in ("1", "true", "yes", "y")))
            except (KeyError, ValueError, click.ClickException) as exc:
                raise click.ClickException(f"{path}:{n}: {common.one_line(exc)}") from None
    return rows


@security.command("register")
@click.argument("code")
@click.option("--kind", type=click.Choice([k.name.lower() for k in Kind]), required=True)
@click.option("--scale", default=0, show_default=True, help="Decimals of one unit.")
@click.option("--total", type=int, default=None, help="Declared total (default: the sum of --holdings).")
@click.option("--holdings", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CSV: holder,units[,paid][,acquired][,lock_until][,insider]")
@click.option("--seal/--no-seal", default=True, help="Seal after writing the holdings.")
@doc_opt
@books_opt
@click.option("--name", default=None, help="Issuer or fund name (books only).")
@click.option("--issuer-uscc", default=None, help="The issuer's unified social credit code (books only).")
@click.pass_obj
def security_register(obj, code, kind, scale, total, holdings, seal, doc_text, books_path, name, issuer_uscc):
    books = _books(books_path, name=name, issuer_uscc=issuer_uscc)

    def action(reg, who):
        today = int(reg.today())
        rows = read_holdings(holdings, today) if holdings else []
        declared = total if total is not None else sum(r[1] for r in rows)
        if not declared:
            raise click.ClickException("give --total or --holdings")
        code_hash = keccak(text=f"security:{code}")
        d = docref(doc_text, f"register {code}")
        reg.register_security(code_hash, int(Kind[kind.upper()]), scale, declared, d, sender=who)
        sid = int(reg.security_id(code_hash))
        if books is not None:
            books.add_security(code_hash, code, name, issuer_uscc, name, cal.date_of(today).isoformat())
        for i in range(0, len(rows), 100):
            reg.register_holdings(sid, rows[i:i + 100], d, sender=who)
        if seal and rows:
            reg.seal_security(sid, d, sender=who)
        click.echo(f"security {code}: id {sid}, {kind.upper()}, {declared:,} units, {len(rows)} holdings"
                   f"{', sealed' if seal and rows else ', pending'}")
    run(obj, action)


@security.command("status")
@click.argument("sid", type=int)
@click.argument("status", type=click.Choice(["active", "suspended", "delisted"]))
@doc_opt
@click.pass_obj
def security_status(obj, sid, status, doc_text):
    run(obj, lambda reg, who: done(reg.set_security_status(sid, int(SecurityStatus[status.upper()]),
                                                           docref(doc_text, f"status {sid} {status}"), sender=who),
                                   f"security {sid}: {status}"))


@cli.group()
def calendar():
    """The trading calendar."""


@calendar.command("publish")
@click.option("--ahead-days", default=366, show_default=True)
@click.pass_obj
def calendar_publish(obj, ahead_days):
    """Publish weekdays from the day after the horizon to today + N days."""
    run(obj, lambda reg, who: ensure_calendar(reg, who, ahead_days=ahead_days, echo=click.echo))


# ---------------------------------------------------------------- transfers


@cli.command()
@click.argument("receiver")
@click.argument("sid", type=int)
@click.argument("amount", type=int)
@click.pass_obj
def transfer(obj, receiver, sid, amount):
    """Transfer AMOUNT of security SID from the signer to RECEIVER (checked first)."""
    receiver = common.address_arg(receiver)

    def action(reg, who):
        ok, reason = reg.can_transfer(who.address, receiver, sid, amount)
        if not ok:
            raise click.ClickException(f"refused: {reason}")
        done(reg.transfer(receiver, sid, amount, sender=who), f"transferred {amount:,} of {sid} to {receiver}")
    run(obj, action)


# ---------------------------------------------------------------- pledges


@cli.group()
def pledge():
    """Pledges (股权质押)."""


@pledge.command("offer")
@click.argument("sid", type=int)
@click.argument("pledgee")
@click.argument("units", type=int)
@doc_opt
@click.pass_obj
def pledge_offer(obj, sid, pledgee, units, doc_text):
    pledgee = common.address_arg(pledgee)

    def action(reg, who):
        r = reg.offer_pledge(sid, pledgee, units, docref(doc_text, f"pledge {sid} {pledgee}"), sender=who)
        done(r, f"pledge {int(reg.pledge_count())} offered: {units:,} of {sid} to {pledgee}")
    run(obj, action)


@pledge.command("accept")
@click.argument("pledge_id", type=int)
@doc_opt
@click.pass_obj
def pledge_accept(obj, pledge_id, doc_text):
    run(obj, lambda reg, who: done(reg.accept_pledge(pledge_id, docref(doc_text, f"accept {pledge_id}"), sender=who),
                                   f"pledge {pledge_id} accepted"))


@pledge.command("release")
@click.argument("pledge_id", type=int)
@click.argument("units", type=int)
@doc_opt
@click.pass_obj
def pledge_release(obj, pledge_id, units, doc_text):
    run(obj, lambda reg, who: done(reg.release_pledge(pledge_id, units, docref(doc_text, f"release {pledge_id}"),
                                                      sender=who), f"pledge {pledge_id}: released {units:,}"))


@pledge.command("enforce")
@click.argument("pledge_id", type=int)
@click.argument("receiver")
@click.argument("units", type=int)
@doc_opt
@click.pass_obj
def pledge_enforce(obj, pledge_id, receiver, units, doc_text):
    receiver = common.address_arg(receiver)
    run(obj, lambda reg, who: done(reg.enforce_pledge(pledge_id, receiver, units,
                                                      docref(doc_text, f"enforce {pledge_id}"), sender=who),
                                   f"pledge {pledge_id}: {units:,} enforced to {receiver}"))


# ---------------------------------------------------------------- freezes


@cli.group()
def freeze():
    """Judicial freezes (司法冻结, 轮候冻结)."""


@freeze.command("add")
@click.argument("owner")
@click.argument("sid", type=int)
@click.argument("units", type=int)
@click.option("--case", "case_no", required=True, help="Case number (stored only as a hash).")
@click.option("--expiry", required=True, help="Last day it holds: YYYY-MM-DD or a day number.")
@doc_opt
@click.pass_obj
def freeze_add(obj, owner, sid, units, case_no, expiry, doc_text):
    owner = common.address_arg(owner)

    def action(reg, who):
        r = reg.freeze(owner, sid, units, keccak(text=f"case:{case_no}"), common.day_arg(expiry),
                       docref(doc_text, f"freeze {case_no}"), sender=who)
        fid = int(reg.freeze_count())
        ids, flags = reg.freeze_queue_of(owner, sid)
        state = "in force" if dict(zip(ids, flags)).get(fid) else "waiting (轮候)"
        done(r, f"freeze {fid}: {units:,} of {sid} held by {owner}, {state}")
    run(obj, action)


@freeze.command("lift")
@click.argument("freeze_id", type=int)
@doc_opt
@click.pass_obj
def freeze_lift(obj, freeze_id, doc_text):
    run(obj, lambda reg, who: done(reg.lift_freeze(freeze_id, docref(doc_text, f"lift {freeze_id}"), sender=who),
                                   f"freeze {freeze_id} lifted"))


@freeze.command("renew")
@click.argument("freeze_id", type=int)
@click.argument("expiry")
@doc_opt
@click.pass_obj
def freeze_renew(obj, freeze_id, expiry, doc_text):
    run(obj, lambda reg, who: done(reg.renew_freeze(freeze_id, common.day_arg(expiry),
                                                    docref(doc_text, f"renew {freeze_id}"), sender=who),
                                   f"freeze {freeze_id} renewed to {expiry}"))


@cli.command("court-transfer")
@click.argument("freeze_id", type=int)
@click.argument("receiver")
@click.argument("units", type=int)
@doc_opt
@click.pass_obj
def court_transfer(obj, freeze_id, receiver, units, doc_text):
    """Court-ordered transfer of units held by a freeze in force."""
    receiver = common.address_arg(receiver)
    run(obj, lambda reg, who: done(reg.court_transfer(freeze_id, receiver, units,
                                                      docref(doc_text, f"court order {freeze_id}"), sender=who),
                                   f"freeze {freeze_id}: {units:,} moved to {receiver}"))


# ---------------------------------------------------------------- roles


@cli.group()
def role():
    """Global roles (governance only)."""


def _roles(text: str) -> int:
    flags = 0
    for name in text.upper().replace("|", ",").split(","):
        try:
            flags |= int(Role[name.strip()])
        except KeyError:
            raise click.ClickException(f"unknown role {name!r}; one of {', '.join(r.name for r in Role)}") from None
    return flags


@role.command("grant")
@click.argument("address")
@click.argument("roles")
@click.pass_obj
def role_grant(obj, address, roles):
    address = common.address_arg(address)
    run(obj, lambda reg, who: done(reg.grant_role(address, _roles(roles), sender=who), f"{address}: granted {roles}"))


@role.command("revoke")
@click.argument("address")
@click.argument("roles")
@click.pass_obj
def role_revoke(obj, address, roles):
    address = common.address_arg(address)
    run(obj, lambda reg, who: done(reg.revoke_role(address, _roles(roles), sender=who), f"{address}: revoked {roles}"))


# ---------------------------------------------------------------- reads (from the indexer)


@cli.group()
def show():
    """Reads, from the register rebuilt from events."""


def _state(reg):
    return common.make_indexer(reg.address, None).sync()


@show.command("holder")
@click.argument("address")
@click.pass_obj
def show_holder(obj, address):
    address = common.address_arg(address)

    def action(reg, _):
        s = _state(reg)
        today = int(reg.today())
        acc = s.accounts.get(address)
        if acc is None:
            click.echo(f"{address}: no account")
        else:
            click.echo(f"{address}: {['unopened', 'active', 'suspended', 'closed'][acc['status']]}, "
                       f"{InvestorClass(acc['investor_class']).name.lower()}, "
                       f"{'qualified' if acc['qualified'] else 'not qualified'}, identity {acc['identity'][:18]}…")
        for k, h in sorted(s.holdings.items()):
            owner, sid = k.split("|")
            if owner != address or not h["balance"]:
                continue
            pledged, frozen = s.pledged(k), s.frozen(k, today)
            click.echo(f"  security {sid:>4}: {h['balance']:>14,} units, pledged {pledged:,}, frozen {frozen:,}, "
                       f"free {h['balance'] - pledged - frozen:,}"
                       + (f", locked until {cal.date_of(h['lock_until_day'])}" if h["lock_until_day"] > today else "")
                       + (", insider" if h["insider"] else ""))
    run(obj, action, needs_signer=False)


@show.command("cap-table")
@click.argument("sid", type=int)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the cap table to this CSV file.")
@click.pass_obj
def show_cap_table(obj, sid, csv_path):
    def action(reg, _):
        s = _state(reg)
        sec = s.securities.get(str(sid))
        if sec is None:
            raise click.ClickException(f"no security {sid}")
        today = int(reg.today())
        supply = sec["total_supply"] or 1
        rows = []
        for owner, h in s.holders_of(sid):
            k = indexer.hkey(owner, sid)
            rows.append({"holder": owner, "units": h["balance"], "paid": s.paid_view(owner, sid),
                         "share_pct": f"{100 * h['balance'] / supply:.4f}", "pledged": s.pledged(k),
                         "frozen": s.frozen(k, today),
                         "lock_until": cal.date_of(h["lock_until_day"]).isoformat() if h["lock_until_day"] else "",
                         "insider": h["insider"]})
        click.echo(f"security {sid} ({Kind(sec['kind']).name}, {SecurityStatus(sec['status']).name}): "
                   f"{sec['total_supply']:,} units, {sec['holder_count']} holders")
        click.echo(f"  {'holder':<44}{'units':>14}{'paid-in':>14}{'share %':>10}{'pledged':>12}{'frozen':>12}")
        for r in rows:
            click.echo(f"  {r['holder']:<44}{r['units']:>14,}{r['paid']:>14,}{float(r['share_pct']):>10.2f}"
                       f"{r['pledged']:>12,}{r['frozen']:>12,}")
        if csv_path:
            with csv_path.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["holder"])
                w.writeheader()
                w.writerows(rows)
            click.echo(f"wrote {csv_path}")
    run(obj, action, needs_signer=False)


@show.command("history")
@click.argument("owner")
@click.argument("sid", type=int)
@click.pass_obj
def show_history(obj, owner, sid):
    """Every event that touched OWNER's holding of SID, oldest first."""
    owner = common.address_arg(owner)

    def action(reg, _):
        lines = []
        key = indexer.hkey(owner, sid)

        def on_event(ev):
            a = ev.args
            pledge_or_freeze = ev.name.startswith(("Pledge", "Freeze", "Frozen", "Court"))
            touches = (a.get("id") == sid and owner in (a.get("sender"), a.get("receiver"), a.get("owner"),
                                                        a.get("pledgor"), a.get("old_owner"), a.get("new_owner")))
            if pledge_or_freeze and not touches:
                rec = (state_ref[0].pledges.get(str(a.get("pledge_id"))) if "pledge_id" in a
                       else state_ref[0].freezes.get(str(a.get("freeze_id"))))
                touches = rec is not None and rec["id"] == sid and owner in (rec.get("pledgor"), rec.get("owner"))
            if touches:
                bal = state_ref[0].holdings.get(key, {}).get("balance", 0)
                fields = ", ".join(f"{k}={v}" for k, v in a.items() if k not in ("doc", "id"))
                lines.append(f"  block {ev.block:>7}  {ev.name:<22} {fields}  -> balance {bal:,}")

        idx = common.make_indexer(reg.address, None)
        idx.state = indexer.State(chain_id=idx.chain_id, address=idx.address, time_unit=idx.state.time_unit,
                                  utc_offset=idx.state.utc_offset, first_block=idx.first_block,
                                  last_block=idx.first_block - 1)
        idx.checkpoint = None
        state_ref = [idx.state]
        idx.sync(on_event=on_event)
        click.echo(f"history of {owner} in security {sid}: {len(lines)} events")
        for ln in lines:
            click.echo(ln)
    run(obj, action, needs_signer=False)
