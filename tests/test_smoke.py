from conftest import doc

def test_transfer_between_existing_holders(register, alice, bob, open_account, new_security):
    open_account(alice); open_account(bob)
    sid = new_security([(alice, 1000), (bob, 1000)])
    print(register.can_transfer(alice, bob, sid, 10))
    r = register.transfer(bob, sid, 10, sender=alice)
    r2 = register.transfer(bob, sid, 10, sender=alice)
    print("gas", r.gas_used, r2.gas_used)
    assert register.balanceOf(alice, sid) == 980
