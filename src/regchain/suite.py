"""The deployed register as one contract: Register plus its desks.

Register serves transfers and views; AdminDesk and IssuanceDesk serve the
administrative functions by DELEGATECALL on Register's storage. To a caller
they are one contract at Register's address, so Python sees them through one
merged ABI.
"""

from __future__ import annotations

from ape import chain, project
from ethpm_types import ContractType

SUITE_ORDER = ("IssuanceDesk", "AdminDesk", "Register")


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
