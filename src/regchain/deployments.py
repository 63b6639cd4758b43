"""Deployment records, one JSON file per network: deployments/<network-name>.json.

    {
      "network": "devnet", "ecosystem": "ethereum", "chain_id": 20231,
      "register": "0x...",          # the address to use: Register, serving the whole suite
      "time_unit_ms": false, "utc_offset_s": 28800,   # the suite's clock (set_fields)
      "contracts": {
        "Register": {
          "address": "0x...", "code_hash": "0x...", "block": 12, "deployer": "0x...",
          "txn_hash": "0x...", "constructor_args": [...],
          "vyper_version": "0.4.3", "evm_version": "london"
        }
      }
    }

``code_hash`` is keccak256 of the runtime code at ``address`` as the chain returns it
(for Vyper that is the compiled runtime code followed by the immutables).

A recorded deployment is reused only when the file's chain id matches the connected
chain, code exists at the address, its hash equals ``code_hash``, it still starts
with the project's current compiled runtime code and (when the caller says which)
it was deployed with the same constructor arguments. A chain id mismatch is refused
(it means the file or the node is the wrong one); anything else means a redeploy.
Because a contract's constructor arguments include the addresses of the contracts
it depends on, redeploying a dependency makes its dependents redeploy too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ape import chain, networks, project
from ape.contracts import ContractInstance
from ape.exceptions import ApeException
from eth_utils import keccak, to_checksum_address, to_hex

DEPLOYMENTS_DIR = "deployments"


class DeploymentError(ApeException):
    """A deployment record cannot be used on the connected chain."""


@dataclass
class Deployed:
    instance: Any  # ape ContractInstance
    reused: bool
    reason: str  # why it was reused or (re)deployed, one line for humans


def network_name() -> str:
    return networks.provider.network.name


def path_for(network: str | None = None) -> Path:
    return Path(project.path) / DEPLOYMENTS_DIR / f"{network or network_name()}.json"


def load(network: str | None = None) -> dict:
    """The record for ``network`` (default: the connected one); empty if none exists."""
    name = network or network_name()
    path = path_for(name)
    if not path.is_file():
        return {"network": name, "chain_id": None, "contracts": {}}
    data = json.loads(path.read_text())
    data.setdefault("contracts", {})
    return data


def save(name: str, instance, *, constructor_args: list | tuple = (),
         network: str | None = None, receipt: dict | None = None) -> dict:
    """Record ``instance`` (just deployed on the connected chain) under ``name``
    (``receipt``: its deployment's JSON-RPC receipt, else ape reads it)."""
    net = network or network_name()
    data = load(net)
    cid = networks.provider.chain_id
    if data.get("chain_id") not in (None, cid):
        raise DeploymentError(_mismatch_message(net, data["chain_id"], cid))
    if receipt is not None:
        block, deployer = int(receipt["blockNumber"], 16), to_checksum_address(receipt["from"])
    elif instance.txn_hash:
        mined = chain.provider.get_receipt(instance.txn_hash)
        block, deployer = mined.block_number, str(mined.sender)
    else:
        block = deployer = None
    vyper_version, evm_version = compiler_info(instance.contract_type.name)
    data.update(network=net, ecosystem=networks.provider.network.ecosystem.name, chain_id=cid)
    data["contracts"][name] = {
        "address": str(instance.address),
        "code_hash": code_hash(instance.address),
        "block": block,
        "deployer": deployer,
        "txn_hash": instance.txn_hash,
        "constructor_args": [_jsonable(a) for a in constructor_args],
        "vyper_version": vyper_version,
        "evm_version": evm_version,
    }
    _write(net, data)
    return data["contracts"][name]


def code_hash(address) -> str:
    return to_hex(keccak(bytes(networks.provider.get_code(address))))


def compiler_info(contract_name: str | None) -> tuple[str | None, str | None]:
    """(compiler version, evm version) the project compiled ``contract_name`` with."""
    for compiler in project.manifest.compilers or []:
        if contract_name in (compiler.contractTypes or []):
            settings = compiler.settings or {}
            return compiler.version, settings.get("evmVersion") or settings.get("evm_version")
    return None, None


def check(name: str, container, network: str | None = None,
          args: list | tuple | None = None) -> tuple[Any | None, str]:
    """(instance, reason) if the recorded ``name`` can be reused, else (None, reason).

    With ``args``, the record's constructor arguments must equal them too.
    Raises DeploymentError if the record belongs to another chain id.
    """
    net = network or network_name()
    data = load(net)
    cid = networks.provider.chain_id
    if data.get("chain_id") not in (None, cid):
        raise DeploymentError(_mismatch_message(net, data["chain_id"], cid))
    entry = data["contracts"].get(name)
    if not entry:
        return None, f"no {name} recorded in {display_path(path_for(net))}"
    address = entry["address"]
    code = bytes(networks.provider.get_code(address))
    if not code:
        return None, f"no code at recorded {name} address {address} (chain reset?)"
    if to_hex(keccak(code)) != entry.get("code_hash"):
        return None, f"code at {address} does not match the recorded code hash"
    runtime = container.contract_type.runtime_bytecode
    compiled = bytes.fromhex((runtime.bytecode or "0x")[2:]) if runtime else b""
    if compiled and not code.startswith(compiled):
        return None, f"{name} source changed since it was deployed at {address}"
    if args is not None:
        recorded = _normalized(entry.get("constructor_args", []))
        wanted = _normalized([_jsonable(a) for a in args])
        if recorded != wanted:
            return None, (f"{name} at {address} was deployed with other constructor arguments "
                          f"({_args_text(recorded)}, now {_args_text(wanted)})")
    return container.at(address), f"reusing {name} at {address} (block {entry.get('block')})"


def check_and_deploy(container, *args, sender, name: str | None = None,
                     network: str | None = None, writer=None, **tx_kwargs) -> Deployed:
    """Reuse the recorded deployment of ``container`` or deploy it with ``args`` and record it.

    The deployment goes through regchain.writer (``writer``, else one for ``sender`` on
    the connected network: the profile's gas price, DEPLOY_GAS, the nonce counted here);
    ``tx_kwargs`` are accepted for the callers of ape's ``deploy`` and not used. A write
    that cannot go on raises DeploymentError (one line)."""
    name = name or container.contract_type.name
    instance, reason = check(name, container, network, args)
    if instance is not None:
        return Deployed(instance, True, reason)
    from regchain.networks import ProfileError
    from regchain.writer import WriteError, writer_for

    try:
        writer = writer or writer_for(sender)
        address, receipt = deploy_contract(writer, container, args)
    except (WriteError, ProfileError) as exc:
        raise DeploymentError(f"deploying {name}: {exc}") from None
    except OSError as exc:
        raise DeploymentError(f"deploying {name}: the node stopped answering ({exc})") from None
    instance = ContractInstance(address, container.contract_type, txn_hash=receipt["transactionHash"])
    chain.contracts.cache_deployment(instance, detect_proxy=False)  # ape's cache: this code at this address
    save(name, instance, constructor_args=args, network=network, receipt=receipt)
    return Deployed(instance, False, f"deployed {name} at {instance.address} ({reason})")


def _mismatch_message(net: str, recorded, connected) -> str:
    return (f"{display_path(path_for(net))} was recorded on chain id {recorded}, but the connected "
            f"'{net}' node reports chain id {connected}; refusing to use it "
            f"(wrong node, or move the file aside to deploy afresh)")


def set_register(address, network: str | None = None) -> None:
    """Mark ``address`` as the register of ``network``: the one address callers use."""
    net = network or network_name()
    data = load(net)
    data["register"] = str(address)
    _write(net, data)


def set_fields(network: str | None = None, **fields) -> None:
    """Record top-level fields of ``network``'s record (e.g. the suite's clock parameters
    ``time_unit_ms`` and ``utc_offset_s``); refuses a record of another chain id."""
    net = network or network_name()
    data = load(net)
    cid = networks.provider.chain_id
    if data.get("chain_id") not in (None, cid):
        raise DeploymentError(_mismatch_message(net, data["chain_id"], cid))
    if all(data.get(k) == v for k, v in fields.items()):
        return
    data.update(fields)
    _write(net, data)


def contract_address(name: str, network: str | None = None) -> str | None:
    """The recorded address of contract ``name`` (e.g. "Anchor") on ``network``, or None."""
    entry = load(network)["contracts"].get(name)
    return entry["address"] if entry else None


def register_address(network: str | None = None) -> str | None:
    """The recorded register address of ``network`` (default: the connected one), or None."""
    return load(network).get("register")


def _write(net: str, data: dict) -> None:
    # keep the keys in a readable order: header, register, contracts
    head = {k: data[k] for k in ("network", "ecosystem", "chain_id", "register") if k in data}
    rest = {k: v for k, v in data.items() if k not in head and k != "contracts"}
    ordered = {**head, **rest, "contracts": data.get("contracts", {})}
    path = path_for(net)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(ordered, indent=2, sort_keys=False) + "\n")


