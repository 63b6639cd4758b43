"""Run the register day to day: `ape run ops <group> <action> ...`.

    ape run ops [--network NET] [--register 0x..] --account ACC [--yes] [--json] <command> ...

    account open ADDRESS --id-type T --id-number N   the identity hashed as the migration does
    account suspend|reactivate|close|qualify         investor accounts (registrar)
    security register CODE --kind jsc --total N [--holdings FILE.csv] [--seal]
    calendar publish [--ahead-days N] [--provisional]  market days after the published horizon
    calendar amend DATE [--to DATE] --closed|--open    an extraordinary closure (or opening)
    transfer RECEIVER SECURITY AMOUNT               checked with can_transfer first
    pledge offer|accept|release|enforce ...
    freeze add|lift|renew ...;  court-transfer FREEZE_ID RECEIVER UNITS
    role grant|revoke ADDRESS ROLE[,ROLE]
    show holder ADDRESS | show cap-table ID [--csv FILE] | show history OWNER ID

--network, --account and --json are the options every regchain command shares
(regchain.cli): the network defaults to $REGCHAIN_NETWORK, else the devnet; --account is a
keystore alias (unlocked unattended with APE_ACCOUNTS_<alias>_PASSPHRASE), test:N on the
test networks, or a key file. Arguments are checked before connecting. Document references (--doc) are hashed text or
a 0x 32-byte hash. A refused action prints the contract's reason in one line and exits 1.
SECURITY is a security's code (hashed as the migration hashes codes) or #id; amounts are
decimals in the security's unit (its unit_scale). Every write is described, checked with
eth_call (a refusal gives the rule's reason before anything is sent) and asks for
confirmation (on a terminal) unless --yes; it is signed here and sent through
regchain.writer (legacy type-0 at the network profile's gas price, the gas limit of
regchain.gaslimits: never eth_gasPrice or eth_estimateGas); its events are printed decoded. --json prints one
JSON document (result lines, transactions, decoded events) for scripts.
Reads (show ...) come from the register rebuilt from events (regchain.indexer).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

import click

from regchain import calendar as cal
from regchain import cli as common
from regchain import indexer
from regchain.constants import InvestorClass, Kind, Role, SecurityRole, SecurityStatus
from regchain.provision import ensure_calendar


class Ctx:
    def __init__(self, network, register_address, account, yes=False, as_json=False, custody=None,
                 instruction=None):
        self.network, self.register_address, self.account = network, register_address, account
        self.yes, self.as_json = yes, as_json
        self.custody, self.instruction = custody, instruction  # --for, --instruction
        self.lines: list[str] = []          # what `done` reports (--json: collected, printed at the end)
        self.transactions: list[dict] = []  # every transaction sent, with its decoded events
        self.data: dict = {}                # structured results of reads (--json)
        self._writers: dict = {}            # signer address -> regchain.writer.Writer

    def writer_of(self, account):
        """The writer of `account` on the connected network (made once, a killed run's
        transactions settled first); WriteError/ProfileError become one line."""
        from regchain.networks import ProfileError
        from regchain.writer import WriteError, writer_for

        key = str(getattr(account, "address", account))
        if key not in self._writers:
            try:
                writer = writer_for(account, again="run the command again")
                writer.settle()
            except (WriteError, ProfileError) as exc:
                raise click.ClickException(common.one_line(exc)) from None
            except OSError as exc:
                raise click.ClickException(f"the node stopped answering ({exc})") from None
            self._writers[key] = writer
        return self._writers[key]

    def close_writers(self):
        for writer in self._writers.values():
            writer.rpc.close()
        self._writers.clear()


def say(text: str) -> None:
    """A line of the command's result: printed, or kept for the --json document."""
    obj = click.get_current_context().find_object(Ctx)
    if obj is not None and obj.as_json:
        obj.lines.append(text)
    else:
        click.echo(text)


def record(key: str, value) -> None:
    """A structured result for the --json document (a read's rows)."""
    obj = click.get_current_context().find_object(Ctx)
    if obj is not None:
        obj.data[key] = value


def _plain(value):
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "address") and not isinstance(value, str):
        return str(value.address)
    return value if isinstance(value, (int, str, bool)) or value is None else str(value)


class Sent:
    """A transaction `ops` sent: its hash, block and decoded events."""

    def __init__(self, receipt: dict, events: list[dict]):
        self.txn_hash = receipt["transactionHash"]
        self.block_number = int(receipt["blockNumber"], 16)
        self.events = events


