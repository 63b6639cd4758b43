"""Shared actors and factories. Actors are session-scoped; ape isolates each test
(chain snapshot per test), so state a test creates is gone after it."""

from __future__ import annotations

import os

import ape_ethereum.trace
import pytest
from eth_utils import keccak, to_checksum_address

from regchain import calendar as cal
from regchain import suite
from regchain.testing import profiles
from regchain.constants import InvestorClass, Kind, Role, SecurityRole

from pg_cluster import index_db_location, postgres_server  # noqa: F401  (fixtures: the indexer on PostgreSQL)

profiles.load()

# regchain.writer's journals (what a writer has in flight) of this test session: a folder of
# its own, not the user's state folder; subprocesses the tests start inherit it
if not os.environ.get("REGCHAIN_WRITER_JOURNAL_DIR"):
    import tempfile

    os.environ["REGCHAIN_WRITER_JOURNAL_DIR"] = tempfile.mkdtemp(prefix="regchain-journal-")

# The calendar the tests publish: weekdays from ~1.5 years back to ~1 year ahead.
CALENDAR_BACK_DAYS = 550
CALENDAR_AHEAD_DAYS = 380


def doc(text: str) -> bytes:
    """A document reference: keccak of a short text."""
    return keccak(text=text)


def script_module(name: str, tag: str = "test"):
    """scripts/<name>.py (an `ape run` script), loaded as its own module (``tag`` keeps modules
    of different test files apart)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"regchain_script_{tag}_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def script_cli(name: str, tag: str = "test"):
    """The click command of scripts/<name>.py (see script_module)."""
    return script_module(name, tag).cli


# a transfer of encumbered units (ledger.vy _check); a capital decrease says "corporate_actions: ..."
FREE = "ledger: amount exceeds free balance"


def events(receipt, event) -> list[dict]:
    """The arguments of each `event` log of a receipt."""
    return [dict(log.event_arguments) for log in receipt.events.filter(event)]


def block_time(chain, receipt) -> int:
    return chain.provider.get_block(receipt.block_number).timestamp


def wallet(i: int, series: int) -> str:
    """The i-th address of a series: custody accounts that never sign (holder caps, batches).
    Each test module keeps its own series."""
    return to_checksum_address("0x" + ((series << 16) + i).to_bytes(20, "big").hex())


def pledge(register, pledgor, pledgee, sid, units) -> int:
    """An accepted pledge (offered by the pledgor, accepted by the pledgee); returns its id."""
    register.offer_pledge(sid, pledgee, units, doc("pledge contract"), sender=pledgor)
    pid = register.pledge_count()
    register.accept_pledge(pid, doc("acceptance"), sender=pledgee)
    return pid


def freeze(register, court, owner, sid, units, days=30, case="case"):
    """A court's freeze until today + days; returns (freeze id, receipt)."""
    receipt = register.freeze(owner, sid, units, doc(case), register.today() + days, doc("ruling"), sender=court)
    return register.freeze_count(), receipt


def assert_encumbrances_fit(register, owner, sid):
    """Neither the pledged nor the frozen units of a holding exceed its balance."""
    balance = register.balanceOf(owner, sid)
    assert register.pledged_balance_of(owner, sid) <= balance
    assert register.frozen_balance_of(owner, sid) <= balance


def pytest_runtest_setup(item):
    """Set fixtures up in pytest's order (autouse first, then as the test and the fixtures
    name them) within each of ape's isolation scopes.

    ape's isolation (eth-ape 0.8.51) rewrites each test's fixture list scope by scope in the
    order fixture *names* were first collected in the whole session, not in pytest's order.
    A module whose autouse fixture opens the accounts its other module fixtures use
    (tests/test_instructions.py) then worked alone, but after a module that defines a
    fixture of the same name (`llc` in tests/test_ledger.py) that fixture was set up first,
    before the accounts: 68 setup errors "registration: holder account not active". This hook
    runs after ape's (plugins registered later run first) and before pytest sets anything
    up; it keeps ape's isolation fixture at the head of each scope."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:  # not a test function (a doctest, say): nothing to order
        return
    rank = {name: i for i, name in enumerate(info.names_closure)}
    ordered, block = [], []
    for name in item.fixturenames:
        if name.endswith("_isolation") and name.startswith("_"):
            ordered += sorted(block, key=lambda n: rank.get(n, len(rank)))
            ordered.append(name)
            block = []
        else:
            block.append(name)
    item.fixturenames = ordered + sorted(block, key=lambda n: rank.get(n, len(rank)))


@pytest.fixture(scope="module")
def setup_order(request):
    """Appends its name to the requesting module's SETUP_ORDER when set up (a conftest
    fixture, so its name is collected before any test module's: tests/test_fixture_order.py)."""
    request.module.SETUP_ORDER.append("setup_order")


