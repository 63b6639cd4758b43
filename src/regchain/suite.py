"""The deployed register as one contract: Register plus its desks.

Register serves transfers and views; the desks (DESKS, one per concern) serve the
administrative functions by DELEGATECALL on Register's storage, each reached in one
hop through Register's generated routing table (regchain.router). To a caller they
are one contract at Register's address, so Python sees them through one merged ABI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ape import chain, project
from ethpm_types import ContractType

from regchain import deployments
from regchain.constants import UTC_OFFSET_CHINA, Role
from regchain.router import DESKS

# Deployment order: the desks (independent of each other), then Register, which takes
# their addresses (in DESKS order) and routes each desk function to its desk.
SUITE_ORDER = DESKS + ("Register",)

# Clock parameters of the suite per network (constructor arguments of every contract).
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


def constructor_args(name: str, governance, time_unit_ms: bool, utc_offset_s: int,
                     desks: Mapping[str, object]) -> tuple:
    """The constructor arguments of ``name``: a desk's clock, or Register's governance,
    clock and the address of every desk (``desks``: name -> address, in any order)."""
    if name == "Register":
        return (governance, time_unit_ms, utc_offset_s, *(desks[desk] for desk in DESKS))
    return (time_unit_ms, utc_offset_s)


def deploy_each(deploy_one: Callable[[str, tuple], object], governance, *, time_unit_ms: bool = False,
                utc_offset_s: int = UTC_OFFSET_CHINA) -> object:
    """Deploy the suite in SUITE_ORDER with ``deploy_one(name, args) -> address`` (ape's
    sender.deploy, raw JSON-RPC, titanoboa); return Register's address."""
    deployed: dict[str, object] = {}
    for name in SUITE_ORDER:
        deployed[name] = deploy_one(name, constructor_args(name, governance, time_unit_ms, utc_offset_s, deployed))
    return deployed["Register"]


def deploy(sender, governance, *, time_unit_ms: bool = False, utc_offset_s: int = 8 * 3600, **tx):
    """Deploy the desks and Register; return the suite view of Register."""
    return at(deploy_each(lambda name, args: sender.deploy(getattr(project, name), *args, **tx).address,
                          governance, time_unit_ms=time_unit_ms, utc_offset_s=utc_offset_s))


@dataclass
class SuiteDeployment:
    register: object  # the suite view of Register (suite.at)
    steps: list = field(default_factory=list)  # deployments.Deployed, in SUITE_ORDER

    @property
    def reused(self) -> bool:
        return all(step.reused for step in self.steps)


def deploy_or_reuse(sender, governance, *, time_unit_ms: bool = False,
                    utc_offset_s: int = UTC_OFFSET_CHINA, network: str | None = None, writer=None,
                    **tx) -> SuiteDeployment:
    """Reuse the recorded suite on the connected network, or (re)deploy what must be.

    Each contract is reused only if its record is valid for this chain and its
    constructor arguments are the wanted ones. The desks depend on nothing; Register
    takes every desk's address, so a redeployed desk forces a new Register (and
    nothing else). Every deployment is recorded in deployments/<network>.json, whose
    "register" names Register's address.
    What is deployed goes through regchain.writer (``writer``, else one for ``sender``).
    Raises deployments.DeploymentError if the record belongs to another chain id.
    """
    steps = []

    def deploy_one(name, args):
        step = deployments.check_and_deploy(getattr(project, name), *args, sender=sender,
                                            network=network, writer=writer, **tx)
        # Say why Register was redeployed when the reason is a redeployed desk.
        redeployed = [s.instance.contract_type.name for s in steps if not s.reused]
        if name == "Register" and redeployed and "other constructor arguments" in step.reason:
            step.reason = (f"deployed {name} at {step.instance.address} "
                           f"({', '.join(redeployed)} redeployed)")
        steps.append(step)
        return step.instance.address

    address = deploy_each(deploy_one, governance, time_unit_ms=time_unit_ms, utc_offset_s=utc_offset_s)
    if deployments.register_address(network) != str(address):
        deployments.set_register(address, network)
    return SuiteDeployment(at(address), steps)


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