class Confirming:
    """The register as `ops` uses it to write: every transaction is first described (function
    and named arguments), checked (eth_call: a refusal gives the rule's reason before anything
    is sent), confirmed (a prompt on a terminal, or --yes), then signed here and sent through
    regchain.writer (legacy type-0 at the network profile's gas price, the gas limit of
    regchain.gaslimits, the nonce counted here); its events are printed decoded and kept for
    --json. Reads pass through unchanged."""

    def __init__(self, register, ctx: Ctx):
        self._register, self._ctx = register, ctx

    def __getattr__(self, name):
        from ape.contracts.base import ContractTransactionHandler

        attr = getattr(self._register, name)
        if not isinstance(attr, ContractTransactionHandler):
            return attr

        def send(*args, sender=None, **kw):
            names = [i.name for i in attr.abis[0].inputs] if len(attr.abis) == 1 else [f"arg{i}" for i in range(len(args))]
            if self._ctx.custody is not None:
                # the operator signs for a custody holder: the holder's written instruction is the document
                if "doc" not in names:
                    raise click.ClickException(f"{name} records no document: for a custody holder use a command "
                                               "that does (a transfer: `instruction propose`)")
                args = tuple(common.doc_ref(self._ctx.instruction) if n == "doc" else a for n, a in zip(names, args))
            described = ", ".join(f"{n}={_plain(v)}" for n, v in zip(names, args))
            click.echo(f"will send {name}({described})", err=self._ctx.as_json)
            writer = self._ctx.writer_of(sender)
            to, data = str(self._register.address), _suite_abi()[name].encode(args)
            reason = writer.revert_reason(to, data)
            if reason is not None:
                raise click.ClickException(f"refused: {reason}")
            if not self._ctx.yes:
                if not sys.stdin.isatty():
                    raise click.ClickException("not sent: confirm with --yes (no terminal to ask on)")
                click.confirm("send it?", abort=True, err=self._ctx.as_json)
            receipt = _transact(writer, to, data, name)
            events = [{"event": ev.name, **{k: _plain(v) for k, v in ev.args.items()}}
                      for ev in _events_of(receipt, to)]
            sent = Sent(receipt, events)
            self._ctx.transactions.append({"function": name, "tx": sent.txn_hash, "block": sent.block_number,
                                           "events": events})
            if not self._ctx.as_json:
                for e in events:
                    click.echo("  " + e["event"] + " " + ", ".join(f"{k}={v}" for k, v in e.items() if k != "event"))
            return sent
        return send


_SUITE = {}


def _suite_abi():
    if "abi" not in _SUITE:
        from regchain.abi import SuiteAbi

        _SUITE["abi"] = SuiteAbi.from_suite()
    return _SUITE["abi"]


def _events_of(receipt: dict, register_address: str) -> list:
    """The register's events in a receipt, decoded as the indexer decodes them."""
    if "decoder" not in _SUITE:
        _SUITE["decoder"] = indexer.Decoder(indexer.abi_of_suite())
    return [ev for ev in (_SUITE["decoder"].decode(log) for log in receipt.get("logs") or []
                          if str(log.get("address", "")).lower() == register_address.lower()) if ev is not None]


def _transact(writer, to: str, data: bytes, fn: str) -> dict:
    """One transaction through the writer; a revert on chain or a refusal of the node becomes one line."""
    from regchain.gaslimits import gas_limit
    from regchain.rpc import RpcError
    from regchain.writer import WriteError

    try:
        return writer.transact(to, data, gas_limit(fn), fn)
    except WriteError as exc:
        raise click.ClickException(f"refused: {exc}") from None
    except RpcError as exc:
        raise click.ClickException(f"{fn}: the node refused a request: {common.one_line(exc)}") from None
    except OSError as exc:
        raise click.ClickException(f"{fn}: the node stopped answering ({exc})") from None


def run(ctx: Ctx, action, needs_signer: bool = True):
    """Connect, call action(register, signer); a revert becomes one line and exit 1. With a
    signer the register is wrapped in Confirming; with --json the result is one JSON document."""
    try:
        who = None
        if needs_signer:  # resolved (and a keystore unlocked) before connecting
            if ctx.custody:
                who = common.custody_signer(ctx.custody)
            elif ctx.account is None:
                raise click.ClickException("pass --account (keystore alias, test:N or a key file)")
            else:
                who = common.account_for(ctx.account, common.network_name_of(ctx.network))
        with common.connected(ctx.network):
            reg = common.register(ctx.register_address)
            try:
                result = action(Confirming(reg, ctx) if needs_signer else reg, who)
            finally:
                ctx.close_writers()
    except click.exceptions.Abort:
        raise click.ClickException("not sent: not confirmed") from None
    except click.ClickException:
        raise
    except Exception as exc:
        if os.environ.get("REGCHAIN_DEBUG"):
            raise
        raise click.ClickException(f"refused: {common.one_line(exc)}"
                                   if getattr(exc, "revert_message", None) else common.one_line(exc)) from None
    if ctx.as_json:
        common.emit_json({"ok": True, "result": ctx.lines, "transactions": ctx.transactions, **ctx.data})
    return result


def done(sent, what: str):
    say(f"{what} (tx {sent.txn_hash}, block {sent.block_number})")


doc_opt = click.option("--doc", "doc_text", default=None, help="Business document: text (hashed) or a 0x hash.")


def docref(text, default):
    return common.doc_ref(text if text is not None else default)


@click.group()
@common.network_option()
@click.option("--register", "register_address", default=None,
              help="Register address (default: the network's deployment record).")
@common.account_option("Who signs the writes")
@click.option("--yes", is_flag=True, help="Send without asking (every write is described first).")
@common.json_option()
@click.option("--for", "custody", default=None, metavar="ID_TYPE:NUMBER",
              help="Sign as the custody address the operator keeps for this holder (key from "
                   "$REGCHAIN_OPERATOR_SECRET, as migrated); needs --instruction.")