@pytest.fixture(scope="session", autouse=True)
def _no_revert_traces():
    """ape-foundry renders a full call trace for every revert (~0.3 s each); the tests
    assert the reason, which ape.reverts checks. REGCHAIN_TRACES=1 brings traces back."""
    if os.environ.get("REGCHAIN_TRACES"):
        yield
        return
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ape_ethereum.trace.Trace, "show", lambda self, *args, **kwargs: None)
        yield


@pytest.fixture(scope="session")
def governance(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def registrar(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def issuer_agent(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def court(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def carol(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def dave(accounts):
    return accounts[7]


@pytest.fixture(scope="session")
def bank(carol):
    """A pledgee (tests of pledges and freezes): an active, qualified account with no holding."""
    return carol


@pytest.fixture(scope="session")
def buyer(dave):
    """A qualified buyer named in an enforcement or a court-ordered transfer (no holding)."""
    return dave


@pytest.fixture(scope="session")
def outsider(accounts):
    return accounts[8]


@pytest.fixture(scope="session")
def register(governance, registrar, court):
    """The deployed suite with the registrar's roles and a published calendar."""
    reg = suite.deploy(governance, governance)
    reg.grant_role(registrar, Role.REGISTRAR, doc("grant"), sender=governance)
    reg.grant_role(court, Role.COURT_AGENT, doc("grant"), sender=governance)
    today = reg.today()
    for first, last in cal.chunks(today - CALENDAR_BACK_DAYS, today + CALENDAR_AHEAD_DAYS, 366):
        reg.publish_calendar(first, last, cal.weekdays(first, last), doc("calendar"), sender=registrar)
    return reg


@pytest.fixture(scope="session")
def today(register):
    return register.today()


@pytest.fixture(scope="session")
def open_account(register, registrar):
    """open_account(who, qualified=True, investor_class=INDIVIDUAL) -> who"""

    def _open(who, qualified=True, investor_class=InvestorClass.INDIVIDUAL):
        address = getattr(who, "address", who)
        register.open_account(address, doc(f"id:{address}"), investor_class, qualified,
                              doc("open"), sender=registrar)
        return who

    return _open


@pytest.fixture(scope="session")
def new_security(register, registrar, issuer_agent, governance, today):
    """new_security(holdings, kind=JSC, acquired_day=today-60, seal=True, scale=0) -> id

    `holdings` is a list of (holder, units) or (holder, units, paid); the holders'
    accounts must be open. The issuer agent gets ISSUER_AGENT on the new id.
    """
    counter = {"n": 0}

    def _new(holdings, kind=Kind.JSC, acquired_day=None, seal=True, scale=0, declared_total=None,
             lock_until_day=0, insider=False):
        counter["n"] += 1
        code = doc(f"security-{counter['n']}-{register.security_count()}")
        total = declared_total if declared_total is not None else sum(h[1] for h in holdings)
        register.register_security(code, kind, scale, total, doc("registration"), sender=registrar)
        sid = register.security_id(code)
        acquired = today - 60 if acquired_day is None else acquired_day
        batch = []
        for h in holdings:
            holder, units = h[0], h[1]
            paid = h[2] if len(h) > 2 else units
            batch.append((getattr(holder, "address", holder), units, paid, acquired, lock_until_day, insider))
        if batch:
            register.register_holdings(sid, batch, doc("holdings"), sender=registrar)
        register.grant_security_role(sid, issuer_agent, SecurityRole.ISSUER_AGENT, doc("grant"), sender=governance)
        if seal:
            register.seal_security(sid, doc("seal"), sender=registrar)
        return sid

    return _new


@pytest.fixture(scope="module")
def cash(governance, register, project):
    """A cash token (contracts/test/CashToken.vy) governance has accepted."""
    token = governance.deploy(project.CashToken)
    register.set_cash_token(token, True, doc("cash"), sender=governance)
    return token


@pytest.fixture(scope="session")
def advance_days(chain):
    """Move the chain clock forward by whole days (mines one block)."""

    def _advance(days: int):
        chain.pending_timestamp += days * 86400
        chain.mine()

    return _advance


@pytest.fixture(scope="module")
def sid(register, alice, bob, bank, buyer, open_account, new_security):
    """A sealed JSC (test_pledges, test_freezes, test_rules_paths): alice and bob hold 1000 each, acquired 60 days ago."""
    for who in (alice, bob, bank, buyer):
        open_account(who)
    return new_security([(alice, 1000), (bob, 1000)])
