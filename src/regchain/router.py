"""Register's routing table, generated from the desks' ABIs.

    python -m regchain.router            # rewrite the generated block of contracts/Register.vy
    python -m regchain.router --check    # exit 1 (one line) if the block is out of date

Register serves transfers and views itself; every other function of the register
lives on one desk (DESKS), which Register's ``__default__`` reaches with one
DELEGATECALL. Which desk serves a selector is decided by a binary search on the
4-byte selector written out as nested ``if``s (a few comparisons, no storage and
no memory table), between the markers BEGIN and END in Register.vy. Run this after
adding, removing or renaming a desk function, then `ape compile`;
tests/test_layout.py fails while the block differs from what the compiled desks'
ABIs give.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from eth_utils import function_signature_to_4byte_selector

# The desks, in the order of Register's constructor arguments.
DESKS = ("AdminDesk", "IssuanceDesk", "PledgeDesk", "FreezeDesk", "InstructionDesk", "AuctionDesk")
# Every desk answers these itself (its own clock immutables, which Register's constructor
# compares with its own); through Register's address, Register's answer is the one read.
CLOCK = frozenset({"TIME_UNIT()", "UTC_OFFSET()"})
# Most selectors a leaf of the search compares one by one: 3 measured the fewest bytes for
# the least gas (docs/architecture.md: leaf 2 +56 B, leaf 4 -168 B but +23 gas at worst).
LEAF_SIZE = 3

BEGIN = "    # BEGIN GENERATED ROUTER: `python -m regchain.router` writes this block from the desks' ABIs"
END = "    # END GENERATED ROUTER"
# The variables the block reads (selector) and sets (desk); Register.vy declares them.
SELECTOR_VAR = "selector"
DESK_VAR = "desk"


class RouterError(ValueError):
    """The desks' functions cannot be routed (one line)."""


@dataclass(frozen=True)
class Route:
    selector: int
    signature: str
    desk: str


def immutable_name(desk: str) -> str:
    """Register's immutable holding ``desk``'s address: PledgeDesk -> PLEDGE_DESK."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", desk).upper()


def _canonical_type(param: dict) -> str:
    kind = param["type"]
    if kind.startswith("tuple"):
        return "(" + ",".join(_canonical_type(c) for c in param["components"]) + ")" + kind[len("tuple"):]
    return kind


def signatures(abi: list[dict]) -> list[str]:
    """Canonical signatures of the functions in ``abi`` ("bid(uint256,uint256,bytes32)")."""
    return [f"{item['name']}({','.join(_canonical_type(i) for i in item.get('inputs', []))})"
            for item in abi if item.get("type") == "function"]


def routes(desk_abis: dict[str, list[dict]], register_abi: list[dict]) -> list[Route]:
    """Every desk function Register does not serve itself, with its desk, sorted by selector.
    RouterError if two desks serve one selector or Register shadows a desk function."""
    own = {function_signature_to_4byte_selector(s): s for s in signatures(register_abi)}
    served: dict[bytes, Route] = {}
    for desk, abi in desk_abis.items():
        for sig in signatures(abi):
            if sig in CLOCK:
                continue
            selector = function_signature_to_4byte_selector(sig)
            if selector in own:
                raise RouterError(f"{desk}.{sig} is never reached: Register serves {own[selector]} itself")
            if selector in served:
                other = served[selector]
                raise RouterError(f"{desk}.{sig} and {other.desk}.{other.signature} "
                                  f"share selector 0x{selector.hex()}")
            served[selector] = Route(int.from_bytes(selector, "big"), sig, desk)
    return sorted(served.values(), key=lambda r: r.selector)


def _search(table: list[Route], depth: int) -> list[str]:
    pad = "    " * depth
    if len(table) <= LEAF_SIZE:
        lines = []
        for i, r in enumerate(table):
            lines.append(f"{pad}{'if' if i == 0 else 'elif'} {SELECTOR_VAR} == {r.selector}:  # 0x{r.selector:08x} {r.signature}")
            lines.append(f"{pad}    {DESK_VAR} = {immutable_name(r.desk)}")
        return lines
    mid = len(table) // 2
    # (a hex literal is a bytes4 in Vyper: the selectors are written as numbers)
    return ([f"{pad}if {SELECTOR_VAR} < {table[mid].selector}:  # 0x{table[mid].selector:08x}"]
            + _search(table[:mid], depth + 1)
            + [f"{pad}else:"] + _search(table[mid:], depth + 1))


def block(table: list[Route]) -> str:
    """The generated lines of Register's ``__default__`` (markers included): set ``desk``
    to the desk serving ``selector``, leave it empty for an unknown selector."""
    if not table:
        raise RouterError("no desk function to route")
    counts = {d: sum(r.desk == d for r in table) for d in DESKS}
    summary = ", ".join(f"{d} {n}" for d, n in counts.items() if n)
    lines = [BEGIN, f"    # from the desks' ABIs ({len(table)} functions: {summary}); do not edit by hand"]
    lines += _search(table, 1)
    lines.append(END)
    return "\n".join(lines) + "\n"


def rewrite(source: str, new_block: str) -> str:
    """``source`` with the lines from BEGIN to END replaced by ``new_block``."""
    start = source.find(BEGIN)
    stop = source.find(END, start if start >= 0 else 0)
    if start < 0 or stop < 0:
        raise RouterError("Register.vy has no generated router block (its BEGIN and END lines)")
    return source[:start] + new_block + source[stop + len(END) + 1:]


def current_block(source: str) -> str:
    start, stop = source.find(BEGIN), source.find(END)
    if start < 0 or stop < 0:
        raise RouterError("Register.vy has no generated router block (its BEGIN and END lines)")
    return source[start:stop + len(END) + 1]


def register_path() -> Path:
    from regchain.build import CONTRACTS_DIR

    return CONTRACTS_DIR / "Register.vy"


def compiled_block(source: str) -> str:
    """The block the desks' ABIs give, compiled as deployed (regchain.build). Register's
    own functions come from ``source`` (Register.vy) compiled with an empty block, so a
    stale or broken block does not stop the generator."""
    from regchain import build

    desks = build.compiler_output(DESKS, "abi")
    register = build.source_output("Register", rewrite(source, f"{BEGIN}\n{END}\n"), "abi")
    return block(routes(desks, register))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m regchain.router", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether Register.vy is up to date")
    args = parser.parse_args(argv)
    path = register_path()
    from vyper.exceptions import VyperException

    try:
        source = path.read_text()
        present = current_block(source)  # before compiling: say at once if the markers are gone
        wanted = compiled_block(source)
        stale = present != wanted
        if args.check:
            if stale:
                print(f"{path.name}: the router block is out of date; run python -m regchain.router", file=sys.stderr)
                return 1
            print(f"{path.name}: the router block is up to date")
            return 0
        if stale:
            path.write_text(rewrite(source, wanted))
            print(f"{path.name}: router block rewritten; run `ape compile`")
        else:
            print(f"{path.name}: the router block is up to date")
        return 0
    except (RouterError, OSError, VyperException) as exc:
        print(f"router: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