@click.option("--instruction", default=None, help="With --for: the holder's written instruction (text hashed, or a "
                                                  "0x hash), recorded as the document of every transaction.")
@click.pass_context
def cli(ctx, network, register_address, account, yes, as_json, custody, instruction):
    """The register's day-to-day business, one command per business action: each write is
    described, confirmed (or --yes), sent, and its events printed decoded; a refusal prints
    the rule's reason in one line and exits 1. `ape run ops GROUP --help` lists a group's
    commands."""
    if custody is not None and not instruction:
        raise click.ClickException("--for needs --instruction: the holder's written instruction")
    ctx.obj = Ctx(network, register_address, account, yes, as_json, custody, instruction)


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
@click.option("--id-type", type=click.Choice(["RESIDENT_ID", "USCC", "PASSPORT", "OTHER"], case_sensitive=False),
              default=None, help="The holder's id type, as in the operator's books.")
@click.option("--id-number", default=None, help="The id number: cleaned and hashed with the operator's secret "
                                                "($REGCHAIN_OPERATOR_SECRET) as the migration does.")
@click.option("--identity", default=None, help="Or the identity hash itself (0x and 64 hex digits), computed elsewhere.")
@click.option("--class", "klass", type=click.Choice([c.name.lower() for c in InvestorClass]), default="individual",
              show_default=True, help="Investor class (individual, institution, fund, ...).")
@click.option("--qualified/--not-qualified", default=True, show_default=True,
              help="Whether the holder is a qualified investor (合格投资者).")
@doc_opt
@books_opt
@click.option("--name", default=None, help="Holder name (books only, never on chain).")
@click.option("--account-no", default=None, help="The operator's account number (books; default: the address).")
@click.pass_obj
def account_open(obj, address, id_type, id_number, identity, klass, qualified, doc_text, books_path, name,
                 account_no):
    """Open an investor account; its identity is the migration's keyed hash of the id, never a bare hash."""
    address = common.address_arg(address)
    ident = common.identity_arg(id_type, id_number, identity)
    books = _books(books_path, name=name, id_type=id_type, id_number=id_number)

    def action(reg, who):
        done(reg.open_account(address, ident, int(InvestorClass[klass.upper()]), qualified,
                              docref(doc_text, f"open {address}"), sender=who), f"account {address} opened")
        if books is not None:
            books.add_holder(ident, name, klass.upper(), id_type.upper(), id_number)
            books.add_account(address, account_no or address, ident)
    run(obj, action)


def _status_command(name, fn):
    @account.command(name, help=f"{name.capitalize()} the investor account at ADDRESS (registrar).")
    @click.argument("address")
    @doc_opt
    @click.pass_obj
    def cmd(obj, address, doc_text):
        address = common.address_arg(address)
        run(obj, lambda reg, who: done(getattr(reg, fn)(address, docref(doc_text, f"{name} {address}"), sender=who),
                                       f"account {address}: {name}"))
    return cmd


_status_command("suspend", "suspend_account")
_status_command("reactivate", "reactivate_account")
_status_command("close", "close_account")


@account.command("qualify")
@click.argument("address")
@click.option("--qualified/--not-qualified", default=True, show_default=True,
              help="Qualified investor (合格投资者) or not.")
@doc_opt
@click.pass_obj
def account_qualify(obj, address, qualified, doc_text):
    """Record whether the holder at ADDRESS is a qualified investor."""
    address = common.address_arg(address)
    run(obj, lambda reg, who: done(reg.set_qualified(address, qualified, docref(doc_text, f"qualify {address}"),
                                                     sender=who), f"account {address}: qualified={qualified}"))


# ---------------------------------------------------------------- securities, calendar


@cli.group()
def security():
    """Securities and initial registration (股权初始登记)."""


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


@security.command("register")
@click.argument("code")
@click.option("--kind", type=click.Choice([k.name.lower() for k in Kind]), required=True,
              help="Kind of security: joint-stock company shares, LLC shares, a fund's units, ...")
@click.option("--scale", default=0, show_default=True, help="Decimals of one unit.")
@click.option("--total", default=None, help="Declared total in the security's unit (default: the sum of --holdings).")
@click.option("--holdings", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="CSV: holder,units[,paid][,acquired][,lock_until][,insider]")
@click.option("--seal/--no-seal", default=True, help="Seal after writing the holdings.")
@doc_opt
@books_opt
@click.option("--name", default=None, help="Issuer or fund name (books only).")
@click.option("--issuer-uscc", default=None, help="The issuer's unified social credit code (books only).")
@click.pass_obj
def security_register(obj, code, kind, scale, total, holdings, seal, doc_text, books_path, name, issuer_uscc):
    """Register the security CODE (its code, cleaned and hashed as the migration does) with its
    initial holdings (股权初始登记), and seal it unless --no-seal."""
    common.code_hash(code)
    if total is not None:
        common.amount_arg(total, scale, "--total")
    if holdings:
        read_holdings(holdings, 0, scale)  # every row checked before connecting
    books = _books(books_path, name=name, issuer_uscc=issuer_uscc)

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
        if books is not None:
            books.add_security(code_hash, code, name, issuer_uscc, name, cal.date_of(today).isoformat())
        for i in range(0, len(rows), 100):
            reg.register_holdings(sid, rows[i:i + 100], d, sender=who)
        if seal and rows:
            reg.seal_security(sid, d, sender=who)
        say(f"security {code}: id {sid}, {kind.upper()}, {declared:,} units, {len(rows)} holdings"
                   f"{', sealed' if seal and rows else ', pending'}")
    run(obj, action)


