"""Bring a network to a usable register, idempotently: the steps `ape run deploy` and
`ape run demo` share.

    ensure_suite(network_name, account=None, governance=None, registrar=None, roles=None) -> Suite
    ensure_calendar(register, registrar, back_days=400, ahead_days=366)
    load_roles(path) -> RolesFile            # the roles file of `ape run deploy --roles`
    ensure_roles(register, roles, ...)      # wire it: grants, then the governance hand-over
    apply_consortium_env()                  # chain id of the `consortium` network from the env

Every step first reads the chain and does only what is missing, so running it again
is a no-op. Failures are raised as SetupError with one line for humans.

Every transaction (the deployments, the grants, the hand-over, the calendar) goes through
regchain.writer on every network, the devnet too: signed by the account's key here (or by
the node for an address it holds), the network profile's gas price (never eth_gasPrice),
the explicit gas limits of regchain.gaslimits / deployments.DEPLOY_GAS (never eth_estimateGas),
nonces counted here, a killed run's transactions resumed (Writer.settle).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml
from ape import accounts
from ape.exceptions import ApeException
from eth_utils import is_address, keccak, to_checksum_address

from regchain import calendar as cal
from regchain import deployments, gaslimits, suite
from regchain.constants import Role, SecurityRole
from regchain.errors import one_line


class SetupError(Exception):
    """A setup step failed; the message is one line."""


# Gas limits of the setup's transactions: regchain.gaslimits, the one table every command
# sends with (measured worst case plus margin, never eth_estimateGas).
SETUP_GAS = gaslimits.GAS

_SUITE_ABI = None


def _suite_abi():
    global _SUITE_ABI
    if _SUITE_ABI is None:
        from regchain.abi import SuiteAbi

        _SUITE_ABI = SuiteAbi.from_suite()
    return _SUITE_ABI


class _Writes:
    """The setup's transactions of one account through regchain.writer: `send` queues,
    `flush` sends them (a window in flight) and waits for their receipts; a refusal, a
    revert or a lost node raises SetupError naming `what`."""

    def __init__(self, account, what: str):
        from regchain.networks import ProfileError
        from regchain.writer import WriteError, writer_for

        self.what = what
        try:
            self.writer = writer_for(account, again=f"run the command again ({what})")
            self.writer.settle()  # a killed run's transactions: mined (or resumed) before we go on
        except (WriteError, ProfileError) as exc:
            raise SetupError(f"{what}: {exc}") from None
        except OSError as exc:
            raise SetupError(f"{what}: the node stopped answering ({exc})") from None

    def send(self, register, fn: str, *args) -> None:
        with self._errors():
            self.writer.send(str(register.address), _suite_abi()[fn].encode(args), gaslimits.gas_limit(fn), fn)

    def flush(self) -> None:
        with self._errors():
            self.writer.flush()

    def _errors(self):
        import contextlib

        from regchain.rpc import RpcError
        from regchain.writer import WriteError

        @contextlib.contextmanager
        def errors():
            try:
                yield
            except WriteError as exc:
                raise SetupError(f"{self.what}: {exc}") from None
            except RpcError as exc:
                raise SetupError(f"{self.what}: the node refused a request: {exc}") from None
            except OSError as exc:
                raise SetupError(f"{self.what}: the node stopped answering ({exc})") from None

        return errors()

    def close(self) -> None:
        self.writer.rpc.close()


@dataclass
class Suite:
    register: object  # suite view of Register
    deployer: object  # ape account that deployed (or would have deployed)
    registrar: str  # address holding the registrar role
    registrar_signer: object | None  # its ape account, if we hold its key (test accounts)
    deployment: suite.SuiteDeployment


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
                 registrar: str | None = None, roles: "RolesFile | None" = None,
                 echo: Callable[[str], None] = print) -> Suite:
    """Deploy or reuse the suite on the connected network; grant the registrar role;
    with ``roles`` (a roles file), wire every role it names (ensure_roles)."""
    try:
        params = suite.network_params(network_name)
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    if params is None:
        raise SetupError(f"no suite parameters for network '{network_name}'; "
                         "add them to regchain.suite.NETWORK_PARAMS")
    tx = dict(suite.TX_PARAMS.get(network_name, {}))
    on_test_network = network_name in suite.TEST_ACCOUNT_NETWORKS
    governance = checked_address(governance, "--governance")
    registrar = checked_address(registrar, "--registrar")
    if roles is not None:
        if governance is not None and roles.governance is not None:
            raise SetupError("give governance either with --governance or in the roles file, not both")
        if registrar is None and roles.registrar:
            registrar = roles.registrar[0]
    _check_recorded_clock(network_name, params)
    _unlock_from_env(account)
    if account is None:
        if not on_test_network:
            raise SetupError(f"pass --account to deploy on '{network_name}'")
        account = accounts.test_accounts[0]
    if registrar is None:
        if not on_test_network:
            raise SetupError(f"pass --registrar on '{network_name}'")
        registrar = account.address
    if governance is None:
        # Register's constructor governance as recorded: a re-run by another account (the
        # governance after a hand-over) reuses the suite instead of deploying a new one
        governance = _recorded_governance(network_name)
    try:
        deployed = suite.deploy_or_reuse(account, governance or account.address, **params, **tx)
        deployments.set_fields(network_name, **params)
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
            writes = _Writes(signer, "granting the registrar role")
            writes.send(reg, "grant_role", registrar, int(missing), keccak(text=f"deploy: registrar {registrar}"))
            writes.flush()
            writes.close()
            echo(f"registrar {registrar}: granted {role_names(missing)}")
    except ApeException as exc:
        raise SetupError(f"granting the registrar role: {one_line(exc)}") from None
    if roles is not None:
        ensure_roles(reg, roles, deployer=account, on_test_network=on_test_network, tx=tx, echo=echo)
    signer = account if account.address.lower() == registrar.lower() else (
        _test_account(registrar) if on_test_network else None)
    return Suite(reg, account, registrar, signer, deployed)


def _recorded_governance(network_name: str) -> str | None:
    """The governance argument Register was deployed with, from the network's record."""
    args = (deployments.load(network_name)["contracts"].get("Register") or {}).get("constructor_args") or []
    return checked_address(args[0], "recorded governance") if args and is_address(str(args[0])) else None


