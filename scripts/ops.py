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

from pathlib import Path

import click

from regchain import cli as common
from regchain.constants import InvestorClass, Kind
from regchain.ops import accounts, business, calendar as calendar_ops, holdings, reads, securities
from regchain.ops.session import Session

doc_opt = click.option("--doc", "doc_text", default=None, help="Business document: text (hashed) or a 0x hash.")
books_opt = click.option("--books", "books_path", default=None, type=click.Path(dir_okay=False),
                         help="Also record the names in the operator's books (SQLite) once the chain accepted.")


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
    ctx.obj = Session(network, register_address, account, yes, as_json, custody, instruction)


# ---------------------------------------------------------------- accounts


@cli.group()
def account():
    """Investor accounts (基础账户管理)."""


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
    accounts.open_account(obj, address, id_type, id_number, identity, klass, qualified, doc_text, books_path, name,
                          account_no)


def _status_command(name):
    @account.command(name, help=f"{name.capitalize()} the investor account at ADDRESS (registrar).")
    @click.argument("address")
    @doc_opt
    @click.pass_obj
    def cmd(obj, address, doc_text):
        accounts.set_status(obj, name, address, doc_text)
    return cmd


for _name in accounts.STATUS_FUNCTIONS:
    _status_command(_name)


@account.command("qualify")
@click.argument("address")
@click.option("--qualified/--not-qualified", default=True, show_default=True,
              help="Qualified investor (合格投资者) or not.")
@doc_opt
@click.pass_obj
def account_qualify(obj, address, qualified, doc_text):
    """Record whether the holder at ADDRESS is a qualified investor."""
    accounts.qualify(obj, address, qualified, doc_text)


# ---------------------------------------------------------------- securities, calendar


@cli.group()
def security():
    """Securities and initial registration (股权初始登记)."""


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
    securities.register_security(obj, code, kind, scale, total, holdings, seal, doc_text, books_path, name,
                                 issuer_uscc)


@security.command("status")
@click.argument("security")
@click.argument("status", type=click.Choice(["active", "suspended", "delisted"]))
@doc_opt
@click.pass_obj
def security_status(obj, security, status, doc_text):
    """Suspend, reactivate or delist SECURITY (its code, or #id)."""
    securities.set_status(obj, security, status, doc_text)


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
    calendar_ops.publish(obj, ahead_days, provisional)


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
    calendar_ops.amend(obj, first, last, closed, doc_text)


# ---------------------------------------------------------------- transfers


@cli.command()
@click.argument("receiver")
@click.argument("security")
@click.argument("amount")
@click.pass_obj
def transfer(obj, receiver, security, amount):
    """Transfer AMOUNT (in the security's unit) of SECURITY (code or #id) from the signer to
    RECEIVER; checked with can_transfer first."""
    holdings.transfer(obj, receiver, security, amount)


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
    holdings.offer_pledge(obj, security, pledgee, units, doc_text)


@pledge.command("accept")
@click.argument("pledge_id", type=int)
@doc_opt
@click.pass_obj
def pledge_accept(obj, pledge_id, doc_text):
    """The pledgee (signer, the bank) accepts the offered pledge PLEDGE_ID: it is registered."""
    holdings.accept_pledge(obj, pledge_id, doc_text)


@pledge.command("release")
@click.argument("pledge_id", type=int)
@click.argument("units")
@doc_opt
@click.pass_obj
def pledge_release(obj, pledge_id, units, doc_text):
    """The pledgee releases UNITS (in the security's unit) of pledge PLEDGE_ID."""
    holdings.release_pledge(obj, pledge_id, units, doc_text)


@pledge.command("enforce")
@click.argument("pledge_id", type=int)
@click.argument("receiver")
@click.argument("units")
@doc_opt
@click.pass_obj
def pledge_enforce(obj, pledge_id, receiver, units, doc_text):
    """Enforce pledge PLEDGE_ID: UNITS (in the security's unit) to RECEIVER."""
    holdings.enforce_pledge(obj, pledge_id, receiver, units, doc_text)


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
    holdings.freeze(obj, owner, security, units, case_no, expiry, doc_text)


@freeze.command("lift")
@click.argument("freeze_id", type=int)
@doc_opt
@click.pass_obj
def freeze_lift(obj, freeze_id, doc_text):
    """The court's agent lifts freeze FREEZE_ID (解除冻结); a waiting freeze behind it may take effect."""
    holdings.lift_freeze(obj, freeze_id, doc_text)


@freeze.command("renew")
@click.argument("freeze_id", type=int)
@click.argument("expiry")
@doc_opt
@click.pass_obj
def freeze_renew(obj, freeze_id, expiry, doc_text):
    """The court's agent renews freeze FREEZE_ID (续行冻结) to EXPIRY (YYYY-MM-DD)."""
    holdings.renew_freeze(obj, freeze_id, expiry, doc_text)


@cli.command("court-transfer")
@click.argument("freeze_id", type=int)
@click.argument("receiver")
@click.argument("units")
@doc_opt
@click.pass_obj
def court_transfer(obj, freeze_id, receiver, units, doc_text):
    """Court-ordered transfer of UNITS (in the security's unit) held by freeze FREEZE_ID in force."""
    holdings.court_transfer(obj, freeze_id, receiver, units, doc_text)


# ---------------------------------------------------------------- roles


@cli.group()
def role():
    """Global roles (governance only)."""


@role.command("grant")
@click.argument("address")
@click.argument("roles")
@doc_opt
@click.pass_obj
def role_grant(obj, address, roles, doc_text):
    """Grant ADDRESS the global ROLES (comma-separated: REGISTRAR, COURT_AGENT, ...)."""
    accounts.change_roles(obj, "grant", address, roles, doc_text)


@role.command("revoke")
@click.argument("address")
@click.argument("roles")
@doc_opt
@click.pass_obj
def role_revoke(obj, address, roles, doc_text):
    """Take the global ROLES (comma-separated) from ADDRESS."""
    accounts.change_roles(obj, "revoke", address, roles, doc_text)


# ---------------------------------------------------------------- reads (from the indexer)


@cli.group()
def show():
    """Reads, from the register rebuilt from events."""


@show.command("holder")
@click.argument("address")
@click.pass_obj
def show_holder(obj, address):
    """ADDRESS's account and holdings: units, pledged, frozen, free, lock-ups."""
    reads.holder(obj, address)


@show.command("cap-table")
@click.argument("sid", type=int)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the cap table to this CSV file.")
@click.pass_obj
def show_cap_table(obj, sid, csv_path):
    """The cap table (股东名册) of security SID today: holders, units, paid-in, share, encumbrances."""
    reads.cap_table(obj, sid, csv_path)


@show.command("history")
@click.argument("owner")
@click.argument("sid", type=int)
@click.pass_obj
def show_history(obj, owner, sid):
    """Every event that touched OWNER's holding of SID, oldest first."""
    reads.history(obj, owner, sid)


# ---------------------------------------------------------------- the other business actions
#
# One command per (group, command, register function, help): its arguments are the function's
# own, read from the suite's ABI and converted by what they are (regchain.ops.business).

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

GROUP_HELP = {"capital": "Capital changes (增资, 减资, 实缴).", "instruction": "Transfer instructions (协议转让, DvP).",
              "listing": "One-way bidding (单向竞价).", "cash": "Cash tokens and refunds (资金映射).",
              "recovery": "Recovery of a holder's lost key (非交易过户).", "governance": "Governance (pause, hand-over).",
              "holder": "A holder's own approvals and operators."}

business.install(cli, BUSINESS, GROUP_HELP)
