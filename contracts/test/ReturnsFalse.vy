# pragma version 0.4.3
"""
@title ReturnsFalse
@notice A test cash token that, once `refuse` is set, answers every transfer
        with `false` and moves nothing instead of reverting (tokens of this kind
        exist). The register must treat `false` as a failed payment. Tests only.
"""

from . import CashToken as base

initializes: base

exports: (base.balanceOf, base.allowance, base.totalSupply, base.mint, base.approve)

# Whether transfers now fail (returning false).
refusing: public(bool)


@external
def refuse(refusing: bool):
    self.refusing = refusing


@external
def transfer(to: address, amount: uint256) -> bool:
    if self.refusing:
        return False
    base._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    if self.refusing:
        return False
    base._spend(owner, msg.sender, amount)
    base._move(owner, to, amount)
    return True
