"""One-way bidding (单向竞价): what the issue requires of a bid that the contract
does not do yet (found by the stateful model, regchain.stateful). Strict xfail:
each test is the spec and turns into a failure (XPASS) once auctions.vy is
fixed; regchain.model.RegisterModel.bid_refusal mirrors today's contract and
must then follow the spec too."""

import ape
import pytest

from conftest import doc
from regchain.constants import SecurityStatus


@pytest.fixture
def cash(governance, register, project):
    token = governance.deploy(project.CashToken)
    register.set_cash_token(token, True, doc("cash"), sender=governance)
    return token


@pytest.mark.xfail(strict=True, reason=(
    "auctions.vy _may_receive refuses a bid only when the receiver's refusal (account, "
    "qualification, institutional-only) is the FIRST failing rule of ledger._check(seller, "
    "bidder, ...): while an earlier rule fails (security suspended, seller's account not "
    "active, calendar not published) an unqualified or unopened bidder's bid is accepted and "
    "its cash escrowed; the issue says only qualified buyers bid"))
@pytest.mark.parametrize("meanwhile", ["security suspended", "seller's account suspended"])
def test_bid__unqualified_bidder_refused_whatever_else_fails(
    register, registrar, alice, bob, carol, open_account, new_security, cash, meanwhile
):
    open_account(alice)
    open_account(bob)
    open_account(carol, qualified=False)
    sid = new_security([(alice, 1_000), (bob, 1_000)])
    register.list_units(sid, 100, 500, cash, register.today() + 5, doc("listing"), sender=alice)
    lid = register.listing_count()
    cash.mint(carol, 1_000, sender=carol)
    cash.approve(register, 1_000, sender=carol)
    with ape.reverts("ledger: receiver not qualified"):
        register.bid(lid, 600, doc("bid"), sender=carol)  # refused while nothing else fails
    if meanwhile == "security suspended":
        register.set_security_status(sid, SecurityStatus.SUSPENDED, doc("status"), sender=registrar)
    else:
        register.suspend_account(alice, doc("suspend"), sender=registrar)
    with ape.reverts("ledger: receiver not qualified"):
        register.bid(lid, 600, doc("bid"), sender=carol)
