"""What moves or encumbers units of a holding: `ops transfer`, `ops pledge offer|accept|release|enforce`,
`ops freeze add|lift|renew`, `ops court-transfer`. Amounts are decimals in the security's unit."""

from __future__ import annotations

import click

from regchain import cli as common
from regchain.ops.session import docref, done, run


def units_of(reg, sid: int, text: str, what: str = "amount") -> int:
    """A decimal amount of security `sid` in its smallest unit (its unit_scale)."""
    return common.amount_arg(text, int(reg.security(sid).unit_scale), what)


def transfer(session, receiver, security, amount):
    """Transfer AMOUNT of SECURITY from the signer to RECEIVER; checked with can_transfer first."""
    receiver = common.address_arg(receiver)
    common.security_text(security)
    common.amount_text(amount)

    def action(reg, who):
        sid = common.security_arg(reg, security)
        units = units_of(reg, sid, amount)
        ok, reason = reg.can_transfer(who.address, receiver, sid, units)
        if not ok:
            raise click.ClickException(f"refused: {reason}")
        done(reg.transfer(receiver, sid, units, sender=who), f"transferred {amount} of {security} to {receiver}")
    run(session, action)


# ---------------------------------------------------------------- pledges


def offer_pledge(session, security, pledgee, units, doc_text):
    pledgee = common.address_arg(pledgee)
    common.security_text(security)
    common.amount_text(units, "units")

    def action(reg, who):
        sid = common.security_arg(reg, security)
        r = reg.offer_pledge(sid, pledgee, units_of(reg, sid, units), docref(doc_text, f"pledge {sid} {pledgee}"),
                             sender=who)
        done(r, f"pledge {int(reg.pledge_count())} offered: {units} of {security} to {pledgee}")
    run(session, action)


def accept_pledge(session, pledge_id, doc_text):
    run(session, lambda reg, who: done(reg.accept_pledge(pledge_id, docref(doc_text, f"accept {pledge_id}"),
                                                         sender=who), f"pledge {pledge_id} accepted"))


def release_pledge(session, pledge_id, units, doc_text):
    common.amount_text(units, "units")

    def action(reg, who):
        amount = units_of(reg, int(reg.pledge_of(pledge_id).id), units)
        done(reg.release_pledge(pledge_id, amount, docref(doc_text, f"release {pledge_id}"), sender=who),
             f"pledge {pledge_id}: released {units}")
    run(session, action)


def enforce_pledge(session, pledge_id, receiver, units, doc_text):
    receiver = common.address_arg(receiver)
    common.amount_text(units, "units")

    def action(reg, who):
        amount = units_of(reg, int(reg.pledge_of(pledge_id).id), units)
        done(reg.enforce_pledge(pledge_id, receiver, amount, docref(doc_text, f"enforce {pledge_id}"), sender=who),
             f"pledge {pledge_id}: {units} enforced to {receiver}")
    run(session, action)


# ---------------------------------------------------------------- freezes


def freeze(session, owner, security, units, case_no, expiry, doc_text):
    """A court's freeze: in force, or waiting behind the freezes already in force (轮候)."""
    owner = common.address_arg(owner)
    common.security_text(security)
    common.amount_text(units, "units")
    expiry_day = common.day_arg(expiry)
    case = common.case_hash(case_no)

    def action(reg, who):
        sid = common.security_arg(reg, security)
        r = reg.freeze(owner, sid, units_of(reg, sid, units), case, expiry_day,
                       docref(doc_text, f"freeze {case_no}"), sender=who)
        fid = int(reg.freeze_count())
        ids, flags = reg.freeze_queue_of(owner, sid)
        state = "in force" if dict(zip(ids, flags)).get(fid) else "waiting (轮候)"
        done(r, f"freeze {fid}: {units} of {security} held by {owner}, {state}")
    run(session, action)


def lift_freeze(session, freeze_id, doc_text):
    run(session, lambda reg, who: done(reg.lift_freeze(freeze_id, docref(doc_text, f"lift {freeze_id}"), sender=who),
                                       f"freeze {freeze_id} lifted"))


def renew_freeze(session, freeze_id, expiry, doc_text):
    expiry_day = common.day_arg(expiry)
    run(session, lambda reg, who: done(reg.renew_freeze(freeze_id, expiry_day,
                                                        docref(doc_text, f"renew {freeze_id}"), sender=who),
                                       f"freeze {freeze_id} renewed to {expiry}"))


def court_transfer(session, freeze_id, receiver, units, doc_text):
    receiver = common.address_arg(receiver)
    common.amount_text(units, "units")

    def action(reg, who):
        amount = units_of(reg, int(reg.freeze_of(freeze_id).id), units)
        done(reg.court_transfer(freeze_id, receiver, amount, docref(doc_text, f"court order {freeze_id}"),
                                sender=who), f"freeze {freeze_id}: {units} moved to {receiver}")
    run(session, action)
