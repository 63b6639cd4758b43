"""The deployed register as one contract: Register plus its desks.

Register serves transfers and views; the desks (DESKS, in the order Register
hands unknown selectors down the chain) serve the administrative functions by
DELEGATECALL on Register's storage. To a caller they are one contract at
Register's address, so Python sees them through one merged ABI.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ape import chain, project
from ethpm_types import ContractType

from regchain import deployments
from regchain.constants import UTC_OFFSET_CHINA, Role

# Register's fallback hands an unknown selector to the first desk, each desk's
# fallback to the next; the last reverts "register: unknown function".
DESKS = ("AdminDesk", "IssuanceDesk", "PledgeDesk", "FreezeDesk", "InstructionDesk", "AuctionDesk")
# Deployment order: a desk needs the address of the next one.
SUITE_ORDER = tuple(reversed(DESKS)) + ("Register",)

# Clock parameters of the suite per network (constructor arguments of all three contracts).
# FISCO BCOS reports block.timestamp in milliseconds unless its feature flag is set:
# a network running it needs time_unit_ms=True here.
NETWORK_PARAMS = {
    "local": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
    "devnet": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
    "scratch": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
    "faults": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
    # anvils started like the real targets (tests/test_consortium.py): FISCO BCOS with
    # millisecond timestamps, and Besu QBFT
    "fiscosim": {"time_unit_ms": True, "utc_offset_s": UTC_OFFSET_CHINA},
    "besusim": {"time_unit_ms": False, "utc_offset_s": UTC_OFFSET_CHINA},
}
# Networks whose deployer and registrar default to anvil's unlocked test accounts.
TEST_ACCOUNT_NETWORKS = frozenset({"local", "devnet", "scratch", "faults", "fiscosim", "besusim"})

# The real consortium chain (ape network `consortium`): its clock comes from the environment.
CONSORTIUM = "consortium"
TIME_UNIT_ENV = "REGCHAIN_TIME_UNIT_MS"  # 1 on FISCO BCOS (block.timestamp in ms), else 0
UTC_OFFSET_ENV = "REGCHAIN_UTC_OFFSET_S"  # default 28800 (China)

# Transaction parameters per network: consortium chains charge no gas (type-0, price 0).
TX_PARAMS = {CONSORTIUM: {"gas_price": 0}, "fiscosim": {"gas_price": 0}, "besusim": {"gas_price": 0}}


def consortium_params(environ=None) -> dict:
    """The consortium's clock parameters from REGCHAIN_TIME_UNIT_MS and REGCHAIN_UTC_OFFSET_S;
    ValueError (one line) on a value that is not understood."""
    import os

    env = os.environ if environ is None else environ
    unit = env.get(TIME_UNIT_ENV, "0").strip().lower()
    if unit not in ("0", "1", "true", "false", "yes", "no", ""):
        raise ValueError(f"{TIME_UNIT_ENV}={unit!r}: use 1 (block.timestamp in milliseconds, "
                         "FISCO BCOS) or 0 (seconds)")
    offset = env.get(UTC_OFFSET_ENV, str(UTC_OFFSET_CHINA)).strip() or str(UTC_OFFSET_CHINA)
    try:
        offset_s = int(offset)
    except ValueError:
        raise ValueError(f"{UTC_OFFSET_ENV}={offset!r} is not a whole number of seconds") from None
    if not 0 <= offset_s < 86400:
        raise ValueError(f"{UTC_OFFSET_ENV}={offset_s}: must be in 0..86399 (east of UTC)")
    return {"time_unit_ms": unit in ("1", "true", "yes"), "utc_offset_s": offset_s}


def network_params(name: str) -> dict | None:
    """Clock parameters for network ``name`` (the consortium's read from the environment now)."""
    if name == CONSORTIUM:
        return consortium_params()
    return NETWORK_PARAMS.get(name)


try:
    NETWORK_PARAMS[CONSORTIUM] = consortium_params()
except ValueError:  # reported by network_params() when the consortium is used
    pass


def suite_contract_type() -> ContractType:
    """Register's ABI merged with its desks' (functions, events, errors; no duplicates)."""
    abi, seen = [], set()
    for name in ("Register",) + DESKS:
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


def _constructor_args(name: str, governance, time_unit_ms: bool, utc_offset_s: int, next_address):
    if name == "Register":
        return (governance, time_unit_ms, utc_offset_s, next_address)
    if name == DESKS[-1]:
        return (time_unit_ms, utc_offset_s)
    return (time_unit_ms, utc_offset_s, next_address)


def deploy(sender, governance, *, time_unit_ms: bool = False, utc_offset_s: int = 8 * 3600, **tx):
    """Deploy the desks (last first) and Register; return the suite view of Register."""
    next_address = None
    for name in SUITE_ORDER:
        args = _constructor_args(name, governance, time_unit_ms, utc_offset_s, next_address)
        next_address = sender.deploy(getattr(project, name), *args, **tx).address
    return at(next_address)


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
    argument of the contract that delegates to it, so a redeployed desk forces
    new contracts for every desk before it in the chain and for Register. Every deployment is
    recorded in deployments/<network>.json, whose "register" names Register's address.
    Raises deployments.DeploymentError if the record belongs to another chain id.
    """
    steps = []
    next_address = None
    for name in SUITE_ORDER:
        args = _constructor_args(name, governance, time_unit_ms, utc_offset_s, next_address)
        step = deployments.check_and_deploy(getattr(project, name), *args, sender=sender,
                                            network=network, **tx)
        # Say why a dependent was redeployed when the reason is its dependency.
        if steps and not steps[-1].reused and "other constructor arguments" in step.reason:
            step.reason = (f"deployed {name} at {step.instance.address} "
                           f"({steps[-1].instance.contract_type.name} was redeployed)")
        steps.append(step)
        next_address = step.instance.address
    register = steps[-1]
    if deployments.register_address(network) != str(register.instance.address):
        deployments.set_register(register.instance.address, network)
    return SuiteDeployment(at(register.instance.address), steps)


def missing_roles(register, account, roles: Role) -> Role:
    """The flags of ``roles`` that ``account`` does not hold on ``register``."""
    held = Role(int(register.roles_of(getattr(account, "address", account))))
    return Role(roles & ~held)


def ensure_role(register, account, roles: Role, *, governance_signer, doc: bytes, **tx) -> Role:
    """Grant ``account`` whatever of ``roles`` it lacks (``doc``: the decision's hash);
    return what was granted (0: nothing)."""
    missing = missing_roles(register, account, roles)
    if missing:
        register.grant_role(getattr(account, "address", account), int(missing), doc,
                            sender=governance_signer, **tx)
    return missing
