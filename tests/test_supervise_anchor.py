"""The Anchor contract: who may anchor, what it logs, what a snapshot costs."""

from __future__ import annotations

import ape
import pytest
from ape import project
from conftest import events
from eth_utils import keccak


@pytest.fixture(scope="module")
def anchor(register, governance):
    return project.Anchor.deploy(register.address, sender=governance)


def item(i: int):
    return (f"rc-31337:registration:{1000 + i}-{i}-{'ab' * 20}", i % 3, keccak(text=f"d{i}"), keccak(text=f"tx{i}"))


def test_anchor__registrar__one_log_per_snapshot_in_order(anchor, registrar):
    items = [item(i) for i in range(3)]
    receipt = anchor.anchor(items, sender=registrar)
    logs = events(receipt, anchor.SnapshotAnchored)
    assert len(logs) == 3
    for log, (oid, version, digest, btx) in zip(logs, items):
        assert log["object_key"] == keccak(text=oid)
        assert (log["object_id"], log["version"], log["digest"], log["business_tx"]) == (oid, version, digest, btx)


@pytest.mark.parametrize("who", ["outsider", "court", "governance"])
def test_anchor__not_security_manager__reverts(anchor, who, request):
    with ape.reverts("anchor: caller is not a security manager"):
        anchor.anchor([item(0)], sender=request.getfixturevalue(who))


def test_anchor__empty_batch__reverts(anchor, registrar):
    with ape.reverts("anchor: no snapshots"):
        anchor.anchor([], sender=registrar)


def test_anchor__empty_digest__reverts(anchor, registrar):
    oid, version, _, btx = item(0)
    with ape.reverts("anchor: empty digest"):
        anchor.anchor([item(1), (oid, version, b"\x00" * 32, btx)], sender=registrar)


def test_deploy__register_not_a_contract__reverts(governance, outsider):
    with ape.reverts("anchor: register is not a contract"):
        project.Anchor.deploy(outsider.address, sender=governance)


def test_anchor__full_batch__gas_per_snapshot_within_goal(anchor, registrar):
    receipt = anchor.anchor([item(i) for i in range(256)], sender=registrar)
    per = receipt.gas_used / 256
    assert per <= 15_000, per