def display_path(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _jsonable(value):
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, (bytes, bytearray)):
        return to_hex(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "address"):
        return str(value.address)
    return str(value)


def _normalized(values: list) -> list:
    # addresses may be recorded checksummed or not; compare them case-insensitively
    return [v.lower() if isinstance(v, str) else _normalized(v) if isinstance(v, list) else v
            for v in values]


def _args_text(values: list) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


# ------------------------------------------------------------------ through regchain.writer

# gas limit of one contract creation: the largest runtime the EIP-170 limit allows costs
# ~5.3 M (200 a byte of code, its calldata, the constructor's stores); a margin on top.
# Measured (london, this suite): the desks 3.5-4.9 M, Register 4.1 M, Anchor 0.29 M.
DEPLOY_GAS = 8_000_000


def creation_code(container, args=()) -> bytes:
    """The creation code of an ape contract container (or the project's contract of that
    name) with its constructor arguments ABI-encoded after it."""
    from eth_abi import encode as abi_encode

    if isinstance(container, str):
        container = getattr(project, container)
    ct = container.contract_type
    types = [i.type for i in ct.constructor.inputs] if ct.constructor else []
    values = [str(a.address) if hasattr(a, "address") else a for a in args]  # ape accounts, contracts
    return bytes.fromhex(ct.deployment_bytecode.bytecode[2:]) + (abi_encode(types, values) if types else b"")


