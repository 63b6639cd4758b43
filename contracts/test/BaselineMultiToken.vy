# pragma version 0.4.3
"""
@title BaselineMultiToken
@notice Test-only gas baseline: a plain ERC-6909 style multi-token with no
        transfer rules. Minting is unrestricted. Not for deployment.
"""

event Transfer:
    caller: address
    sender: indexed(address)
    receiver: indexed(address)
    id: indexed(uint256)
    amount: uint256

balanceOf: public(HashMap[address, HashMap[uint256, uint256]])


@external
def mint(to: address, id: uint256, amount: uint256):
    self.balanceOf[to][id] += amount
    log Transfer(caller=msg.sender, sender=empty(address), receiver=to, id=id, amount=amount)


@external
def transfer(receiver: address, id: uint256, amount: uint256) -> bool:
    # Checked arithmetic: reverts on insufficient balance.
    self.balanceOf[msg.sender][id] -= amount
    self.balanceOf[receiver][id] += amount
    log Transfer(caller=msg.sender, sender=msg.sender, receiver=receiver, id=id, amount=amount)
    return True
