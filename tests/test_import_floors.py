"""The import graph of src/regchain reads in floors (docs/architecture.md "Floors"):

    3 operator commands      cli, ops, console.__main__
    2 pipeline and services  legacy, migrate, indexer, audit, supervise, console, provision, ...
    1 chain access           rpc, abi, writer, suite, deployments, node
    0 constants              constants, errors, calendar, networks, gaslimits, build, router

A module imports only from its own floor or below, lazy imports inside functions included.
`regchain.testing` (test machinery) stands beside the floors: it may use floors 0-2, and no
module outside it imports it. A new module must be given a floor here, or this test fails
naming it.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FLOORS = {
    0: ["constants", "errors", "calendar", "networks", "gaslimits", "build", "router"],
    1: ["rpc", "abi", "writer", "suite", "deployments", "node"],
    2: ["legacy", "migrate", "identities", "indexer", "indexdb", "audit", "html_report", "supervise",
        "console", "provision"],
    3: ["cli", "console.__main__", "ops"],
}
TESTING = "testing"
NAMES = {0: "constants", 1: "chain access", 2: "pipeline and services", 3: "operator commands"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC / "regchain").with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def floor_of(name: str) -> int | str | None:
    """The floor of module `name` (relative to regchain): the longest prefix named in FLOORS."""
    if name == "":
        return 0  # the package's own __init__
    if name == TESTING or name.startswith(TESTING + "."):
        return TESTING
    best, floor = -1, None
    for level, prefixes in FLOORS.items():
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, floor = len(prefix), level
    return floor


def imports_of(path: Path) -> set[str]:
    """regchain modules `path` imports, anywhere in it, relative to regchain."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    return imports_in(path.read_text(), [p for p in package if p])


def imports_in(source: str, package: list[str]) -> set[str]:
    """regchain modules `source` (a module of regchain.<package>) imports, relative to regchain."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] if node.level > 1 else package
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}".strip(".") for a in node.names]
                names = ["regchain." + n if n else "regchain" for n in names]
            elif node.module == "regchain":
                names = [f"regchain.{a.name}" for a in node.names]
            else:  # the module, and each name in case it is a submodule
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "regchain" or name.startswith("regchain."):
                out.add(name[len("regchain."):] if name != "regchain" else "")
    return out


def modules():
    return sorted(p for p in (SRC / "regchain").rglob("*.py"))


def test_floors__every_module__has_a_floor():
    missing = [module_name(p) for p in modules() if floor_of(module_name(p)) is None]
    assert missing == [], f"modules without a floor (add them to FLOORS): {missing}"


@pytest.mark.parametrize("path", modules(), ids=lambda p: module_name(p) or "regchain")
def test_floors__module__imports_nothing_above_its_floor(path):
    me = module_name(path)
    mine = floor_of(me)
    upward = []
    for dep in sorted(imports_of(path)):
        theirs = floor_of(dep)
        if theirs is None:
            continue  # reported by test_floors__every_module__has_a_floor
        if mine == TESTING:
            if theirs == 3:
                upward.append(f"{dep} ({NAMES[3]})")
        elif theirs == TESTING:
            upward.append(f"{dep} (test machinery)")
        elif theirs > mine:
            upward.append(f"{dep} ({NAMES[theirs]})")
    assert upward == [], f"regchain.{me} ({NAMES.get(mine, mine)}) imports upward: {upward}"


def test_floors__upward_and_lazy_imports__are_seen():
    """The check can fail: every form of import is seen, lazy ones inside functions too."""
    source = ("import regchain.cli\n"
              "from regchain import migrate\n"
              "from .names import BooksNames\n"
              "from ..testing.model import RegisterModel\n"
              "def later():\n    from regchain.console import app\n")
    found = imports_in(source, ["console"])
    assert {"cli", "migrate", "console.names", "testing.model", "console.app"} <= found
    assert [floor_of(name) for name in ("cli", "migrate", "console.names", "testing.model.RegisterModel")] == \
        [3, 2, 2, TESTING]
    assert floor_of("cli") == 3 and floor_of("writer") == 1 and floor_of("console.__main__") == 3
    assert floor_of("console.app") == 2 and floor_of("testing.model") == TESTING and floor_of("nowhere") is None