@security.command("status")
@click.argument("security")
@click.argument("status", type=click.Choice(["active", "suspended", "delisted"]))
@doc_opt
@click.pass_obj
def security_status(obj, security, status, doc_text):
    """Suspend, reactivate or delist SECURITY (its code, or #id)."""
    common.security_text(security)
    def action(reg, who):
        sid = common.security_arg(reg, security)
        done(reg.set_security_status(sid, int(SecurityStatus[status.upper()]),
                                     docref(doc_text, f"status {security} {status}"), sender=who),
             f"security {security}: {status}")
    run(obj, action)


@cli.group()
def calendar():
    """The trading calendar."""


@calendar.command("publish")
@click.option("--ahead-days", default=366, show_default=True, type=click.IntRange(1, 800),
              help="Publish up to today + this many days.")
@click.option("--provisional", is_flag=True,
              help="Past the official holidays in the pinned package, publish weekdays less the statutory "
                   "holidays themselves (fixed-date and lunar; amend the bridging days when the year's "
                   "notice is out).")
@click.pass_obj
def calendar_publish(obj, ahead_days, provisional):
    """Publish the market's trading days (weekdays less the official holidays of mainland China,
    adjusted working weekends closed) from the day after the horizon to today + N days."""
    run(obj, lambda reg, who: ensure_calendar(reg, who, ahead_days=ahead_days, provisional=provisional,
                                              echo=say))


@calendar.command("amend")
@click.argument("first")
@click.option("--to", "last", default=None, help="Last day of the range (default: FIRST only).")
@click.option("--closed/--open", "closed", default=True, show_default=True,
              help="--closed: an extraordinary closure; --open: a published holiday trades after all.")
@doc_opt
@click.pass_obj
def calendar_amend(obj, first, last, closed, doc_text):
    """Amend published future days FIRST[..--to] (YYYY-MM-DD): close them, or open them.
    Days that already have that status (weekends for --closed) are left as they are."""
    a = common.day_arg(first)
    b = common.day_arg(last) if last else a
    if b < a:
        raise click.ClickException(f"--to {last} is before {first}")

    def action(reg, who):
        d = docref(doc_text, f"calendar amend {cal.date_of(a)}..{cal.date_of(b)} {'closed' if closed else 'open'}")
        changed = 0
        for day in range(a, b + 1):
            if bool(reg.is_trading_day(day)) != closed and day <= int(reg.horizon_day()):
                continue  # already has that status
            done(reg.amend_calendar(day, not closed, d, sender=who),
                 f"{cal.date_of(day)} {'closed' if closed else 'trades'}")
            changed += 1
        say(f"{changed} day{'s' if changed != 1 else ''} amended")
    run(obj, action)


# ---------------------------------------------------------------- transfers


def _units(reg, sid: int, text: str, what: str = "amount") -> int:
    return common.amount_arg(text, int(reg.security(sid).unit_scale), what)


@cli.command()
@click.argument("receiver")
@click.argument("security")
@click.argument("amount")
@click.pass_obj
def transfer(obj, receiver, security, amount):
    """Transfer AMOUNT (in the security's unit) of SECURITY (code or #id) from the signer to
    RECEIVER; checked with can_transfer first."""
    receiver = common.address_arg(receiver)
    common.security_text(security)
    common.amount_text(amount)

    def action(reg, who):
        sid = common.security_arg(reg, security)
        units = _units(reg, sid, amount)
        ok, reason = reg.can_transfer(who.address, receiver, sid, units)
        if not ok:
            raise click.ClickException(f"refused: {reason}")
        done(reg.transfer(receiver, sid, units, sender=who), f"transferred {amount} of {security} to {receiver}")
    run(obj, action)


# ---------------------------------------------------------------- pledges


@cli.group()
def pledge():
    """Pledges (股权质押)."""


@pledge.command("offer")
@click.argument("security")
@click.argument("pledgee")
@click.argument("units")
@doc_opt
@click.pass_obj
def pledge_offer(obj, security, pledgee, units, doc_text):
    """The pledgor (signer) offers UNITS of SECURITY (code or #id) to PLEDGEE (the bank)."""
    pledgee = common.address_arg(pledgee)
    common.security_text(security)
    common.amount_text(units, "units")

    def action(reg, who):
        sid = common.security_arg(reg, security)
        r = reg.offer_pledge(sid, pledgee, _units(reg, sid, units), docref(doc_text, f"pledge {sid} {pledgee}"),
                             sender=who)
        done(r, f"pledge {int(reg.pledge_count())} offered: {units} of {security} to {pledgee}")
    run(obj, action)


