# pragma version 0.4.3
"""
@title NoReturn
@notice A test cash token whose `transfer` and `transferFrom` return nothing
        (USDT's shape) and revert on failure. The register accepts it. Tests only.
"""

from . import CashToken as base

initializes: base

exports: (base.balanceOf, base.allowance, base.totalSupply, base.mint, base.approve)


@external
def transfer(to: address, amount: uint256):
    base._move(msg.sender, to, amount)


@external
def transferFrom(owner: address, to: address, amount: uint256):
    base._spend(owner, msg.sender, amount)
    base._move(owner, to, amount)
