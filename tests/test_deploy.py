"""suite.deploy_or_reuse: the desks depend on nothing, Register on every desk, so a
redeployed desk forces a new Register and nothing else."""

from __future__ import annotations

import os

import pytest

from regchain import deployments, suite


@pytest.fixture
def network():
    """A deployment record of its own (deployments/<name>.json), removed afterwards."""
    name = f"test-deploy-{os.getpid()}"
    yield name
    deployments.path_for(name).unlink(missing_ok=True)


def _fresh(deployment):
    return [step.instance.contract_type.name for step in deployment.steps if not step.reused]


def test_deploy_or_reuse__nothing_changed__reuses_every_contract(governance, network):
    first = suite.deploy_or_reuse(governance, governance, network=network)
    again = suite.deploy_or_reuse(governance, governance, network=network)

    assert _fresh(first) == list(suite.SUITE_ORDER)
    assert again.reused and again.register.address == first.register.address
    assert deployments.register_address(network) == str(first.register.address)


def test_deploy_or_reuse__desk_redeployed__only_register_follows(governance, network):
    first = suite.deploy_or_reuse(governance, governance, network=network)
    record = deployments.load(network)
    record["contracts"]["PledgeDesk"]["code_hash"] = "0x" + "00" * 32  # as after a change of its code
    deployments._write(network, record)

    second = suite.deploy_or_reuse(governance, governance, network=network)

    assert _fresh(second) == ["PledgeDesk", "Register"]
    assert second.steps[-1].reason == f"deployed Register at {second.register.address} (PledgeDesk redeployed)"
    pledge_desk = second.steps[suite.SUITE_ORDER.index("PledgeDesk")].instance.address
    assert second.register.PLEDGE_DESK() == pledge_desk != first.register.PLEDGE_DESK()
    assert second.register.AUCTION_DESK() == first.register.AUCTION_DESK()
    assert deployments.register_address(network) == str(second.register.address)


def test_deploy_or_reuse__other_clock__redeploys_every_contract(governance, network):
    suite.deploy_or_reuse(governance, governance, network=network)

    second = suite.deploy_or_reuse(governance, governance, network=network, utc_offset_s=0)

    assert _fresh(second) == list(suite.SUITE_ORDER)
    assert second.register.UTC_OFFSET() == 0
