# pragma version 0.4.3
"""
@title recovery
@notice Lost-key recovery: the recovery manager moves an account's holdings,
        with their pledges, freezes, lock-ups and insider records, to the
        holder's new address (accounts._recover moves the account). AdminDesk
        serves it, beside the accounts.
@dev Keeps no storage of its own: it writes ledger.vy's holding words and
     insider records and encumbrances.vy's queues through `uses:`. Its
     reverts start "recovery: "; those of the checks it calls in other
     modules (accounts._recover) start with their module's name.
"""

from . import roles
from . import calendar
from . import accounts
from . import encumbrances
from . import ledger

uses: roles
uses: calendar
uses: accounts
uses: encumbrances
uses: ledger

# Most encumbered holdings (carrying pledges or freezes) one recover call may move:
# each takes its up to 8 pledges and 64 freezes along (~2.3M gas more than a plain
# one), so a recovery of MAX_BATCH ids of which this many are encumbered (and every
# one with an insider quota record) leaves half of a 30M block free.
MAX_RECOVER_ENCUMBERED: constant(uint256) = 1


event HoldingRecovered:
    old_owner: indexed(address)
    new_owner: indexed(address)
    id: indexed(uint256)
    amount: uint256
    actor: address
    doc: bytes32


@external
def recover(old_owner: address, new_owner: address, ids: DynArray[uint256, 256], doc: bytes32):
    """
    @notice Lost key: move the listed holdings of `old_owner`, with their
            acquisition days, lock-ups and insider quotas, to `new_owner`.
            A fresh `new_owner` takes over the account and `old_owner` is
            closed; the holder count does not change. A target that holds
            anything of a listed security (units, a lock-up, an insider flag
            or record, a pledge or freeze, even on no units) is refused, never
            merged: its pledges and freezes rank by their own registration,
            two queues cannot become one without reordering a court's or a
            pledgee's rank, and a recovery moves one holder's holding to the
            same holder's new key, where there is nothing to merge with.
    @param old_owner The lost address.
    @param new_owner The new address (fresh, or already recovered to).
    @param ids Securities to move; at most MAX_BATCH per call, of which at
           most MAX_RECOVER_ENCUMBERED (1) carries pledges or freezes (they
           move along); recover more in further calls to the same `new_owner`.
    @param doc Reference (hash) of the recovery application.
    """
    roles._check_role(roles.Role.RECOVERY_MANAGER)
    assert not calendar._paused(), "recovery: paused"
    n: uint256 = len(ids)
    assert n != 0, "recovery: empty batch"
    assert n <= ledger.MAX_BATCH, "recovery: batch too large"
    accounts._recover(old_owner, new_owner, doc)
    encumbered: uint256 = 0
    for id: uint256 in ids:
        assert id <= ledger.AMOUNT_MAX, "recovery: unknown security"
        h: uint256 = ledger.holding_data[ledger._key(old_owner, id)]
        amount: uint256 = h & ledger.AMOUNT_MAX
        assert amount != 0, "recovery: nothing to recover"
        # only a stale acquisition day of units sold may be there
        assert (
            ledger.holding_data[ledger._key(new_owner, id)] & ~(ledger.MASK24 << ledger.ACQUIRED_SHIFT) == 0
            and not encumbrances._is_encumbered(ledger._key(new_owner, id))
            and ledger.insider_quota[ledger._key(new_owner, id)] == 0
        ), "recovery: recovery target already holds"
        ledger.holding_data[ledger._key(new_owner, id)] = h
        ledger.holding_data[ledger._key(old_owner, id)] = 0
        if h & ledger.ENCUMBERED_BIT != 0:
            encumbered += 1
            assert encumbered <= MAX_RECOVER_ENCUMBERED, "recovery: too many encumbered holdings in one recovery"
            encumbrances._move_all(ledger._key(old_owner, id), ledger._key(new_owner, id), new_owner)
        q: uint256 = ledger.insider_quota[ledger._key(old_owner, id)]
        if q != 0:
            ledger.insider_quota[ledger._key(new_owner, id)] = q
            ledger.insider_quota[ledger._key(old_owner, id)] = 0
        log ledger.Transfer(caller=msg.sender, sender=old_owner, receiver=new_owner, id=id, amount=amount)
        log ledger.ForcedTransfer(
            sender=old_owner, receiver=new_owner, id=id, amount=amount, path=ledger.RECOVERY, ref=0, actor=msg.sender, doc=doc
        )
        log HoldingRecovered(old_owner=old_owner, new_owner=new_owner, id=id, amount=amount, actor=msg.sender, doc=doc)
