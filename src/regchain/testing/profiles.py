"""Hypothesis profiles, defined once for the tests, the state machine and the benchmark.

`HYPOTHESIS_PROFILE` picks one: `quick` (`make test`, the default) or `deep`
(`make test-deep`). Tests load it through tests/conftest.py; `make bench` runs the state
machine with the derandomized `bench` profile so that its runs compare.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

QUICK, DEEP_NAME, BENCH = "quick", "deep", "bench"
NAME = os.environ.get("HYPOTHESIS_PROFILE", QUICK)
DEEP = NAME == DEEP_NAME

# what every profile shares: the chain, not hypothesis, sets the pace
_COMMON = dict(deadline=None, suppress_health_check=list(HealthCheck))

settings.register_profile(QUICK, max_examples=10, stateful_step_count=15, **_COMMON)
settings.register_profile(DEEP_NAME, max_examples=200, stateful_step_count=60, **_COMMON)
# derandomized: the same examples every run, so runs (and machines) compare; with random
# examples the mix of short and long ones moved the figure by a third
settings.register_profile(BENCH, derandomize=True, database=None, **_COMMON)

# The register's state machine (tests/test_stateful.py): examples x steps per EVM.
MACHINE = {
    QUICK: dict(max_examples=15, stateful_step_count=30),
    DEEP_NAME: dict(max_examples=400, stateful_step_count=75),
}


def load() -> None:
    """Make the profile `HYPOTHESIS_PROFILE` names the default (an unknown name: quick)."""
    settings.load_profile(NAME if NAME in (QUICK, DEEP_NAME) else QUICK)


def machine(**overrides) -> settings:
    """Settings of a state-machine run under the active profile (`overrides` win)."""
    return settings(settings.default, **{**MACHINE[DEEP_NAME if DEEP else QUICK], **overrides})


def bench(**sizes) -> settings:
    """The benchmark's settings: derandomized, no example database, `sizes` as given."""
    return settings(settings.get_profile(BENCH), **sizes)
