"""The delegatecall split stays sound: every desk's variables sit in Register's slots (in
the build that is deployed: ape-config.yaml's evm_version, london), Register's routing
table is the one the desks' ABIs give and sends every desk function to its desk, each
module is served whole by one contract, and each contract fits EIP-170."""

from __future__ import annotations

import re

import ape
import pytest
from eth_utils import function_signature_to_4byte_selector
from web3.exceptions import ContractLogicError

from regchain import build, deployments, router, suite

SUITE = ("Register",) + tuple(suite.DESKS)
EIP170_LIMIT = 24_576
LOCK = "$.nonreentrant_key"  # the one re-entrancy lock of the desks' @nonreentrant functions
MODULES = sorted(path.stem for path in (build.CONTRACTS_DIR / "modules").glob("*.vy"))
# The one function served apart from its module's desk (no room on PledgeDesk; docs/architecture.md).
SERVED_APART = {"import_pledges": "FreezeDesk"}


def _slots(layout, prefix=""):
    """Flatten a storage layout to {qualified name: (slot, n_slots, type)}."""
    flat = {}
    for key, value in layout.items():
        if isinstance(value, dict) and "slot" in value:
            flat[prefix + key] = (value["slot"], value["n_slots"], value["type"])
        elif isinstance(value, dict):
            flat.update(_slots(value, f"{prefix}{key}."))
    return flat


def _abi(project, name):
    return [item.model_dump(mode="json", by_alias=True) for item in getattr(project, name).contract_type.abi]


def test_storage_layout__checked_for_the_deployed_evm_version(project):
    """The layouts below are the compiler's for ape-config.yaml's evm_version, which is the
    one `ape compile` built the deployed bytecode with (under cancun the slots differ)."""
    assert build.evm_version() == "london"
    for name in SUITE:
        assert deployments.compiler_info(name)[1] == build.evm_version(), name


@pytest.mark.parametrize("desk", SUITE[1:])
def test_storage_layout__desk_variables_in_register_slots(desk):
    register = _slots(build.storage_layout("Register"))
    variables = _slots(build.storage_layout(desk))
    assert {"roles.governance", "calendar.clock", "ledger.security_data"} <= variables.keys()
    assert {name: register.get(name) for name in variables} == variables


def test_storage_layout__variables_do_not_overlap():
    flat = _slots(build.storage_layout("Register"))
    assert {"roles", "calendar", "accounts", "ledger"} <= {name.split(".")[0] for name in flat}
    used = [s for name, (slot, n, _) in flat.items() if name != LOCK for s in range(slot, slot + n)]
    assert len(used) == len(set(used)), "two variables share a slot"
    assert 0 not in used, "slot 0 is the reentrancy lock under london"


@pytest.mark.parametrize("name", ("Register", "InstructionDesk", "AuctionDesk"))
def test_storage_layout__one_reentrancy_lock_in_slot_0(name):
    """The desks' @nonreentrant functions (instructions, auctions) share one lock: slot 0 of
    Register's storage, the same slot in every contract that runs on it (under london the
    lock is a storage slot; under cancun it would be transient). The other desks initialize
    neither module and have no lock; no variable of theirs sits in slot 0 (the test above)."""
    lock = build.storage_layout(name)[LOCK]
    assert (lock["slot"], lock["n_slots"]) == (0, 1)


@pytest.mark.parametrize("desk", ("AdminDesk", "IssuanceDesk", "PledgeDesk", "FreezeDesk"))
def test_storage_layout__desk_without_lock_leaves_slot_0_free(desk):
    flat = _slots(build.storage_layout(desk))
    assert LOCK not in flat
    assert all(slot != 0 for slot, _, _ in flat.values())


def test_router__register_block_matches_the_compiled_desks(project):
    """Register.vy's generated block is what `python -m regchain.router` makes of the
    compiled desks' ABIs: a desk function added without regenerating fails here."""
    table = router.routes({desk: _abi(project, desk) for desk in suite.DESKS}, _abi(project, "Register"))
    source = router.register_path().read_text()
    assert router.current_block(source) == router.block(table), "run: python -m regchain.router"
    assert {r.desk for r in table} == set(suite.DESKS)


def test_router__every_desk_function_reaches_its_desk(project, register, outsider):
    """Each routed selector, called through Register with zeroed arguments, runs desk code:
    it returns or reverts with the desk's own reason, never "register: unknown function"."""
    table = router.routes({desk: _abi(project, desk) for desk in suite.DESKS}, _abi(project, "Register"))
    provider = ape.chain.provider
    unknown = {"from": outsider.address, "to": register.address, "data": "0x12345678" + "00" * 32 * 8}
    with pytest.raises(ContractLogicError, match="register: unknown function"):  # what a miss looks like
        provider.web3.eth.call(unknown)
    reached = 0
    for route in table:
        tx = {**unknown, "data": "0x" + route.selector.to_bytes(4, "big").hex() + "00" * 32 * 8}
        try:
            provider.web3.eth.call(tx)
        except ContractLogicError as exc:  # the desk's revert (its reason, or none from the ABI decoder)
            assert "register: unknown function" not in str(exc), route.signature
        reached += 1
    assert reached == len(table) > 50


