"""Registration times of pledges and freezes are stored in seconds whatever the chain's
clock (issue 12): on a suite deployed for a millisecond clock (FISCO BCOS), as migrated
ones are. Runs on py-evm (titanoboa) in an environment of its own, with block.timestamp
in milliseconds."""

import time

import boa

from regchain.abi import SuiteAbi
from regchain.testing.backends import BoaBackend
from regchain.testing.stateful import doc, prepare_suite


def test_registered_at__millisecond_clock__stored_in_seconds(governance, registrar, court, alice, bob):
    with boa.swap_env(boa.Env()):
        boa.env.evm.patch.timestamp = int(time.time()) * 1000 + 123
        b = BoaBackend.deploy(governance.address, SuiteAbi.from_suite(), time_unit_ms=True)
        prepare_suite(b, governance.address, registrar.address, court.address)
        for w in (alice.address, bob.address):
            b.transact(registrar.address, "open_account", (w, doc(f"id:{w}"), 1, True, doc("open")), None)
        code = doc("ms clock security")
        b.transact(registrar.address, "register_security", (code, 2, 0, 200, doc("registration")), None)
        sid = b.call("security_id", code)
        today = b.call("today")
        rows = [(alice.address, 100, 100, today - 60, 0, False), (bob.address, 100, 100, today - 60, 0, False)]
        b.transact(registrar.address, "register_holdings", (sid, rows, doc("holdings")), None)
        b.transact(registrar.address, "seal_security", (sid, doc("seal")), None)
        b.transact(alice.address, "offer_pledge", (sid, bob.address, 10, doc("pledge")), None)
        pid = b.call("pledge_count")
        b.transact(bob.address, "accept_pledge", (pid, doc("acceptance")), None)
        b.transact(court.address, "freeze", (alice.address, sid, 10, doc("case"), today + 30, doc("ruling")), None)
        fid = b.call("freeze_count")
        seconds = b.timestamp() // 1000
        assert b.call("pledge_of", pid)[4] == seconds
        assert b.call("freeze_of", fid)[5] == seconds
