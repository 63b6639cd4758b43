"""The deployed register as one contract: Register plus its desks.

Register serves transfers and views; AdminDesk and IssuanceDesk serve the
administrative functions by DELEGATECALL on Register's storage. To a caller
they are one contract at Register's address, so Python sees them through one
merged ABI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ape import chain, project
from ethpm_types import ContractType

from regchain import deployments
from regchain.constants import UTC_OFFSET_CHINA, Role

SUITE_ORDER = ("IssuanceDesk", "AdminDesk", "Register")

# Clock parameters of the suite per network (constructor arguments of all three contracts).
# FISCO BCOS reports block.timestamp in milliseconds unless its feature flag is set:
# a network running it needs time_unit_ms=True here.
NETWORK_PARAMS = {
    "local": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
    "devnet": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
}
# Networks whose deployer and registrar default to anvil's unlocked test accounts.
TEST_ACCOUNT_NETWORKS = frozenset({"local", "devnet"})


def suite_contract_type() -> ContractType:
    """Register's ABI merged with its desks' (functions, events, errors; no duplicates)."""
    abi, seen = [], set()
    for name in ("Register", "AdminDesk", "IssuanceDesk"):
        for item in getattr(project, name).contract_type.abi:
            if item.type in ("constructor", "fallback", "receive"):
                if name != "Register":
                    continue
            key = (item.type, getattr(item, "name", None),
                   tuple(getattr(i, "type", None) for i in getattr(item, "inputs", []) or []))
            if key in seen:
                continue
            seen.add(key)
            abi.append(item)
    return ContractType(contractName="RegisterSuite", abi=abi)


def at(address) -> object:
    """The register at `address`, with every function of the suite callable."""
    return chain.contracts.instance_at(address, contract_type=suite_contract_type())


def deploy(sender, governance, *, time_unit_ms: bool = False, utc_offset_s: int = 8 * 3600, **tx):
    """Deploy IssuanceDesk, AdminDesk and Register; return the suite view of Register."""
    issuance = sender.deploy(project.IssuanceDesk, time_unit_ms, utc_offset_s, **tx)
    admin = sender.deploy(project.AdminDesk, time_unit_ms, utc_offset_s, issuance, **tx)
    register = sender.deploy(project.Register, governance, time_unit_ms, utc_offset_s, admin, **tx)
    return at(register.address)


@dataclass
class SuiteDeployment:
    register: object  # the suite view of Register (suite.at)
    steps: list = field(default_factory=list)  # deployments.Deployed, in SUITE_ORDER

    @property
    def reused(self) -> bool:
        return all(step.reused for step in self.steps)


def deploy_or_reuse(sender, governance, *, time_unit_ms: bool = False,
                    utc_offset_s: int = UTC_OFFSET_CHINA, network: str | None = None,
                    **tx) -> SuiteDeployment:
    """Reuse the recorded suite on the connected network, or (re)deploy what must be.

    Each contract is reused only if its record is valid for this chain and its
    constructor arguments are the wanted ones. A desk's address is a constructor
    argument of the contract that delegates to it, so a redeployed IssuanceDesk
    forces a new AdminDesk, and a new AdminDesk a new Register. Every deployment is
    recorded in deployments/<network>.json, whose "register" names Register's address.
    Raises deployments.DeploymentError if the record belongs to another chain id.
    """
    steps = []
    issuance = deployments.check_and_deploy(
        project.IssuanceDesk, time_unit_ms, utc_offset_s, sender=sender, network=network, **tx)
    steps.append(issuance)
    admin = deployments.check_and_deploy(
        project.AdminDesk, time_unit_ms, utc_offset_s, issuance.instance.address,
        sender=sender, network=network, **tx)
    steps.append(admin)
    register = deployments.check_and_deploy(
        project.Register, governance, time_unit_ms, utc_offset_s, admin.instance.address,
        sender=sender, network=network, **tx)
    steps.append(register)
    # Say why a dependent was redeployed when the reason is its dependency.
    for dependency, dependent in ((issuance, admin), (admin, register)):
        if not dependency.reused and "other constructor arguments" in dependent.reason:
            name = dependent.instance.contract_type.name
            dependent.reason = (f"deployed {name} at {dependent.instance.address} "
                                f"({dependency.instance.contract_type.name} was redeployed)")
    if deployments.register_address(network) != str(register.instance.address):
        deployments.set_register(register.instance.address, network)
    return SuiteDeployment(at(register.instance.address), steps)


def missing_roles(register, account, roles: Role) -> Role:
    """The flags of ``roles`` that ``account`` does not hold on ``register``."""
    held = Role(int(register.roles_of(getattr(account, "address", account))))
    return Role(roles & ~held)


def ensure_role(register, account, roles: Role, *, governance_signer, **tx) -> Role:
    """Grant ``account`` whatever of ``roles`` it lacks; return what was granted (0: nothing)."""
    missing = missing_roles(register, account, roles)
    if missing:
        register.grant_role(getattr(account, "address", account), int(missing),
                            sender=governance_signer, **tx)
    return missing