def _external_functions(module: str) -> tuple[set[str], set[str]]:
    """(state-changing, view or pure) external functions defined in contracts/modules/<module>.vy."""
    text = (build.CONTRACTS_DIR / "modules" / f"{module}.vy").read_text()
    changing, views = set(), set()
    for decorators, name in re.findall(r"((?:^@\w+(?:\(.*\))?\n)+)def (\w+)\(", text, re.M):
        if "@external" in decorators:
            (views if "@view" in decorators or "@pure" in decorators else changing).add(name)
    return changing, views


@pytest.mark.parametrize("module", MODULES)
def test_modules__served_whole_by_one_contract(project, module):
    """A reader guesses where a function lives from its module: a module's state-changing
    functions are all on one contract (Register for ledger, one desk for each other
    module), every view is Register's, and nothing a module defines is left unserved."""
    table = router.routes({desk: _abi(project, desk) for desk in suite.DESKS}, _abi(project, "Register"))
    on_desk = {r.signature.split("(")[0]: r.desk for r in table}
    on_register = {item["name"] for item in _abi(project, "Register") if item["type"] == "function"}
    changing, views = _external_functions(module)
    assert views <= on_register, f"{module}: views not on Register: {sorted(views - on_register)}"
    served = {fn: on_desk.get(fn) or ("Register" if fn in on_register else None) for fn in changing}
    assert None not in served.values(), f"{module}: served by no contract: {[f for f, c in served.items() if not c]}"
    for fn in changing & SERVED_APART.keys():
        assert served.pop(fn) == SERVED_APART[fn]
    assert len(set(served.values())) <= 1, f"{module} is split between {sorted(set(served.values()))}"


def test_modules__ledger_is_register_issuance_split_by_concern(project):
    """The transfer core is Register's; initial registration and recovery are AdminDesk's,
    the corporate actions IssuanceDesk's (both together exceed EIP-170 on one desk)."""
    table = router.routes({desk: _abi(project, desk) for desk in suite.DESKS}, _abi(project, "Register"))
    on_desk = {r.signature.split("(")[0]: r.desk for r in table}
    assert {on_desk[f] for f in _external_functions("registration")[0]} == {"AdminDesk"}
    assert {on_desk[f] for f in _external_functions("recovery")[0]} == {"AdminDesk"}
    assert {on_desk[f] for f in _external_functions("corporate_actions")[0]} == {"IssuanceDesk"}
    assert not _external_functions("ledger")[0] & on_desk.keys()


def test_routes__function_register_serves__raises():
    abi = [{"type": "function", "name": "transfer", "inputs": [{"type": "address"}, {"type": "uint256"},
                                                                 {"type": "uint256"}]}]
    with pytest.raises(router.RouterError, match="never reached: Register serves transfer"):
        router.routes({"PledgeDesk": abi}, abi)


def test_routes__two_desks_one_selector__raises():
    abi = [{"type": "function", "name": "pause", "inputs": [{"type": "bytes32"}]}]
    with pytest.raises(router.RouterError, match="AdminDesk.pause.bytes32. and FreezeDesk.pause"):
        router.routes({"FreezeDesk": abi, "AdminDesk": abi}, [])


def test_routes__tuple_arguments__canonical_selector():
    abi = [{"type": "function", "name": "open_accounts", "inputs": [
        {"type": "tuple[]", "components": [{"type": "address"}, {"type": "bytes32"}, {"type": "uint8"},
                                           {"type": "bool"}]}, {"type": "bytes32"}]}]
    (route,) = router.routes({"AdminDesk": abi}, [])
    assert route.signature == "open_accounts((address,bytes32,uint8,bool)[],bytes32)"
    assert route.selector.to_bytes(4, "big") == function_signature_to_4byte_selector(route.signature)


@pytest.mark.parametrize("desk", suite.DESKS)
def test_desk__called_directly_with_unknown_selector__reverts(project, register, outsider, desk):
    address = getattr(register, router.immutable_name(desk))()
    with ape.reverts("register: unknown function"):
        outsider.transfer(address, 0, data=bytes.fromhex("12345678"))


@pytest.mark.parametrize("name", SUITE)
def test_runtime_code__compiled_under_eip170(project, name):
    code = getattr(project, name).contract_type.runtime_bytecode.bytecode
    size = len(bytes.fromhex(code.removeprefix("0x")))
    assert 0 < size < EIP170_LIMIT


def test_runtime_code__deployed_suite_under_eip170(register, project, chain):
    addresses = [register.address] + [getattr(register, router.immutable_name(d))() for d in suite.DESKS]
    assert len(set(addresses)) == len(SUITE)
    for name, address in zip(SUITE, addresses):
        code = bytes(chain.provider.get_code(address))
        compiled = bytes.fromhex(getattr(project, name).contract_type.runtime_bytecode.bytecode[2:])
        assert code.startswith(compiled), f"{address} is not {name}"
        assert 0 < len(code) < EIP170_LIMIT, f"{name}: {len(code)} bytes"
