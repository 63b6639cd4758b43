# pragma version 0.4.3
"""
@title FeeOnTransfer
@notice A test cash token that keeps a fee of every transfer (1 % unless set
        otherwise): the receiver gets less than was asked (tokens of this kind
        exist), or, with the fee charged on top, the sender loses more than it
        sent. The register must refuse it either way. Tests only.
"""

from . import CashToken as base

initializes: base

exports: (base.balanceOf, base.allowance, base.totalSupply, base.mint, base.approve)

# The fee in basis points of the amount sent.
fee_bps: public(uint256)
# Whether the fee is charged to the sender on top of the amount (else taken out of it).
on_top: public(bool)


@deploy
def __init__():
    self.fee_bps = 100


@external
def set_fee(fee_bps: uint256, on_top: bool):
    assert fee_bps <= 10_000, "fee: above 100 %"
    self.fee_bps = fee_bps
    self.on_top = on_top


@external
def transfer(to: address, amount: uint256) -> bool:
    self._move_with_fee(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    base._spend(owner, msg.sender, amount)
    self._move_with_fee(owner, to, amount)
    return True


@internal
def _move_with_fee(owner: address, to: address, amount: uint256):
    fee: uint256 = amount * self.fee_bps // 10_000
    base._burn(owner, fee)
    base._move(owner, to, amount if self.on_top else amount - fee)
