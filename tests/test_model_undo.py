"""The model's undo (regchain.testing.model.RegisterModel._atomic): a refused operation
leaves the model exactly as it was. The state is saved by hand-written copies
(`_STATE_COPY`, `_copied`), not copy.deepcopy: they must make what deepcopy makes, share no
mutable object with the live state, and cover every container a record holds."""

import copy
import dataclasses

import pytest

from regchain.constants import Kind, SecurityStatus
from regchain.testing import model as model_mod
from regchain.testing.model import (
    Account,
    Calendar,
    FreezeRec,
    Holding,
    InsiderQuota,
    InstructionRec,
    ListingRec,
    PledgeRec,
    Refused,
    RegisterModel,
    Security,
)

A, B, C = "0x" + "a1" * 20, "0x" + "b2" * 20, "0x" + "c3" * 20
TOKEN = "0x" + "ca" * 20


def _populated() -> RegisterModel:
    """A model with something in every part of the state (values set directly)."""
    m = RegisterModel(20_000, Calendar(19_000, 20_400, list(range(19_000, 20_400, 2))))
    m.accounts = {a: Account(1, 1, True, bytes([i + 1]) * 32) for i, a in enumerate((A, B, C))}
    m.securities = {1: Security(int(Kind.LLC), 0, 300, b"\x01" * 32, status=SecurityStatus.ACTIVE,
                                total_supply=300, holders={A, B})}
    m.holdings = {(A, 1): Holding(200, 100, 5, 0, True), (B, 1): Holding(100, 100, 6, 20_010)}
    m.insider_quota = {(A, 1): InsiderQuota(2024, 200, 10)}
    m.security_ids = {b"\x01" * 32: 1}
    m.pledges = {1: PledgeRec(A, B, 1, 50, 1, 1)}
    m.freezes = {1: FreezeRec(A, 1, 20, 20_100, 2, 0, True)}
    m.pledge_ids = {(A, 1): [1]}
    m.pledged = {(A, 1): 50}
    m.enforcement_consents = {1: (C, 10)}
    m.freeze_queue = {(A, 1): [1]}
    m.pledge_count, m.freeze_count, m.registration_seq = 1, 1, 2
    m.instructions = {1: InstructionRec(B, C, 1, 10, 1_000, TOKEN, 1, False, 20_010, 20_030, exercisers=[A])}
    m.instruction_count = 1
    m.cash = {(TOKEN, A): 5_000, (TOKEN, B): 7_000}
    m.escrowed = {TOKEN: 1_600}
    m.refunds = {(TOKEN, C): 600}
    m.listings = {1: ListingRec(A, 1, 30, 500, TOKEN, 20_005, 20_000, best_bidder=B, best_amount=1_000)}
    m.listing_count = 1
    return m


def _mutables(value, path="state"):
    """(path, object) of every mutable object reachable from `value`."""
    if isinstance(value, (list, set, dict)) or dataclasses.is_dataclass(value):
        yield path, value
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _mutables(v, f"{path}[{k!r}]")
    elif isinstance(value, (list, set, tuple)):
        for i, v in enumerate(value):
            yield from _mutables(v, f"{path}[{i}]")
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from _mutables(getattr(value, f.name), f"{path}.{f.name}")


def test_state_copy__what_deepcopy_makes__nothing_shared():
    m = _populated()
    for name, copy_ in RegisterModel._STATE_COPY.items():
        live = getattr(m, name)
        saved = copy_(live)
        assert saved == copy.deepcopy(live), name
        assert type(saved) is type(live), name
        shared = {id(o) for _, o in _mutables(live)} & {id(o) for _, o in _mutables(saved)}
        assert not shared, (name, [p for p, o in _mutables(saved) if id(o) in shared])


def test_state_copy__every_part_of_the_state():
    """`_STATE` is what `_STATE_COPY` copies; every attribute the model starts with that an
    operation may change is in it (the roles, fund managers, accepted tokens, the clock and
    the register's address are set by the harness, not by operations)."""
    assert RegisterModel._STATE == tuple(RegisterModel._STATE_COPY)
    not_undone = {"today", "roles", "fund_managers", "cash_tokens", "register_address"}
    assert set(vars(RegisterModel(1))) == set(RegisterModel._STATE) | not_undone


def test_records__every_container_field_copied():
    """A record field holding a list, set or dict is one `_copied` copies a level down."""
    records = [c for c in vars(model_mod).values()
               if isinstance(c, type) and issubclass(c, model_mod._Record) and c is not model_mod._Record]
    assert {Account, Security, Holding, InsiderQuota, PledgeRec, FreezeRec, InstructionRec, ListingRec} <= set(records)
    for cls in records:
        containers = {f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING}
        assert containers == set(cls._CONTAINERS), cls


@pytest.mark.parametrize("refused", ["register holdings", "increase capital", "decrease capital"])
def test_atomic__refused_batch_half_way__model_unchanged(refused):
    m = RegisterModel(20_000, Calendar(19_000, 20_400, list(range(19_000, 20_401))))
    for a in (A, B):
        m.open_account(a, bytes([1]) * 32, 1, True)
    sid = m.register_security(b"\x02" * 32, int(Kind.JSC), 0, 1_000)
    if refused == "register holdings":
        before = copy.deepcopy(m.__dict__)
        with pytest.raises(Refused, match="registration: holder account not active"):
            m.register_holdings(sid, [(A, 500, 500, 19_990, 0, False), (C, 500, 500, 19_990, 0, False)])
    else:
        m.register_holdings(sid, [(A, 500, 500, 19_990, 0, False), (B, 500, 500, 19_990, 0, False)])
        m.seal_security(sid)
        before = copy.deepcopy(m.__dict__)
        if refused == "increase capital":
            with pytest.raises(Refused, match="corporate_actions: holder account not active"):
                m.increase_capital(sid, [(A, 10, 10), (C, 10, 10)])
        else:
            with pytest.raises(Refused, match="corporate_actions: insufficient balance"):
                m.decrease_capital(sid, [(A, 10), (B, 10_000)])
    assert m.__dict__ == before
