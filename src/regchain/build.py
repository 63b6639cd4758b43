"""What the Vyper compiler says about the project's contracts, compiled as they are
deployed: with the evm_version of ape-config.yaml (london), the settings `ape compile`
builds the deployed bytecode with.

    abi("PledgeDesk")                              # the contract's ABI (list of dicts)
    storage_layout("Register")                     # `vyper -f layout`'s storage_layout
    slot_of("Register", "ledger.security_data")    # 19 under london

The storage layout depends on the EVM version: under london the reentrancy lock
takes slot 0 (no transient storage before cancun), so every variable sits one slot
higher than `vyper -f layout` says with the compiler's default (cancun).
This module imports no ape: `python -m regchain.router` runs without a node.
"""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTRACTS_DIR = PROJECT_ROOT / "contracts"
APE_CONFIG = PROJECT_ROOT / "ape-config.yaml"


@functools.cache
def evm_version() -> str:
    """The evm_version ape-config.yaml compiles the contracts for (vyper: evm_version)."""
    config = yaml.safe_load(APE_CONFIG.read_text()) or {}
    version = (config.get("vyper") or {}).get("evm_version")
    if not version:
        raise ValueError(f"{APE_CONFIG.name}: no vyper.evm_version (the chains need it: london)")
    return version


@functools.cache
def compiler_output(names: tuple[str, ...], output_format: str) -> dict[str, object]:
    """``vyper -f output_format`` of contracts/<name>.vy for each name, as deployed."""
    from vyper.cli.vyper_compile import compile_files
    from vyper.compiler.settings import Settings

    paths = [str(CONTRACTS_DIR / f"{name}.vy") for name in names]
    out = compile_files(paths, [output_format], paths=[str(CONTRACTS_DIR)],
                        settings=Settings(evm_version=evm_version()))
    by_path = {Path(str(path)).stem: value for path, value in out.items()}
    return {name: by_path[name][output_format] for name in names}


def abi(name: str) -> list[dict]:
    return compiler_output((name,), "abi")[name]


def source_output(name: str, source: str, output_format: str):
    """``output_format`` of ``source`` compiled as contracts/<name>.vy (e.g. a variant of
    a contract's source, not written to disk)."""
    import vyper
    from vyper.compiler.input_bundle import FilesystemInputBundle
    from vyper.compiler.settings import Settings

    return vyper.compile_code(source, contract_path=f"{name}.vy", resolved_path=CONTRACTS_DIR / f"{name}.vy",
                              input_bundle=FilesystemInputBundle([CONTRACTS_DIR]),
                              settings=Settings(evm_version=evm_version()),
                              output_formats=[output_format])[output_format]


def storage_layout(name: str) -> dict:
    return compiler_output((name,), "layout")[name]["storage_layout"]


def slot_of(name: str, variable: str) -> int:
    """The storage slot of ``variable`` ("module.name", e.g. "ledger.security_data") in
    contract ``name`` as deployed; KeyError naming it if the layout has no such variable."""
    node = storage_layout(name)
    for part in variable.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"{name}.vy has no storage variable {variable}")
        node = node[part]
    return int(node["slot"])