@pledge.command("accept")
@click.argument("pledge_id", type=int)
@doc_opt
@click.pass_obj
def pledge_accept(obj, pledge_id, doc_text):
    """The pledgee (signer, the bank) accepts the offered pledge PLEDGE_ID: it is registered."""
    run(obj, lambda reg, who: done(reg.accept_pledge(pledge_id, docref(doc_text, f"accept {pledge_id}"), sender=who),
                                   f"pledge {pledge_id} accepted"))


@pledge.command("release")
@click.argument("pledge_id", type=int)
@click.argument("units")
@doc_opt
@click.pass_obj
def pledge_release(obj, pledge_id, units, doc_text):
    """The pledgee releases UNITS (in the security's unit) of pledge PLEDGE_ID."""
    common.amount_text(units, "units")
    def action(reg, who):
        amount = _units(reg, int(reg.pledge_of(pledge_id).id), units)
        done(reg.release_pledge(pledge_id, amount, docref(doc_text, f"release {pledge_id}"), sender=who),
             f"pledge {pledge_id}: released {units}")
    run(obj, action)


@pledge.command("enforce")
@click.argument("pledge_id", type=int)
@click.argument("receiver")
@click.argument("units")
@doc_opt
@click.pass_obj
def pledge_enforce(obj, pledge_id, receiver, units, doc_text):
    """Enforce pledge PLEDGE_ID: UNITS (in the security's unit) to RECEIVER."""
    receiver = common.address_arg(receiver)
    common.amount_text(units, "units")

    def action(reg, who):
        amount = _units(reg, int(reg.pledge_of(pledge_id).id), units)
        done(reg.enforce_pledge(pledge_id, receiver, amount, docref(doc_text, f"enforce {pledge_id}"), sender=who),
             f"pledge {pledge_id}: {units} enforced to {receiver}")
    run(obj, action)


# ---------------------------------------------------------------- freezes


@cli.group()
def freeze():
    """Judicial freezes (司法冻结, 轮候冻结)."""


@freeze.command("add")
@click.argument("owner")
@click.argument("security")
@click.argument("units")
@click.option("--case", "case_no", required=True, help="Case number (stored only as a hash, as migrated).")
@click.option("--expiry", required=True, help="Last day it holds: YYYY-MM-DD or a day number.")
@doc_opt
@click.pass_obj
def freeze_add(obj, owner, security, units, case_no, expiry, doc_text):
    """A court's freeze of UNITS (in the security's unit) of OWNER's SECURITY (code or #id)."""
    owner = common.address_arg(owner)
    common.security_text(security)
    common.amount_text(units, "units")
    expiry_day = common.day_arg(expiry)
    case = common.case_hash(case_no)

    def action(reg, who):
        sid = common.security_arg(reg, security)
        r = reg.freeze(owner, sid, _units(reg, sid, units), case, expiry_day,
                       docref(doc_text, f"freeze {case_no}"), sender=who)
        fid = int(reg.freeze_count())
        ids, flags = reg.freeze_queue_of(owner, sid)
        state = "in force" if dict(zip(ids, flags)).get(fid) else "waiting (轮候)"
        done(r, f"freeze {fid}: {units} of {security} held by {owner}, {state}")
    run(obj, action)


@freeze.command("lift")
@click.argument("freeze_id", type=int)
@doc_opt
@click.pass_obj
def freeze_lift(obj, freeze_id, doc_text):
    """The court's agent lifts freeze FREEZE_ID (解除冻结); a waiting freeze behind it may take effect."""
    run(obj, lambda reg, who: done(reg.lift_freeze(freeze_id, docref(doc_text, f"lift {freeze_id}"), sender=who),
                                   f"freeze {freeze_id} lifted"))


@freeze.command("renew")
@click.argument("freeze_id", type=int)
@click.argument("expiry")
@doc_opt
@click.pass_obj
def freeze_renew(obj, freeze_id, expiry, doc_text):
    """The court's agent renews freeze FREEZE_ID (续行冻结) to EXPIRY (YYYY-MM-DD)."""
    expiry_day = common.day_arg(expiry)
    run(obj, lambda reg, who: done(reg.renew_freeze(freeze_id, expiry_day,
                                                    docref(doc_text, f"renew {freeze_id}"), sender=who),
                                   f"freeze {freeze_id} renewed to {expiry}"))


@cli.command("court-transfer")
@click.argument("freeze_id", type=int)
@click.argument("receiver")
@click.argument("units")
@doc_opt
@click.pass_obj
def court_transfer(obj, freeze_id, receiver, units, doc_text):
    """Court-ordered transfer of UNITS (in the security's unit) held by freeze FREEZE_ID in force."""
    receiver = common.address_arg(receiver)
    common.amount_text(units, "units")

    def action(reg, who):
        amount = _units(reg, int(reg.freeze_of(freeze_id).id), units)
        done(reg.court_transfer(freeze_id, receiver, amount, docref(doc_text, f"court order {freeze_id}"),
                                sender=who), f"freeze {freeze_id}: {units} moved to {receiver}")
    run(obj, action)


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
@doc_opt
@click.pass_obj
def role_grant(obj, address, roles, doc_text):
    """Grant ADDRESS the global ROLES (comma-separated: REGISTRAR, COURT_AGENT, ...)."""
    address = common.address_arg(address)
    _roles(roles)
    d = docref(doc_text, f"grant {roles} {address}")
    run(obj, lambda reg, who: done(reg.grant_role(address, _roles(roles), d, sender=who), f"{address}: granted {roles}"))


