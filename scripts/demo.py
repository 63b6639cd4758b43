"""A walk through the register on the devnet: `make demo`
(= `make node` + `ape run demo --network ethereum:devnet:node`).

Deploys or reuses the suite (the same code path as `ape run deploy`), publishes the
trading calendar if needed, opens accounts for a few named test accounts, registers
two securities (an LLC with paid-in and unpaid capital, a JSC) with holdings acquired
in the past, seals them, then runs transfers (some refused by the register's rules),
a capital increase, and prints the cap tables.

Idempotent: every setup step skips what the chain already has, and each run registers
its own pair of securities under fresh codes ("DEMO-<n>-LLC", "DEMO-<n>-JSC"), so the
demo can run any number of times on the persistent devnet.

Identities and codes are hashed as the migration and `ape run ops` hash them: a holder's
identity is the keyed hash of its id (the operator's secret, $REGCHAIN_OPERATOR_SECRET), a
code's hash is regchain.cli.code_hash. With --books DB every account the demo opens (or
finds open) and every security it registers is recorded in the operator's books (names,
id numbers, account numbers, issuers), with the titles of the demo's documents, so that
`ape run supervise sync` can name every subject.
"""

from __future__ import annotations

import datetime as dt

import click
from ape import accounts
from ape.cli import ConnectedProviderCommand, ape_cli_context, network_option
from ape.exceptions import ApeException, ContractLogicError
from eth_utils import keccak

from regchain import calendar as cal
from regchain import cli as common
from regchain.constants import AccountStatus, InvestorClass, Kind
from regchain.legacy.synth import resident_id, uscc
from regchain.provision import SetupError, ensure_calendar, ensure_suite, one_line
from regchain.supervise import SuperviseError

# name -> (test account index, qualified investor?, investor class); index 0 is the
# deployer, governance and registrar. "frank" never gets an account.
HOLDERS = {
    "alice": (4, True, InvestorClass.INDIVIDUAL),
    "bob": (5, True, InvestorClass.INDIVIDUAL),
    "carol": (6, True, InvestorClass.INSTITUTION),
    "dave": (7, True, InvestorClass.INDIVIDUAL),
    "erin": (8, False, InvestorClass.INDIVIDUAL),
}
NO_ACCOUNT = ("frank", 9)

# What the operator's books say of each holder (never on chain): name, id type, id number.
# The on-chain identity is the keyed hash of "ID_TYPE:number", as the migration computes it.
HOLDER_BOOKS = {
    "alice": ("王爱丽", "RESIDENT_ID", resident_id("110105", dt.date(1985, 3, 14), 21)),
    "bob": ("李博文", "RESIDENT_ID", resident_id("310104", dt.date(1979, 11, 2), 33)),
    "carol": ("示例卡罗投资管理有限公司", "USCC", uscc("310115", "58660001")),
    "dave": ("戴维", "RESIDENT_ID", resident_id("440305", dt.date(1990, 6, 30), 15)),
    "erin": ("艾琳", "RESIDENT_ID", resident_id("330106", dt.date(2001, 1, 9), 42)),
}


def issuer_of(run_no: int, kind: Kind) -> tuple[str, str]:
    """The (name, USCC) of the company behind a run's security: one LLC and one JSC per run."""
    if kind == Kind.LLC:
        return f"演示{run_no}号科技有限公司", uscc("310115", f"581{run_no:05d}")
    return f"演示{run_no}号科技股份有限公司", uscc("310115", f"582{run_no:05d}")


def doc(text: str) -> bytes:
    """A business-document reference: keccak of a short text."""
    return keccak(text=text)