def deploy_contract(writer, container, args=(), gas: int = DEPLOY_GAS) -> tuple[str, dict]:
    """Deploy ``container`` (or the project's contract of that name) with ``args`` through a
    regchain.writer.Writer; (address, receipt)."""
    from regchain.writer import deploy_receipt

    name = container if isinstance(container, str) else container.contract_type.name
    return deploy_receipt(writer, creation_code(container, args), gas, f"deploy {name}")


def deploy_suite_signed(writer, governance: str, *, time_unit_ms: bool, utc_offset_s: int) -> str:
    """Deploy the suite as regchain.suite describes it (suite.deploy_each: SUITE_ORDER, its
    constructor arguments) through a regchain.writer.Writer (a key held here or by the node, the
    chain's gas price, explicit gas limits); return Register's address. No record is
    written: the caller records what it deployed (tests and benchmarks throw it away)."""
    from regchain import suite

    return suite.deploy_each(lambda name, args: deploy_contract(writer, name, args)[0], governance,
                             time_unit_ms=time_unit_ms, utc_offset_s=utc_offset_s)


def deploy_multicall(writer) -> str:
    """Deploy regchain.abi's multicall (many views in one eth_call, on chains that take no
    state override); return its address."""
    from regchain.abi import MULTICALL_CREATION, MULTICALL_GAS
    from regchain.writer import deploy

    return deploy(writer, MULTICALL_CREATION, MULTICALL_GAS, "deploy multicall")