@role.command("revoke")
@click.argument("address")
@click.argument("roles")
@doc_opt
@click.pass_obj
def role_revoke(obj, address, roles, doc_text):
    """Take the global ROLES (comma-separated) from ADDRESS."""
    address = common.address_arg(address)
    _roles(roles)
    d = docref(doc_text, f"revoke {roles} {address}")
    run(obj, lambda reg, who: done(reg.revoke_role(address, _roles(roles), d, sender=who), f"{address}: revoked {roles}"))


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
    """ADDRESS's account and holdings: units, pledged, frozen, free, lock-ups."""
    address = common.address_arg(address)

    def action(reg, _):
        s = _state(reg)
        today = int(reg.today())
        acc = s.accounts.get(address)
        if acc is None:
            say(f"{address}: no account")
        else:
            say(f"{address}: {['unopened', 'active', 'suspended', 'closed'][acc['status']]}, "
                       f"{InvestorClass(acc['investor_class']).name.lower()}, "
                       f"{'qualified' if acc['qualified'] else 'not qualified'}, identity {acc['identity'][:18]}…")
        for k, h in sorted(s.holdings.items()):
            owner, sid = k.split("|")
            if owner != address or not h["balance"]:
                continue
            pledged, frozen = s.pledged(k), s.frozen(k, today)
            say(f"  security {sid:>4}: {h['balance']:>14,} units, pledged {pledged:,}, frozen {frozen:,}, "
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
    """The cap table (股东名册) of security SID today: holders, units, paid-in, share, encumbrances."""
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
        say(f"security {sid} ({Kind(sec['kind']).name}, {SecurityStatus(sec['status']).name}): "
                   f"{sec['total_supply']:,} units, {sec['holder_count']} holders")
        say(f"  {'holder':<44}{'units':>14}{'paid-in':>14}{'share %':>10}{'pledged':>12}{'frozen':>12}")
        for r in rows:
            say(f"  {r['holder']:<44}{r['units']:>14,}{r['paid']:>14,}{float(r['share_pct']):>10.2f}"
                       f"{r['pledged']:>12,}{r['frozen']:>12,}")
        record("cap_table", rows)
        if csv_path:
            with csv_path.open("w", newline="", encoding="utf-8") as fh:
                w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["holder"])
                w.writeheader()
                w.writerows(rows)
            say(f"wrote {csv_path}")
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
        say(f"history of {owner} in security {sid}: {len(lines)} events")
        for ln in lines:
            say(ln)
    run(obj, action, needs_signer=False)


# ---------------------------------------------------------------- the other business actions
#
# Each command below is one function of the register, named as the business names it. Its
# arguments are the function's own (read from the suite's ABI when `ops` loads, so a function
# that gains a parameter gains it here too), converted by what they are:
#   id                      -> SECURITY: a code or #id
#   units, paid, fund_minimum (and amount where there is a security) -> a decimal in the security's unit
#   price, reserve, amount of a bid -> an integer amount of the cash token's smallest unit
#   *_day                   -> a date YYYY-MM-DD (or a day number)
#   bool                    -> yes/no
#   role (security roles)   -> ISSUER_AGENT,FUND_MANAGER
#   ids (uint256[])         -> securities separated by commas
#   batch (a list of tuples)-> a CSV file whose header names the tuple's fields
#   case_hash               -> --case: the case number, hashed as migrated
#   doc                     -> --doc: the business document (text hashed, or a 0x hash)

