"""Every package the code imports directly is declared in pyproject.toml, pinned: what
src/regchain imports in `dependencies`, what only tests/, scripts/ and regchain.testing import
there or in the `test` extra. A fresh machine (`make setup`, constraints.txt) then has all of them."""

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# imports that are ours, not packages: the package itself, the tests' helper modules,
# the scripts' own (ape runs them with scripts/ on the path)
OURS = {"regchain"} | {p.stem for p in (ROOT / "tests").glob("*.py")} | {p.stem for p in (ROOT / "scripts").glob("*.py")}


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\[=<>!~ ;]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def _pinned(requirements: list[str]) -> list[str]:
    return [r for r in requirements if "==" not in r]


def top_level_imports(folder: Path, skip: Path | None = None) -> set[str]:
    out = set()
    for path in folder.rglob("*.py"):
        if skip is not None and path.is_relative_to(skip):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.add(node.module.split(".")[0])
    return out - set(sys.stdlib_module_names) - OURS - {"__future__"}


def undeclared(folder: Path, declared: set[str], skip: Path | None = None) -> list[str]:
    dists = packages_distributions()
    missing = []
    for module in sorted(top_level_imports(folder, skip)):
        owners = {d.lower().replace("_", "-") for d in dists.get(module, [])}
        if not owners:
            missing.append(f"{module} (no installed package provides it)")
        elif not owners & declared:
            missing.append(f"{module} (from {', '.join(sorted(owners))})")
    return missing


def test_dependencies__every_requirement__is_pinned():
    reqs = PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"]
    assert _pinned(reqs) == []


def test_dependencies__what_src_imports__is_declared():
    """regchain.testing (test machinery) aside, which may use the test extra."""
    declared = _names(PYPROJECT["project"]["dependencies"])
    assert undeclared(ROOT / "src", declared, skip=ROOT / "src" / "regchain" / "testing") == []


def test_dependencies__what_tests_scripts_and_testing_import__is_declared_or_a_test_extra():
    declared = _names(PYPROJECT["project"]["dependencies"] + PYPROJECT["project"]["optional-dependencies"]["test"])
    assert (undeclared(ROOT / "tests", declared) + undeclared(ROOT / "scripts", declared)
            + undeclared(ROOT / "src" / "regchain" / "testing", declared)) == []


def test_dependencies__an_undeclared_import__is_found(tmp_path):
    (tmp_path / "probe.py").write_text("import yaml\nfrom jsonschema import validators\nimport os\n")
    assert undeclared(tmp_path, {"pyyaml"}) == ["jsonschema (from jsonschema)"]
