"""One-way bidding (单向竞价): only qualified buyers bid. Found by the stateful model
(regchain.testing.stateful): auctions.vy refused an unqualified or unopened bidder only when
that was the first failing transfer rule, so while an earlier rule failed (security
suspended, seller's account suspended) such a bid was accepted and its cash escrowed.
Now the receiver's side is checked on its own (auctions._may_receive, and
regchain.testing.model.RegisterModel.bid_refusal with it)."""

import ape
import pytest

from conftest import doc
from regchain.constants import SecurityStatus


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
