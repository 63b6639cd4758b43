# pragma version 0.4.3
"""
@title Reentrant
@notice A test cash token that calls back into a contract in the middle of a
        transfer: `arm(target, data)` makes the next `transfer` or
        `transferFrom` send `data` to `target` before moving the tokens. The
        callback's outcome is kept (`reentered`, `reentry_reply`) and logged;
        a refused callback does not stop the transfer. Tests only.
"""

from . import CashToken as base

initializes: base

exports: (base.balanceOf, base.allowance, base.totalSupply, base.mint, base.approve)

# The call made at the next transfer (cleared once made).
target: public(address)
calldata: public(Bytes[1024])
# Whether the last callback succeeded, and what it returned (its revert data if it failed).
reentered: public(bool)
reentry_reply: public(Bytes[256])

event Reentered:
    target: indexed(address)
    success: bool
    reply: Bytes[256]


@external
def arm(target: address, data: Bytes[1024]):
    self.target = target
    self.calldata = data


@external
def transfer(to: address, amount: uint256) -> bool:
    self._call_back()
    base._move(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self._call_back()
    base._spend(owner, msg.sender, amount)
    base._move(owner, to, amount)
    return True


@internal
def _call_back():
    target: address = self.target
    if target == empty(address):
        return
    self.target = empty(address)
    success: bool = False
    reply: Bytes[256] = b""
    success, reply = raw_call(target, self.calldata, max_outsize=256, revert_on_failure=False)
    self.reentered = success
    self.reentry_reply = reply
    log Reentered(target=target, success=success, reply=reply)