def recorded_suite(network_name: str, account) -> object:
    """The suite recorded for a network that is not a test network, for a command that
    writes with `account` as registrar (the migration): never deploys. SetupError (one
    line saying what to do) without a usable record, or when `account` lacks the
    registrar role."""
    record = deployments.path_for(network_name)
    address = deployments.register_address(network_name)
    if not address:
        raise SetupError(f"no suite recorded for '{network_name}' ({deployments.display_path(record)}): deploy it "
                         f"first with `ape run deploy --network ethereum:{network_name}:node --account <alias> "
                         "--roles <roles file> --new`")
    from ape import project

    try:
        instance, reason = deployments.check("Register", project.Register, network_name)
    except ApeException as exc:
        raise SetupError(one_line(exc)) from None
    if instance is None:
        raise SetupError(f"the suite recorded for '{network_name}' cannot be used: {reason}")
    if account is None:
        raise SetupError(f"pass --account <alias>: the account holding the registrar role on '{network_name}'")
    register = suite.at(address)
    missing = suite.missing_roles(register, account.address, Role.REGISTRAR)
    if missing:
        raise SetupError(f"account {getattr(account, 'alias', None) or account.address} ({account.address}) lacks "
                         f"{role_names(missing)} on register {address}: grant it with `ape run deploy --roles`")
    return register


def must_deploy_new(network_name: str, new: bool) -> None:
    """On a network that is not a test network, `deploy` makes a new suite only when told
    (--new): SetupError if the recorded one (or none) would be replaced."""
    if new or network_name in suite.TEST_ACCOUNT_NETWORKS:
        return
    from ape import project

    for name in suite.SUITE_ORDER:
        try:
            instance, reason = deployments.check(name, getattr(project, name), network_name)
        except ApeException as exc:
            raise SetupError(one_line(exc)) from None
        if instance is None:
            raise SetupError(f"{reason}: this would deploy a new suite on '{network_name}'; pass --new to do so")


def _check_recorded_clock(network_name: str, params: dict) -> None:
    """Refuse to redeploy silently because the clock parameters changed: a record made with
    another time unit or UTC offset means the environment (or the file) is the wrong one."""
    data = deployments.load(network_name)
    for key, want in params.items():
        have = data.get(key)
        if have is not None and have != want and data.get("contracts"):
            raise SetupError(f"{deployments.display_path(deployments.path_for(network_name))} records "
                             f"{key}={json.dumps(have)} but this run wants {json.dumps(want)} "
                             f"(check {suite.TIME_UNIT_ENV}/{suite.UTC_OFFSET_ENV}, or move the file "
                             "aside to deploy a new suite)")