BUSINESS = [
    ("security", "seal", "seal_security", "Seal SECURITY after its initial registration: it becomes transferable "
                                          "(the holdings must add up to the declared total)."),
    ("security", "lockup", "set_lockup", "Lock up OWNER's holding of SECURITY until LOCK_UNTIL_DAY (0 lifts it)."),
    ("security", "insider", "set_insider", "Mark OWNER as an insider (director, supervisor, senior manager) of "
                                           "SECURITY, or not (annual transfer quota)."),
    ("security", "closure", "set_register_closure", "Close the register of SECURITY for a meeting: no transfers from "
                                                    "RECORD_DAY to MEETING_DAY."),
    ("security", "terms", "set_transfer_terms", "Transfer terms of SECURITY: first refusal, institutional investors "
                                                "only, a fund's minimum holding."),
    ("security", "role-grant", "grant_security_role", "Give ACCOUNT a role on SECURITY (issuer agent, fund manager)."),
    ("security", "role-revoke", "revoke_security_role", "Take a role on SECURITY from ACCOUNT."),
    ("capital", "increase", "increase_capital", "Capital increase (增资) of SECURITY: BATCH is a CSV "
                                                "holder,units,paid (units and paid in the security's unit)."),
    ("capital", "increase-waived", "increase_capital_waived", "Capital increase of an LLC outside pre-emption: "
                                                              "WAIVER is the shareholders' resolution that waives it "
                                                              "(text, hashed, or a 0x hash); BATCH as for increase."),
    ("capital", "decrease", "decrease_capital", "Capital decrease (减资) of SECURITY: BATCH is a CSV holder,units."),
    ("capital", "paid-in", "record_paid_in", "Record OWNER's paid-in capital of SECURITY (LLC shares)."),
    ("pledge", "register", "register_pledge", "The registrar registers a pledge on the parties' joint application."),
    ("pledge", "cancel", "cancel_pledge_offer", "The pledgor withdraws an offer the bank has not accepted."),
    ("pledge", "consent", "consent_pledged_transfer", "The pledgee consents to the pledgor transferring pledged "
                                                      "units to RECEIVER."),
    ("pledge", "consent-enforcement", "consent_enforcement", "The fund manager consents to the pledgee enforcing "
                                                             "UNITS of the pledge to RECEIVER."),
    ("pledge", "transfer", "transfer_pledged", "The pledgor transfers the pledged units the pledgee consented to."),
    ("freeze", "tidy", "tidy_freezes", "Remove lapsed freezes from OWNER's queue on SECURITY (anyone may)."),
    ("instruction", "propose", "propose_transfer", "The seller proposes a transfer of UNITS of SECURITY to BUYER for "
                                                   "PRICE in CASH (the zero address: free of payment)."),
    ("instruction", "court-sale", "propose_court_sale", "A court's agent proposes the sale of SELLER's units."),
    ("instruction", "accept", "accept_transfer", "The buyer accepts (and escrows the price, for DvP)."),
    ("instruction", "consent", "consent_transfer", "The issuer agent or fund manager consents."),
    ("instruction", "reject", "reject_transfer", "The issuer agent or fund manager rejects (escrows are refunded)."),
    ("instruction", "withdraw", "withdraw_transfer", "The seller withdraws the instruction."),
    ("instruction", "first-refusal", "exercise_first_refusal", "A holder exercises the right of first refusal."),
    ("instruction", "settle", "settle_transfer", "Settle: units to the buyer(s), the price to the seller (DvP)."),
    ("instruction", "reclaim", "reclaim_lapsed", "Close a lapsed instruction and refund its escrows (anyone may)."),
    ("listing", "list", "list_units", "List UNITS of SECURITY for one-way bidding until END_DAY."),
    ("listing", "consent", "consent_listing", "The issuer agent or fund manager consents to a listing."),
    ("listing", "bid", "bid", "Bid AMOUNT (cash token units) on a listing."),
    ("listing", "close", "close_listing", "Close a listing after its end day (sold to the best bid, or failed)."),
    ("listing", "withdraw", "withdraw_listing", "The seller withdraws a listing without bids."),
    ("cash", "token", "set_cash_token", "Accept (or stop accepting) a cash token for DvP."),
    ("cash", "refund", "claim_refund", "Pull the refunds the register owes the signer in TOKEN."),
    ("recovery", "recover", "recover", "Move a holder's holdings of IDS from a lost OLD_OWNER to NEW_OWNER "
                                       "(on the holder's written application)."),
    ("governance", "pause", "pause", "Stop every state change of the register."),
    ("governance", "unpause", "unpause", "Resume state changes."),
    ("governance", "transfer", "transfer_governance", "Start handing governance to PENDING."),
    ("governance", "accept", "accept_governance", "The pending governance accepts."),
    ("holder", "approve", "approve", "Allow SPENDER to transfer up to AMOUNT of the signer's SECURITY."),
    ("holder", "operator", "setOperator", "Allow SPENDER to transfer all of the signer's holdings, or not."),
    ("holder", "transfer-from", "transferFrom", "Transfer SENDER's units as their approved spender or operator."),
]

SECURITY_UNITS = {"units", "paid", "fund_minimum"}
RECORD_OF = {"pledge_id": "pledge_of", "freeze_id": "freeze_of", "instruction_id": "instruction_of",
             "listing_id": "listing_of"}


def _arg_kind(fn: str, inp, has_security: bool) -> str:
    t, n = inp.type, inp.name
    if n == "doc" and t == "bytes32":
        return "doc"
    if n == "case_hash":
        return "case"
    if t == "bytes32":  # another document than the step's own (a resolution waiving pre-emption)
        return "document"
    if t.startswith("tuple"):
        return "batch"
    if t == "uint256[]" and n == "ids":
        return "securities"
    if t == "address":
        return "address"
    if t == "bool":
        return "bool"
    if n == "id":
        return "security"
    if n.endswith("_day"):
        return "day"
    if n == "role":
        return "security_role"
    if n in SECURITY_UNITS or (n == "amount" and has_security):
        return "units"
    return "int"


