"""Fixtures are set up in pytest's order within each scope, whatever other modules were
collected before (conftest's pytest_runtest_setup; see docs/testing.md, "Isolation and
order"). Without it ape sets a module's fixtures up in the order their names were first
collected in the session, so conftest's `setup_order` would run before this module's
autouse fixture."""

import pytest

SETUP_ORDER: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _module_autouse():
    SETUP_ORDER.append("_module_autouse")


def test_setup__module_autouse_fixture__set_up_before_the_module_fixtures_a_test_names(setup_order):
    assert SETUP_ORDER == ["_module_autouse", "setup_order"]