def _unlock_from_env(account) -> None:
    """A keyfile account whose passphrase is in APE_ACCOUNTS_<alias>_PASSPHRASE (ape's own
    variable) signs without prompting: automation sets the variable, a person gets the prompt."""
    alias = getattr(account, "alias", None)
    if alias and hasattr(account, "set_autosign") and os.environ.get(f"APE_ACCOUNTS_{alias}_PASSPHRASE"):
        try:
            account.set_autosign(True)  # unlock() reads APE_ACCOUNTS_<alias>_PASSPHRASE
        except Exception as exc:
            raise SetupError(f"unlocking account '{alias}' with APE_ACCOUNTS_{alias}_PASSPHRASE: "
                             f"{one_line(exc)}") from None


# ------------------------------------------------------------------ roles file

ROLE_KEYS = ("governance", "registrar", "court_agent", "securities")
SECURITY_ROLE_KEYS = {"issuer_agent": SecurityRole.ISSUER_AGENT, "fund_manager": SecurityRole.FUND_MANAGER}


@dataclass
class RolesFile:
    """Who holds what, as `ape run deploy --roles FILE` reads it (YAML or JSON):

        governance: 0x...                 # hand-over: transfer_governance, then accept_governance
        registrar: 0x...                  # Role.REGISTRAR (one address or a list)
        court_agent: [0x..., 0x...]       # Role.COURT_AGENT
        securities:                       # optional, per security: id, or the code `ops` registered
          10: {issuer_agent: 0x..., fund_manager: [0x...]}
    """

    path: str
    governance: str | None = None
    registrar: list[str] = field(default_factory=list)
    court_agent: list[str] = field(default_factory=list)
    # security key (int id or code text) -> [(address, SecurityRole)]
    securities: dict = field(default_factory=dict)
    # the business document of every grant and the hand-over: keccak of the file's bytes
    doc: bytes = bytes(32)


