# pragma version 0.4.3
"""
@title FeeOnTransfer
@notice A test cash token that keeps a fee of 1 % of every transfer: the
        receiver gets less than was asked (tokens of this kind exist). The
        register must refuse it. Tests only.
"""

from . import CashToken as base

initializes: base

exports: (base.balanceOf, base.allowance, base.totalSupply, base.mint, base.approve)

FEE_BPS: constant(uint256) = 100


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move_less_fee(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    base._spend(owner, msg.sender, amount)
    self._move_less_fee(owner, to, amount)
    return True


@internal
def _move_less_fee(owner: address, to: address, amount: uint256):
    fee: uint256 = amount * FEE_BPS // 10_000
    base._burn(owner, fee)
    base._move(owner, to, amount - fee)
