"""Bring a network to a usable register, idempotently: the steps `ape run deploy` and
`ape run demo` share.

    ensure_suite(network_name, account=None, governance=None, registrar=None) -> Suite
    ensure_calendar(register, registrar, back_days=400, ahead_days=366)

Every step first reads the chain and does only what is missing, so running it again
is a no-op. Failures are raised as SetupError with one line for humans.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ape import accounts
from ape.exceptions import ApeException
from eth_utils import is_address, keccak, to_checksum_address

from regchain import calendar as cal
from regchain import deployments, suite
from regchain.constants import Role


class SetupError(Exception):
    """A setup step failed; the message is one line."""


@dataclass
class Suite:
    register: object  # suite view of Register
    deployer: object  # ape account that deployed (or would have deployed)
    registrar: str  # address holding the registrar role
    registrar_signer: object | None  # its ape account, if we hold its key (test accounts)
    deployment: suite.SuiteDeployment


def one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


def role_names(flags: Role) -> str:
    """'ACCOUNT_MANAGER|SECURITY_MANAGER', or 'REGISTRAR' for the registrar's full set."""
    if flags == Role.REGISTRAR:
        return "REGISTRAR"
    return "|".join(r.name for r in Role if r.value & (r.value - 1) == 0 and r in flags)


def checked_address(value, what: str) -> str | None:
    """``value`` as a checksummed address (None stays None); SetupError if it is not one."""
    if value is None:
        return None
    text = str(getattr(value, "address", value))
    if not is_address(text):
        raise SetupError(f"{what} {text!r} is not an address (0x and 40 hex digits)")
    return to_checksum_address(text)


def _test_account(address: str):
    """The unlocked test account with ``address``, or None."""
    for acct in accounts.test_accounts:
        if acct.address.lower() == str(address).lower():
            return acct
    return None


def ensure_suite(network_name: str, *, account=None, governance: str | None = None,
                 registrar: str | None = None, echo: Callable[[str], None] = print) -> Suite:
    """Deploy or reuse the suite on the connected network; grant the registrar role."""
    params = suite.NETWORK_PARAMS.get(network_name)
    if params is None:
        raise SetupError(f"no suite parameters for network '{network_name}'; "
                         "add them to regchain.suite.NETWORK_PARAMS")
    on_test_network = network_name in suite.TEST_ACCOUNT_NETWORKS
    governance = checked_address(governance, "--governance")
    registrar = checked_address(registrar, "--registrar")
    if account is None:
        if not on_test_network:
            raise SetupError(f"pass --account to deploy on '{network_name}'")
        account = accounts.test_accounts[0]
    if registrar is None:
        if not on_test_network:
            raise SetupError(f"pass --registrar on '{network_name}'")
        registrar = account.address
    try:
        deployed = suite.deploy_or_reuse(account, governance or account.address, **params)
    except ApeException as exc:
        raise SetupError(one_line(exc)) from None
    for step in deployed.steps:
        echo(f"  {step.instance.contract_type.name:<13} {step.reason}")
    reg = deployed.register
    record = deployments.display_path(deployments.path_for(network_name))
    echo(f"register {reg.address}  (network {network_name}, record {record})")

    try:
        registrar = str(registrar)
        missing = suite.missing_roles(reg, registrar, Role.REGISTRAR)
        if not missing:
            echo(f"registrar {registrar} holds the registrar role")
        else:
            gov = str(reg.governance())
            signer = account if account.address.lower() == gov.lower() else (
                _test_account(gov) if on_test_network else None)
            if signer is None:
                raise SetupError(f"registrar {registrar} lacks {role_names(missing)}; only governance "
                                 f"{gov} can grant it: run again with --account <governance>")
            suite.ensure_role(reg, registrar, Role.REGISTRAR, governance_signer=signer)
            echo(f"registrar {registrar}: granted {role_names(missing)}")
    except ApeException as exc:
        raise SetupError(f"granting the registrar role: {one_line(exc)}") from None
    signer = account if account.address.lower() == registrar.lower() else (
        _test_account(registrar) if on_test_network else None)
    return Suite(reg, account, registrar, signer, deployed)


def ensure_calendar(register, registrar_signer, *, back_days: int = 400, ahead_days: int = 366,
                    echo: Callable[[str], None] = print) -> int:
    """Publish weekdays from today-back_days (first publication) to today+ahead_days,
    skipping what is already published; return the number of publications made."""
    today = int(register.today())
    horizon = int(register.horizon_day())
    last = today + ahead_days
    first = today - back_days if horizon == 0 else horizon + 1
    if first > last:
        echo(f"calendar published to {cal.date_of(horizon)} (day {horizon}); nothing to add")
        return 0
    doc = keccak(text=f"calendar {cal.date_of(first)}..{cal.date_of(last)}")
    n = 0
    try:
        for a, b in cal.chunks(first, last, 366):
            register.publish_calendar(a, b, cal.weekdays(a, b), doc, sender=registrar_signer)
            n += 1
    except ApeException as exc:
        raise SetupError(f"publishing the calendar: {one_line(exc)}") from None
    echo(f"calendar published {cal.date_of(first)} .. {cal.date_of(last)} "
         f"(weekdays; {n} publication{'s' if n != 1 else ''})")
    return n
