"""Every revert reason starts with the name of the file whose code raises it: `<m>: ` in
contracts/modules/<m>.vy, the entry contract's agreed name in contracts/*.vy (Register and
the desks, which run as Register's code: `register: `; Anchor: `anchor: `).

The reasons are read from the sources with Python's tokenizer (Vyper's syntax is Python's):
the reason of an `assert ..., "..."` and of a `raise "..."`, and every other string literal
that is not a docstring (a reason handed to a checking function, or returned by
ledger.vy's `_reason` and raised by its caller). The empty string ("no refusal") is none."""

from __future__ import annotations

import ast
import io
import tokenize

import pytest

from regchain import build

CONTRACTS = build.CONTRACTS_DIR
MODULES = sorted(path.stem for path in (CONTRACTS / "modules").glob("*.vy"))
# The prefix of each entry contract's own reasons. A desk runs as Register's code (its only
# reason, for a selector it does not serve, is Register's "register: unknown function").
ENTRY_PREFIX = {
    "Register": "register",
    "AdminDesk": "register",
    "IssuanceDesk": "register",
    "PledgeDesk": "register",
    "FreezeDesk": "register",
    "InstructionDesk": "register",
    "AuctionDesk": "register",
    "Anchor": "anchor",
}
_SKIP = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}


def reason_literals(source: str) -> list[tuple[int, str, str]]:
    """(line, kind, text) of each string literal of a Vyper source that is not a
    docstring; kind is the keyword the statement starts with ("assert", "raise") or
    "other"."""
    found = []
    statement: list[tokenize.TokenInfo] = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            strings = [t for t in statement if t.type == tokenize.STRING]
            docstring = len(statement) == 1 and strings
            if strings and not docstring:
                first = statement[0].string
                kind = first if first in ("assert", "raise") else "other"
                found += [(t.start[0], kind, ast.literal_eval(t.string)) for t in strings]
            statement = []
        elif token.type not in _SKIP:
            statement.append(token)
    return found


def wrong_prefixes(source: str, prefix: str) -> list[str]:
    """`line: "reason"` of each non-empty reason not of the form `<prefix>: <text>`."""
    return [
        f'{line}: "{text}"'
        for line, _, text in reason_literals(source)
        if text and not (text.startswith(prefix + ": ") and len(text) > len(prefix) + 2)
    ]


SAMPLE = '''# pragma version 0.4.3
"""
@title sample
@notice "sample: in a docstring" is no reason, nor "ledger: this".
"""

@external
def f(x: uint256):
    """
    @notice "ledger: not a reason either"
    """
    assert x != 0, "sample: zero"  # "ledger: in a comment"
    assert (
        x != 1
        and x != 2
    ), "ledger: stale prefix"
    assert x != 3, (
        "samples: near miss"
    )
    self._check(x == 4, "sample: passed on")
    if x == 5:
        raise "sample:missing space"
    if x == 6:
        raise "sample: "
    reason: String[64] = ""
'''


def test_reason_literals__sample__assert_raise_and_passed_on_not_docstrings_or_comments():
    assert reason_literals(SAMPLE) == [
        (12, "assert", "sample: zero"),
        (16, "assert", "ledger: stale prefix"),
        (18, "assert", "samples: near miss"),
        (20, "other", "sample: passed on"),
        (22, "raise", "sample:missing space"),
        (24, "raise", "sample: "),
        (25, "other", ""),
    ]


def test_wrong_prefixes__sample__names_each_stale_or_malformed_reason():
    assert wrong_prefixes(SAMPLE, "sample") == [
        '16: "ledger: stale prefix"',
        '18: "samples: near miss"',
        '22: "sample:missing space"',
        '24: "sample: "',
    ]
    assert wrong_prefixes('assert x, "ledger: paused"\nraise "ledger: unknown security"\n', "ledger") == []


@pytest.mark.parametrize("module", MODULES)
def test_module_reasons__start_with_the_module_name(module):
    source = (CONTRACTS / "modules" / f"{module}.vy").read_text()
    assert wrong_prefixes(source, module) == []


def test_module_reasons__read_from_every_revert_of_the_split_modules():
    """The reader finds the reverts (a reader that found none would pass the test above):
    the modules carved out of ledger.vy, counted by statement kind."""
    counts = {}
    for module in ("registration", "corporate_actions", "recovery", "ledger"):
        literals = reason_literals((CONTRACTS / "modules" / f"{module}.vy").read_text())
        counts[module] = {kind: sum(k == kind for _, k, _ in literals) for kind in ("assert", "raise", "other")}
    assert counts == {
        "registration": {"assert": 33, "raise": 0, "other": 0},
        "corporate_actions": {"assert": 55, "raise": 0, "other": 0},
        "recovery": {"assert": 7, "raise": 0, "other": 0},
        # ledger's own asserts, and the transfer refusals its _reason returns (and "" for none)
        "ledger": {"assert": 15, "raise": 0, "other": 26},
    }


def test_entry_contracts__each_has_an_agreed_prefix():
    assert sorted(path.stem for path in CONTRACTS.glob("*.vy")) == sorted(ENTRY_PREFIX)


@pytest.mark.parametrize("name", sorted(ENTRY_PREFIX))
def test_entry_contract_reasons__start_with_its_agreed_prefix(name):
    source = (CONTRACTS / f"{name}.vy").read_text()
    assert reason_literals(source), "no reason read"
    assert wrong_prefixes(source, ENTRY_PREFIX[name]) == []
