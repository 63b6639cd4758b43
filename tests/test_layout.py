"""The delegatecall split stays sound: Register and its desks share one storage layout, no
desk function is shadowed by another contract's, and each contract fits EIP-170."""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
from eth_utils import function_signature_to_4byte_selector

from regchain import suite

CONTRACTS_DIR = Path(__file__).resolve().parent.parent / "contracts"
# Register, then its desks in the order its fallback hands selectors down.
SUITE = ("Register",) + tuple(suite.DESKS)
EIP170_LIMIT = 24_576
EVM_VERSION = "london"  # ape-config.yaml's vyper.evm_version
LOCK = "$.nonreentrant_key"


@functools.cache
def _layouts():
    """`vyper -f layout` of each contract (a plain cached function, not a module fixture:
    it touches no chain state, and a module fixture set before the session's `register`
    would make ape rebase its snapshots)."""
    out = {}
    for name in SUITE:
        result = subprocess.run(
            # the deployed EVM version: under london the re-entrancy lock is a storage slot
            # (under cancun and later it would be transient and not in this layout)
            ["vyper", "--evm-version", EVM_VERSION, "-f", "layout", f"{name}.vy"],
            cwd=CONTRACTS_DIR, capture_output=True, text=True, check=True,
        )
        out[name] = json.loads(result.stdout)
    return out


def _slots(layout, prefix=""):
    """Flatten a storage layout to {qualified name: (slot, n_slots, type)}."""
    flat = {}
    for key, value in layout.items():
        if isinstance(value, dict) and "slot" in value:
            flat[prefix + key] = (value["slot"], value["n_slots"], value["type"])
        elif isinstance(value, dict):
            flat.update(_slots(value, f"{prefix}{key}."))
    return flat


@pytest.mark.parametrize("desk", SUITE[1:])
def test_storage_layout__desk_identical_to_register(desk):
    layouts = _layouts()
    assert layouts[desk]["storage_layout"] == layouts["Register"]["storage_layout"]


def test_storage_layout__variables_do_not_overlap():
    flat = _slots(_layouts()["Register"]["storage_layout"])
    assert {"roles", "calendar", "accounts", "ledger"} <= {name.split(".")[0] for name in flat}
    used = [s for slot, n, _ in flat.values() for s in range(slot, slot + n)]
    assert len(used) == len(set(used)), "two variables share a slot"


def test_ape_config__compiles_for_the_layout_checked_here(project):
    assert project.config.vyper.evm_version == EVM_VERSION


@pytest.mark.parametrize("name", SUITE)
def test_storage_layout__one_reentrancy_lock_in_slot_0(name):
    """The desks' @nonreentrant functions (instructions, auctions) share one lock: slot 0 of
    Register's storage, the same slot in every contract that runs on it."""
    lock = _layouts()[name]["storage_layout"][LOCK]
    assert (lock["slot"], lock["n_slots"]) == (0, 1)


def _selectors(contract_type):
    return {
        function_signature_to_4byte_selector(
            f"{abi.name}({','.join(i.canonical_type for i in abi.inputs)})"
        ): abi.name
        for abi in contract_type.abi
        if abi.type == "function"
    }


def test_selectors__desk_functions_not_shadowed(project):
    """A desk function whose selector Register or an earlier desk also serves would never run.
    Only the clock parameters are served everywhere (each contract's own immutables)."""
    shared = {"TIME_UNIT", "UTC_OFFSET"}
    earlier = _selectors(project.Register.contract_type)
    for name in SUITE[1:]:
        desk = _selectors(getattr(project, name).contract_type)
        assert {desk[s] for s in desk.keys() & earlier.keys()} <= shared | {"NEXT_DESK"}, name
        earlier |= desk


@pytest.mark.parametrize("name", SUITE)
def test_runtime_code__compiled_under_eip170(project, name):
    code = getattr(project, name).contract_type.runtime_bytecode.bytecode
    size = len(bytes.fromhex(code.removeprefix("0x")))
    assert 0 < size < EIP170_LIMIT


def test_runtime_code__deployed_suite_under_eip170(register, project, chain):
    addresses = [register.address, register.ADMIN_DESK()]
    for name in SUITE[1:-1]:  # every desk but the last names the next
        addresses.append(getattr(project, name).at(addresses[-1]).NEXT_DESK())
    assert len(set(addresses)) == len(SUITE)
    for address in addresses:
        size = len(chain.provider.get_code(address))
        assert 0 < size < EIP170_LIMIT, f"{address}: {size} bytes"