def _business_command(group, name: str, fn: str, help_text: str, abi):
    has_security = any(i.name in ("id", *RECORD_OF) for i in abi.inputs) and fn != "bid"
    kinds = [(i, _arg_kind(fn, i, has_security)) for i in abi.inputs]
    params = []
    for inp, kind in kinds:
        if kind == "doc":
            params.append(click.Option(["--doc", "doc_text"], default=None,
                                       help="Business document: text (hashed) or a 0x hash."))
        elif kind == "case":
            params.append(click.Option(["--case", "case_no"], required=True, help="Case number (hashed as migrated)."))
        else:
            params.append(click.Argument([inp.name], type=click.BOOL if kind == "bool" else str,
                                         metavar="SECURITY" if kind == "security" else None))

    def callback(**kw):
        obj = click.get_current_context().find_object(Ctx)
        early = {}
        for inp, kind in kinds:  # what can be checked before connecting
            v = kw.get(inp.name)
            if kind == "address":
                early[inp.name] = common.address_arg(v)
            elif kind == "day":
                early[inp.name] = 0 if str(v) == "0" else common.day_arg(v)
            elif kind == "case":
                early[inp.name] = common.case_hash(kw["case_no"])
            elif kind == "security_role":
                try:
                    early[inp.name] = int(sum({SecurityRole[r.strip().upper()] for r in v.replace("|", ",").split(",")}))
                except KeyError:
                    raise click.ClickException(f"unknown security role {v!r}; one of "
                                               f"{', '.join(r.name for r in SecurityRole)}") from None
            elif kind == "document":
                early[inp.name] = common.doc_ref(v)
            elif kind == "int":
                if not str(v).isdigit():
                    raise click.ClickException(f"{inp.name}: {v!r} is not a whole number")
                early[inp.name] = int(v)
            elif kind == "batch":
                common.file_arg(v, inp.name)
            elif kind == "security":
                common.security_text(v)
            elif kind == "securities":
                for one in str(v).split(","):
                    if one.strip():
                        common.security_text(one)
            elif kind == "units":
                common.amount_text(v, inp.name)

        def action(reg, who):
            sid = None
            args = []
            for inp, kind in kinds:
                v = kw.get(inp.name)
                if kind == "security":
                    sid = common.security_arg(reg, v)
                    args.append(sid)
                elif kind == "securities":
                    args.append([common.security_arg(reg, s) for s in v.split(",") if s.strip()])
                elif kind == "doc":
                    args.append(docref(kw["doc_text"], f"{fn} " + " ".join(str(kw.get(i.name)) for i, _ in kinds
                                                                         if i.name in kw and i.name != "doc")))
                elif kind in ("units", "batch"):
                    if sid is None:
                        rec = next((r for r in RECORD_OF if r in kw), None)
                        sid = int(getattr(reg, RECORD_OF[rec])(int(kw[rec])).id) if rec else None
                    scale = int(reg.security(sid).unit_scale) if sid else 0
                    if kind == "units":
                        args.append(common.amount_arg(v, scale, inp.name))
                    else:
                        args.append(_batch(Path(v), inp, scale))
                elif kind == "bool":
                    args.append(bool(v))
                elif kind in ("case", "document"):
                    args.append(early[inp.name])
                elif inp.name in RECORD_OF and not str(v).isdigit():
                    raise click.ClickException(f"{inp.name}: {v!r} is not a number")
                else:
                    args.append(early.get(inp.name, int(v) if str(v).isdigit() else v))
            done(getattr(reg, fn)(*args, sender=who), f"{group.name} {name}: done")
        run(obj, action)

    described = " ".join(("SECURITY" if k == "security" else i.name.upper()) if k not in ("doc", "case")
                         else f"--{k}" for i, k in kinds)
    group.add_command(click.Command(name, params=params, callback=callback,
                                    help=f"{help_text}\n\nCalls {fn}: {described}.", short_help=help_text[:70]))


def _batch(path: Path, inp, scale: int) -> list[tuple]:
    """The rows of a CSV whose header names the tuple's fields, converted like the arguments."""
    fields = inp.components
    rows = []
    with path.open(newline="", encoding="utf-8-sig") as fh:
        for n, row in enumerate(csv.DictReader(fh), 2):
            item = []
            for c in fields:
                text = (row.get(c.name) or "").strip()
                if not text:
                    raise click.ClickException(f"{path}:{n}: no {c.name}")
                if c.type == "address":
                    item.append(common.address_arg(text))
                elif c.name in SECURITY_UNITS:
                    item.append(common.amount_arg(text, scale, f"{path}:{n}: {c.name}"))
                elif c.type == "bool":
                    item.append(text.lower() in ("1", "true", "yes", "y"))
                elif c.name.endswith("_day"):
                    item.append(common.day_arg(text))
                else:
                    item.append(int(text))
            rows.append(tuple(item))
    return rows


def _install_business_commands():
    from regchain.suite import suite_contract_type

    methods = {m.name: m for m in suite_contract_type().mutable_methods}
    groups = {g.name: g for g in cli.commands.values() if isinstance(g, click.Group)}
    helps = {"capital": "Capital changes (增资, 减资, 实缴).", "instruction": "Transfer instructions (协议转让, DvP).",
             "listing": "One-way bidding (单向竞价).", "cash": "Cash tokens and refunds (资金映射).",
             "recovery": "Recovery of a holder's lost key (非交易过户).", "governance": "Governance (pause, hand-over).",
             "holder": "A holder's own approvals and operators."}
    for group_name, name, fn, help_text in BUSINESS:
        if fn not in methods:
            continue  # not in this build of the register
        group = groups.get(group_name)
        if group is None:
            group = groups[group_name] = click.Group(group_name, help=helps.get(group_name))
            cli.add_command(group)
        _business_command(group, name, fn, help_text, methods[fn])


_install_business_commands()