class Demo:
    def __init__(self, register, registrar, books=None):
        self.reg = register
        self.registrar = registrar
        self.books = books  # regchain.supervise.books.Books, or None (--books not given)
        test = accounts.test_accounts
        self.who = {name: test[i] for name, (i, _, _) in HOLDERS.items()}
        self.who[NO_ACCOUNT[0]] = test[NO_ACCOUNT[1]]
        self.name_of = {a.address: n for n, a in self.who.items()}

    def doc(self, text: str) -> bytes:
        """doc(text), its title recorded in the books."""
        d = doc(text)
        if self.books is not None:
            self.books.add_document(d, None, text)
        return d

    # ------------------------------------------------------------ setup

    def open_accounts(self):
        batch, existing = [], []
        for name, (_, qualified, klass) in HOLDERS.items():
            address = self.who[name].address
            holder, id_type, id_number = HOLDER_BOOKS[name]
            identity = common.identity_arg(id_type, id_number, None)
            acct = self.reg.account_of(address)
            if int(acct.status) != AccountStatus.UNOPENED:
                if bytes(acct.identity) != identity:
                    raise SetupError(f"{name}'s account {address} was opened with another identity (an older "
                                     "demo, or another operator secret): start a fresh devnet "
                                     "(make node-stop; rm -rf .node)")
                existing.append(name)
            else:
                batch.append((address, identity, int(klass), qualified))
            if self.books is not None:  # also for accounts found open: the books may be new
                self.books.add_holder(identity, holder, klass.name, id_type, id_number)
                self.books.add_account(address, f"DEMO-{name.upper()}", identity)
        if batch:
            self.reg.open_accounts(batch, self.doc("demo account opening"), sender=self.registrar)
        opened = [self.name_of[b[0]] for b in batch]
        click.echo(f"accounts: opened {', '.join(opened) or 'none'}"
                   f"{'; already open: ' + ', '.join(existing) if existing else ''}"
                   f" (erin is not a qualified investor; frank has no account)")

    def register_security(self, code: str, kind: Kind, issuer: tuple[str, str], holdings: list[tuple]) -> int:
        """issuer: (name, USCC); holdings: (name, units, paid, acquired_day, lock_until_day)"""
        code_hash = common.code_hash(code)
        sid = int(self.reg.security_id(code_hash))
        if self.books is not None:  # before the chain: sync must never find a code the books lack
            try:
                self.books.security(code_hash)  # recorded by an earlier run: keep its date
            except SuperviseError:
                self.books.add_security(code_hash, code, issuer[0], issuer[1], issuer[0],
                                        cal.date_of(int(self.reg.today())).isoformat())
        if sid:  # same code registered already (a rerun in the same block count): reuse
            click.echo(f"  {code}: already registered as id {sid}")
            return sid
        total = sum(h[1] for h in holdings)
        self.reg.register_security(code_hash, int(kind), 0, total, self.doc(f"{code} registration"),
                                   sender=self.registrar)
        sid = int(self.reg.security_id(code_hash))
        batch = [(self.who[n].address, units, paid, acquired, lock, False)
                 for n, units, paid, acquired, lock in holdings]
        self.reg.register_holdings(sid, batch, self.doc(f"{code} holdings"), sender=self.registrar)
        self.reg.seal_security(sid, self.doc(f"{code} seal"), sender=self.registrar)
        click.echo(f"  {code}: {kind.name}, id {sid}, {total:,} units, "
                   f"{len(holdings)} holdings, sealed")
        return sid

    # ------------------------------------------------------------ actions

    def transfer(self, label: str, sid: int, sender: str, receiver: str, amount: int):
        s, r = self.who[sender], self.who[receiver]
        ok, reason = self.reg.can_transfer(s.address, r.address, sid, amount)
        head = f"  {label:<4}{sender + ' -> ' + receiver:<16}{amount:>11,}:"
        if ok:
            receipt = self.reg.transfer(r.address, sid, amount, sender=s)
            click.echo(f"{head} done (gas {receipt.gas_used:,})")
            return
        click.echo(f"{head} refused: can_transfer says {reason!r}")
        try:
            # Send it anyway with a fixed gas limit, so it is mined and reverts on chain.
            self.reg.transfer(r.address, sid, amount, sender=s, gas=300_000)
        except ContractLogicError as exc:
            reverted = exc.revert_message
            same = "same reason" if reverted == reason else "DIFFERENT REASON"
            click.echo(f"{'':<33}sent anyway: reverted on chain with {reverted!r} ({same})")
            if reverted != reason:
                raise SetupError(f"can_transfer said {reason!r} but transfer reverted "
                                 f"with {reverted!r}") from None
        else:
            raise SetupError(f"transfer {sender} -> {receiver} passed although "
                             f"can_transfer refused it ({reason})")

    def cap_table(self, sid: int, title: str):
        sec = self.reg.security(sid)
        supply = int(sec.total_supply)
        is_llc = int(sec.kind) == Kind.LLC
        click.echo(f"\n  {title} (id {sid}, {Kind(int(sec.kind)).name}): {supply:,} units, "
                   f"{int(sec.holder_count)} holders (cap {int(sec.holder_cap)})")
        rows = []
        for name, acct in self.who.items():
            h = self.reg.holding(acct.address, sid)
            if int(h.balance):
                rows.append((name, int(h.balance), int(h.paid), int(h.lock_until_day)))
        header = f"    {'holder':<8}{'balance':>14}{'paid-in':>14}{'share %':>10}"
        click.echo(header + ("" if is_llc else "   note"))
        for name, balance, paid, lock in sorted(rows, key=lambda r: -r[1]):
            note = f"locked until {cal.date_of(lock)}" if lock > int(self.reg.today()) else ""
            paid_text = f"{paid:>14,}" if is_llc else f"{'':>14}"
            click.echo(f"    {name:<8}{balance:>14,}{paid_text}{100 * balance / supply:>9.2f}%"
                       + (f"   {note}" if note else ""))
        if sum(r[1] for r in rows) != supply:
            raise SetupError(f"cap table of id {sid} does not add up to the supply")