def load_roles(path) -> RolesFile:
    """Read and check a roles file; SetupError with one line naming the file and the entry."""
    path = Path(path)
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SetupError(f"roles file {where}: {exc.strerror or one_line(exc)}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            # addresses must stay text: YAML 1.1 would read an unquoted 0x... as a number
            data = yaml.load(text, Loader=_text_loader())
    except Exception as exc:  # yaml.YAMLError, json.JSONDecodeError
        raise SetupError(f"roles file {where}: not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'} "
                         f"({one_line(exc)})") from None
    if not isinstance(data, dict):
        raise SetupError(f"roles file {where}: expected a mapping of role names to addresses")
    for key in data:
        if key not in ROLE_KEYS:
            raise SetupError(f"roles file {where}: unknown role '{key}' (known: {', '.join(ROLE_KEYS)})")
    out = RolesFile(where, doc=keccak(text.encode("utf-8")))
    if data.get("governance") is not None:
        out.governance = _address_in(data["governance"], f"{where}: governance")
        if isinstance(data["governance"], list):
            raise SetupError(f"roles file {where}: governance is one address")
    out.registrar = _addresses_in(data.get("registrar"), f"{where}: registrar")
    out.court_agent = _addresses_in(data.get("court_agent"), f"{where}: court_agent")
    secs = data.get("securities") or {}
    if not isinstance(secs, dict):
        raise SetupError(f"roles file {where}: securities must map a security (id or code) to its roles")
    for key, entry in secs.items():
        label = f"{where}: securities.{key}"
        if not isinstance(entry, dict):
            raise SetupError(f"roles file {label}: expected issuer_agent / fund_manager")
        grants = []
        for name, value in entry.items():
            if name not in SECURITY_ROLE_KEYS:
                raise SetupError(f"roles file {label}: unknown security role '{name}' "
                                 f"(known: {', '.join(SECURITY_ROLE_KEYS)})")
            grants += [(a, SECURITY_ROLE_KEYS[name]) for a in _addresses_in(value, f"{label}.{name}")]
        out.securities[int(key) if str(key).isdigit() else str(key)] = grants
    return out


def _text_loader():
    class Loader(yaml.SafeLoader):
        pass

    # every scalar is text (no int/float/bool resolution), so 0x... addresses survive intact
    Loader.yaml_implicit_resolvers = {}
    return Loader


def _address_in(value, what: str) -> str:
    if isinstance(value, list):
        if len(value) != 1:
            raise SetupError(f"roles file {what}: expected one address")
        value = value[0]
    if not isinstance(value, str) or not is_address(value.strip()):
        raise SetupError(f"roles file {what}: {value!r} is not an address (0x and 40 hex digits)")
    return to_checksum_address(value.strip())


def _addresses_in(value, what: str) -> list[str]:
    if value is None:
        return []
    values = value if isinstance(value, list) else [value]
    return [_address_in(v, what) for v in values]


def _security_id(register, key) -> int:
    if isinstance(key, int):
        if int(register.security_count()) < key or key == 0:
            raise SetupError(f"roles file: no security {key} on this register")
        return key
    from regchain.identities import code_hash_of  # the code cleaned and hashed as the migration does

    try:
        sid = int(register.security_id(code_hash_of(key)))
    except ValueError as exc:
        raise SetupError(f"roles file: {exc}") from None
    if sid == 0:
        raise SetupError(f"roles file: no security registered under code '{key}'")
    return sid


def ensure_roles(register, roles: RolesFile, *, deployer, on_test_network: bool, tx: dict | None = None,
                 echo: Callable[[str], None] = print) -> list[str]:
    """Grant what the roles file names and the register lacks, then hand governance over.

    Grants need the current governance's key (the deployer, or a test account on test
    networks), so they come first; the hand-over last: transfer_governance by the current
    governance, then accept_governance by the new one, sent here if its key is available
    (test accounts), else printed as the step that remains. Returns the lines of what is
    left to do (empty: the register matches the file)."""
    tx = tx or {}
    gov = str(register.governance())

    def signer_of(address):
        if deployer is not None and deployer.address.lower() == address.lower():
            return deployer
        return _test_account(address) if on_test_network else None

    wanted = [(a, Role.REGISTRAR, "registrar") for a in roles.registrar]
    wanted += [(a, Role.COURT_AGENT, "court agent") for a in roles.court_agent]
    sec_wanted = []
    for key, grants in roles.securities.items():
        sid = _security_id(register, key)
        for address, flag in grants:
            held = SecurityRole(int(register.security_roles(sid, address)))
            if flag not in held:
                sec_wanted.append((sid, address, flag))
            else:
                echo(f"security {sid}: {address} holds {flag.name}")
    missing = []
    for address, flags, label in wanted:
        lack = suite.missing_roles(register, address, flags)
        if lack:
            missing.append((address, lack, label))
        else:
            echo(f"{label} {address} holds {role_names(flags)}")
    gov_signer = signer_of(gov)
    if (missing or sec_wanted) and gov_signer is None:
        raise SetupError(f"{len(missing) + len(sec_wanted)} role grant(s) missing; only governance {gov} can "
                         "grant them: run again with --account <governance>")
    if missing or sec_wanted:
        writes = _Writes(gov_signer, "granting roles")
        for address, lack, label in missing:
            writes.send(register, "grant_role", address, int(lack), roles.doc)
        for sid, address, flag in sec_wanted:
            writes.send(register, "grant_security_role", sid, address, int(flag), roles.doc)
        writes.flush()
        writes.close()
        for address, lack, label in missing:
            echo(f"{label} {address}: granted {role_names(lack)}")
        for sid, address, flag in sec_wanted:
            echo(f"security {sid}: {address} granted {flag.name}")

    todo: list[str] = []
    target = roles.governance
    if target is None or target.lower() == gov.lower():
        if target is not None:
            echo(f"governance is {gov}")
        return todo
    try:
        pending = str(register.pending_governance())
        if pending.lower() != target.lower():
            if gov_signer is None:
                raise SetupError(f"governance is {gov}; only it can hand over to {target}: "
                                 "run again with --account <governance>")
            writes = _Writes(gov_signer, "governance hand-over")
            writes.send(register, "transfer_governance", target, roles.doc)
            writes.flush()
            writes.close()
            echo(f"governance: hand-over to {target} started (transfer_governance)")
        new_signer = signer_of(target)
        if new_signer is not None:
            writes = _Writes(new_signer, "governance hand-over")
            writes.send(register, "accept_governance", roles.doc)
            writes.flush()
            writes.close()
            echo(f"governance: {target} accepted; it is governance now")
        else:
            todo.append(f"governance: {target} must call accept_governance(doc) on {register.address} "
                        f"to complete the hand-over (governance stays {gov} until then)")
    except ApeException as exc:
        raise SetupError(f"governance hand-over: {one_line(exc)}") from None
    for line in todo:
        echo(f"TO DO  {line}")
    return todo


# ------------------------------------------------------------------ consortium network

CHAIN_ID_ENV = "REGCHAIN_CHAIN_ID"
RPC_URI_ENV = "REGCHAIN_RPC_URI"


def apply_consortium_env(environ=None) -> int | None:
    """Give the `consortium` network (ape-config.yaml) the chain id in REGCHAIN_CHAIN_ID.

    ape validates a custom network's ``chain_id`` as an int when it loads ape-config.yaml,
    for every command: an unset ``$VAR`` there stays the literal text and breaks them all.
    So the file carries a default (20200, FISCO BCOS's) and this replaces it in ape's
    network data before a connection is made (ape then checks the node's chain id against
    it). Called when this module is imported, i.e. by every regchain script. Returns the
    chain id applied, or None (variable unset or not a number: network_problem() says so)."""
    env = os.environ if environ is None else environ
    text = env.get(CHAIN_ID_ENV, "").strip()
    if not text.isdigit():
        return None
    from ape import networks

    for net in networks.custom_networks:
        if net.get("name") in (suite.CONSORTIUM, f"{suite.CONSORTIUM}-fork"):
            net["chain_id"] = int(text)
    return int(text)


def network_problem(network_name: str, environ=None) -> str | None:
    """One line if the environment the `consortium` network needs is missing or wrong."""
    if network_name != suite.CONSORTIUM:
        return None
    env = os.environ if environ is None else environ
    problems = []
    if not env.get(RPC_URI_ENV, "").strip():
        problems.append(f"{RPC_URI_ENV} (the node's JSON-RPC URL) is not set")
    cid = env.get(CHAIN_ID_ENV, "").strip()
    if cid and not cid.isdigit():
        problems.append(f"{CHAIN_ID_ENV}={cid!r} is not a chain id")
    try:
        suite.consortium_params(env)
    except ValueError as exc:
        problems.append(str(exc))
    return "; ".join(problems) or None


try:
    apply_consortium_env()
except Exception:  # no ape session (plain import): nothing to configure
    pass


def ensure_calendar(register, registrar_signer, *, back_days: int = 400, ahead_days: int = 366,
                    provisional: bool = False, echo: Callable[[str], None] = print) -> int:
    """Publish the market's trading days (regchain.calendar.market_days: weekdays less the
    official holidays of mainland China) from today-back_days (first publication) to
    today+ahead_days, skipping what is already published; return the number of publications.

    The official data ends with the last year the pinned `chinesecalendar` has a State
    Council notice for. Past it, only with ``provisional``: weekdays less the statutory
    holidays themselves (cal.statutory_holidays; the bridging days are amended in when the
    notice is out);
    without it the calendar stops at the official data and says so."""
    today = int(register.today())
    horizon = int(register.horizon_day())
    last = today + ahead_days
    first = today - back_days if horizon == 0 else horizon + 1
    official_last = cal.official_last_day()
    if not provisional and last > official_last:
        if first <= official_last:
            echo(f"the official holidays in {cal.official_source()} end on {cal.date_of(official_last)}: "
                 f"publishing to that day (the rest when the State Council's notice is in the package, "
                 f"or with --provisional)")
        last = official_last
    if first > last:
        echo(f"calendar published to {cal.date_of(horizon)} (day {horizon}); nothing to add")
        return 0
    n = 0
    try:
        publications = []
        for a, b in cal.chunks(first, last, 366):
            kind = "official" if b <= official_last else "provisional"
            doc = keccak(text=f"calendar {cal.date_of(a)}..{cal.date_of(b)} {kind} {cal.official_source()}")
            publications.append((a, b, cal.market_days(a, b, provisional=provisional), doc))
    except cal.CalendarGap as exc:
        raise SetupError(f"publishing the calendar: {exc}") from None
    writes = _Writes(registrar_signer, "publishing the calendar")
    for args in publications:
        writes.send(register, "publish_calendar", *args)
        n += 1
    writes.flush()
    writes.close()
    tail = ""
    if last > official_last:
        tail = (f"; from {cal.date_of(max(first, official_last + 1))} provisional: weekdays less the statutory "
                f"holidays, amend the year's bridging days with `ops calendar amend`")
    echo(f"calendar published {cal.date_of(first)} .. {cal.date_of(last)} "
         f"(market days, {cal.official_source()}; {n} publication{'s' if n != 1 else ''}{tail})")
    return n