@click.command(cls=ConnectedProviderCommand)
@ape_cli_context()
@network_option()
@click.option("--books", "books_path", default=None, type=click.Path(dir_okay=False),
              help="Record the demo's holders, accounts, securities and documents in the operator's books (SQLite).")
def cli(cli_ctx, network, books_path):
    cli_ctx.logger.set_level("WARNING")  # our own lines say what happens; no per-tx INFO
    books = None
    try:
        if books_path is not None:
            from regchain.supervise.books import Books

            books = Books(books_path)
        run(network.name, books)
        if books is not None:
            click.echo(f"books: {books_path} ({', '.join(f'{k} {v}' for k, v in books.counts().items())})")
    except (SetupError, SuperviseError, ApeException) as exc:
        raise click.ClickException(one_line(exc)) from None
    finally:
        if books is not None:
            books.close()


def run(network_name: str, books=None):
    click.echo("== suite")
    setup = ensure_suite(network_name, echo=click.echo)
    reg, registrar = setup.register, setup.registrar_signer
    if registrar is None:
        raise SetupError("the demo needs the registrar's key (a test account)")

    click.echo("\n== calendar")
    # the market's days; past the official data a provisional year, so the devnet runs a year ahead
    ensure_calendar(reg, registrar, back_days=400, ahead_days=366, provisional=True, echo=click.echo)
    today = int(reg.today())
    click.echo(f"today is {cal.date_of(today)} (day {today}), trading-day number "
               f"{int(reg.trading_day_number_of_day(today))}")

    demo = Demo(reg, registrar, books)
    click.echo("\n== accounts")
    demo.open_accounts()

    run_no = int(reg.security_count()) // 2 + 1
    while any(int(reg.security_id(common.code_hash(f"DEMO-{run_no}-{k}"))) for k in ("LLC", "JSC")):
        run_no += 1  # codes taken (securities registered by someone else): next number
    llc_code, jsc_code = f"DEMO-{run_no}-LLC", f"DEMO-{run_no}-JSC"
    click.echo(f"\n== initial registration (run {run_no})")
    past, recent, lock = today - 90, today - 1, today + 180
    llc = demo.register_security(llc_code, Kind.LLC, issuer_of(run_no, Kind.LLC), [
        # name, units (RMB 1 of registered capital each), paid-in, acquired day, lock-up day
        ("alice", 6_000_000, 6_000_000, past, 0),
        ("bob", 3_000_000, 1_500_000, past, 0),
        ("carol", 1_000_000, 0, past, 0),
    ])
    jsc = demo.register_security(jsc_code, Kind.JSC, issuer_of(run_no, Kind.JSC), [
        ("alice", 4_000_000, 4_000_000, past, 0),
        ("bob", 3_000_000, 3_000_000, past, 0),
        ("dave", 2_000_000, 2_000_000, past, lock),   # locked up (限售) for 180 days
        ("carol", 1_000_000, 1_000_000, recent, 0),   # acquired yesterday
    ])
    demo.cap_table(llc, f"{llc_code} before")
    demo.cap_table(jsc, f"{jsc_code} before")

    click.echo("\n== transfers")
    demo.transfer("JSC", jsc, "alice", "bob", 500_000)
    demo.transfer("JSC", jsc, "bob", "erin", 100_000)        # receiver not qualified
    demo.transfer("JSC", jsc, "alice", "frank", 100_000)     # receiver has no account
    demo.transfer("JSC", jsc, "dave", "alice", 100_000)      # locked up
    demo.transfer("JSC", jsc, "carol", "alice", 100_000)     # holding period
    demo.transfer("JSC", jsc, "alice", "dave", 9_000_000)    # more than alice holds
    demo.transfer("LLC", llc, "bob", "dave", 1_000_000)      # new holder; paid-in moves first
    demo.transfer("JSC", jsc, "bob", "alice", 100_000)       # bob acquired today: holding period

    click.echo("\n== capital increase (增资)")
    subs = [(demo.who["alice"].address, 2_000_000, 2_000_000),
            (demo.who["carol"].address, 1_000_000, 250_000)]
    # carol is not a shareholder: the resolution waives pre-emption (Company Law art 227)
    reg.increase_capital_waived(llc, subs, demo.doc(f"{llc_code} pre-emption waiver"),
                                demo.doc(f"{llc_code} capital increase resolution"), sender=registrar)
    click.echo(f"  {llc_code}: +2,000,000 to alice (fully paid), +1,000,000 to carol "
               f"(250,000 paid); registered capital now {int(reg.totalSupply(llc)):,}")
    demo.transfer("LLC", llc, "carol", "bob", 100_000)       # carol subscribed today

    click.echo("\n== cap tables")
    demo.cap_table(llc, llc_code)
    demo.cap_table(jsc, jsc_code)
    click.echo(f"\ndemo done: register {reg.address}, securities {llc} and {jsc}")
