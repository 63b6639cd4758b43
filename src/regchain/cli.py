"""What the operator commands share (scripts/deploy.py, migrate.py, ops.py, audit.py,
supervise.py): one `--network`, one `--account`, one `--json`, one way to unlock a keystore,
connecting only after the input is checked; finding the register, document references,
business identifiers hashed as the migration hashes them, the indexer with its checkpoint.

    @network_option()  @account_option()  @json_option()      # the options, defined once
    with connected(network) as provider: ...                  # after every input is checked
    signer = account_for(account, network_name())             # alias, test:N or key file

--network takes ape's choice (ecosystem:network:provider). Unset, a command uses the
provider already connected in its process (tests, `ape console`), else $REGCHAIN_NETWORK,
else the devnet that `make node` runs: never ape's throw-away `ethereum:local` chain.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import click
from eth_utils import is_address, is_hex, keccak, to_checksum_address

from regchain import calendar as cal
from regchain import deployments, indexer
from regchain.errors import one_line  # noqa: F401  (the scripts use common.one_line)

DEFAULT_NETWORK = "ethereum:devnet:node"
NETWORK_ENV = "REGCHAIN_NETWORK"
# no longer read: keystores unlock with ape's APE_ACCOUNTS_<alias>_PASSPHRASE (unlock())
RETIRED_PASSPHRASE_ENV = "REGCHAIN_PASSPHRASE"
TEST_ACCOUNT = re.compile(r"test::?(\d+)", re.IGNORECASE)  # ours (test:N) and ape's (TEST::N)


# ---------------------------------------------------------------- the common options


def default_network(environ=None) -> str:
    """The network a command connects to when --network is not given (and no provider is
    connected in the process): $REGCHAIN_NETWORK, else the devnet."""
    env = os.environ if environ is None else environ
    return env.get(NETWORK_ENV, "").strip() or DEFAULT_NETWORK


def _provider_of(choice: str, what: str = "--network"):
    """ape's provider for a network choice, not connected; one line if ape knows no such network."""
    from ape.exceptions import ApeException
    from ape import networks

    try:
        return networks.get_provider_from_choice(choice)
    except ApeException as exc:  # "No network in 'ethereum' named 'x'. Options:" (the list follows)
        reason = one_line(exc).removesuffix("Options:").strip()
        raise click.ClickException(f"{what} {choice!r}: {reason} (see `ape networks list`)") from None


def _check_network(ctx, param, value):
    if value is not None:
        _provider_of(value)
    return value


def network_option():
    """--network: ape's network choice, checked (offline) while the command line is read."""
    return click.option(
        "--network", default=None, metavar="ECOSYSTEM:NETWORK:PROVIDER", callback=_check_network,
        help=f"ape network choice, e.g. ethereum:consortium:node (default: ${NETWORK_ENV}, else "
             f"{DEFAULT_NETWORK}, the devnet of `make node`; see `ape networks list`).")


def _check_account(ctx, param, value):
    if value is not None:
        account_kind(value)
    return value


def account_option(help_text: str = "Signer"):
    """--account: a keystore alias, test:N or a key file (account_for), its form checked
    while the command line is read."""
    return click.option(
        "--account", default=None, metavar="ALIAS|test:N|KEYFILE", callback=_check_account,
        help=f"{help_text}: an ape keystore alias (unlocked unattended with APE_ACCOUNTS_<alias>_PASSPHRASE, "
             "else asked for on a terminal), test:N (ape's test account N, on the test networks only; or "
             "its address), or a file holding a private key (64 hex digits).")


def _json_mode(ctx, param, value):
    if value:  # stdout carries the JSON document alone: ape's log lines (some on stdout) go to stderr
        import logging

        for handler in logging.getLogger("ape").handlers:
            if hasattr(handler, "echo_kwargs"):
                handler.echo_kwargs = {level: {"err": True}
                                       for level in ("error", "warning", "success", "info", "debug")}
    return value


def json_option():
    return click.option("--json", "as_json", is_flag=True, callback=_json_mode,
                        help="Print the result as one JSON document on stdout for scripts (what is printed "
                             "along the way goes to stderr).")


def echo_for(as_json: bool):
    """The progress printer of a command: stdout, or stderr when stdout carries the --json document."""
    return lambda line="": click.echo(line, err=as_json)


def emit_json(document: dict) -> None:
    click.echo(json.dumps(document, ensure_ascii=False, sort_keys=True, default=str))


def new_option(what: str = "suite"):
    return click.option("--new", "new", is_flag=True,
                        help=f"Deploy a new {what} where none usable is recorded (required outside the test "
                             "networks, where nothing is deployed without it).")


# ---------------------------------------------------------------- connecting


def target_network(choice: str | None) -> str | None:
    """The choice a command connects to: the given one; None (the provider already connected
    in this process); or the default."""
    if choice is not None:
        return choice
    from ape import networks

    active = networks.active_provider
    if active is not None and active.is_connected:
        return None
    return default_network()


def network_name_of(choice: str | None) -> str:
    """The ape network name (devnet, consortium, ...) a choice names, without connecting."""
    target = target_network(choice)
    if target is None:
        return network_name()
    return _provider_of(target, _source(choice)).network.name


def _source(choice: str | None) -> str:
    """Where a network choice came from, for its error line."""
    return "--network" if choice is not None or not os.environ.get(NETWORK_ENV, "").strip() else f"${NETWORK_ENV}"


def is_test_network(name: str) -> bool:
    """anvil networks whose test accounts are unlocked and where suites deploy unasked."""
    from regchain.suite import TEST_ACCOUNT_NETWORKS

    return name in TEST_ACCOUNT_NETWORKS


@contextmanager
def connected(choice: str | None):
    """The active provider if one is connected (tests, ape console) and no other network
    is asked for; otherwise connect to ``choice`` (default: default_network()). Failing to
    connect is one line naming the network."""
    from ape import networks
    from ape.exceptions import ApeException

    from regchain.provision import network_problem

    target = target_network(choice)
    if target is None:
        yield networks.active_provider
        return
    provider = _provider_of(target, _source(choice))
    if problem := network_problem(provider.network.name):
        raise click.ClickException(problem)
    with ExitStack() as stack:
        try:
            active = stack.enter_context(networks.parse_network_choice(target))
        except ApeException as exc:
            hint = " (`make node` starts the devnet)" if target == DEFAULT_NETWORK else ""
            raise click.ClickException(f"cannot connect to {target}: {one_line(exc)}{hint}") from None
        yield active


def network_name() -> str:
    from ape import networks

    return networks.provider.network.name


# ---------------------------------------------------------------- signers


def account_kind(text: str) -> str:
    """What --account names: "test" (test:N), "address" (a test account's), "alias" (an ape
    keystore) or "keyfile" (a file with a private key); one line if it is none of them."""
    from ape import accounts

    if m := TEST_ACCOUNT.fullmatch(text.strip()):
        n = len(accounts.test_accounts)
        if int(m.group(1)) >= n:
            raise click.ClickException(f"--account {text}: there are {n} test accounts (test:0 .. test:{n - 1})")
        return "test"
    if is_address(text):
        return "address"
    if text in set(accounts.aliases):
        return "alias"
    if Path(text).is_file():
        _key_file(text)
        return "keyfile"
    raise click.ClickException(f"--account {text!r}: no keystore alias of that name (`ape accounts list`), "
                               "no key file, not test:N")


def _key_file(path: str):
    from regchain.writer import WriteError, key_file_signer

    try:
        return key_file_signer(path)
    except WriteError as exc:
        raise click.ClickException(f"--account {exc}") from None


def account_for(text: str | None, network: str):
    """The ape account --account names, ready to sign on ``network`` (a name: devnet,
    consortium, ...): a keystore unlocked (unlock()), a key file's key, or ape's test
    account, which signs on the test networks only. None stays None (the command decides)."""
    from ape import accounts

    if text is None:
        return None
    kind = account_kind(text)
    if kind in ("test", "address") and not is_test_network(network):
        raise click.ClickException(f"--account {text}: ape's test accounts sign only on the test networks, "
                                   f"not on '{network}'; use a keystore alias or a key file")
    if kind == "test":
        return accounts.test_accounts[int(TEST_ACCOUNT.fullmatch(text.strip()).group(1))]
    if kind == "address":
        for acct in accounts.test_accounts:
            if acct.address.lower() == text.lower():
                return acct
        raise click.ClickException(f"--account {text} is not a test account's address; use a keystore alias "
                                   "or a key file")
    if kind == "keyfile":
        from ape_accounts.accounts import ApeSigner

        return ApeSigner(private_key="0x" + _key_file(text)._key.secret.hex())
    return unlock(accounts.load(text))


def unlock(account):
    """The one way a keystore account is unlocked for every command: its passphrase from
    APE_ACCOUNTS_<alias>_PASSPHRASE (ape's own variable, also what regchain.writer reads),
    else asked for on a terminal; without either, one line saying what to set. Returns the
    key as a signer that signs without asking per transaction (ape's ApeSigner: ape's
    transactions and regchain.writer's both sign with it)."""
    from ape_accounts.accounts import ApeSigner
    from eth_account import Account as EthAccount

    from regchain.writer import passphrase_env

    alias = account.alias
    variable = passphrase_env(alias)
    passphrase = os.environ.get(variable)
    if passphrase is None:
        if not sys.stdin.isatty():
            retired = (f" ({RETIRED_PASSPHRASE_ENV} is no longer read)"
                       if os.environ.get(RETIRED_PASSPHRASE_ENV) else "")
            raise click.ClickException(f"account '{alias}' is locked: set {variable} to sign unattended{retired}")
        passphrase = click.prompt(f"Passphrase of account '{alias}'", hide_input=True, err=True)
    try:
        key = EthAccount.decrypt(account.keyfile, passphrase)
    except ValueError:
        where = variable if variable in os.environ else "the passphrase given"
        raise click.ClickException(f"account '{alias}': wrong passphrase in {where}") from None
    return ApeSigner(private_key="0x" + bytes(key).hex())


# ---------------------------------------------------------------- the register


def register_address(explicit: str | None) -> str:
    if explicit:
        if not is_address(explicit):
            raise click.ClickException(f"--register {explicit!r} is not an address")
        return to_checksum_address(explicit)
    name = network_name()
    address = deployments.register_address(name)
    if not address:
        raise click.ClickException(f"no register recorded for network '{name}' "
                                   f"({deployments.display_path(deployments.path_for(name))}); "
                                   "run `ape run deploy` or pass --register")
    return address


def first_block(name: str | None = None) -> int:
    """Block of the recorded deployment (logs before it cannot be the register's)."""
    try:
        blocks = [c.get("block") for c in deployments.load(name or network_name())["contracts"].values()]
        blocks = [b for b in blocks if b is not None]
        return min(blocks) if blocks else 0
    except Exception:
        return 0


def register(explicit: str | None):
    from regchain import suite

    return suite.at(register_address(explicit))


def doc_ref(text: str) -> bytes:
    """A 0x-prefixed 32-byte hex is taken as is; any other text is hashed (keccak)."""
    if text.startswith("0x") and len(text) == 66 and is_hex(text):
        return bytes.fromhex(text[2:])
    return keccak(text=text)


def day_arg(text: str) -> int:
    """YYYY-MM-DD or a day number."""
    if text.isdigit():
        return int(text)
    try:
        return cal.day_number(dt.date.fromisoformat(text))
    except ValueError:
        raise click.ClickException(f"{text!r} is neither a date (YYYY-MM-DD) nor a day number") from None


def address_arg(text: str) -> str:
    if not is_address(text):
        raise click.ClickException(f"{text!r} is not an address")
    return to_checksum_address(text)


def make_indexer(address: str, checkpoint: Path | None, chunk: int = 2000, echo=None) -> indexer.Indexer:
    from ape import networks

    net = networks.provider.network
    cid = networks.provider.chain_id
    return indexer.Indexer(indexer.HttpRpc.from_ape(), address, indexer.abi_of_suite(),
                           checkpoint=checkpoint or indexer.default_checkpoint(),
                           network_key=f"{net.ecosystem.name}:{net.name}:{cid}", chunk=chunk,
                           first_block=first_block(net.name), echo=echo)


# ---------------------------------------------------------------- business identifiers
# Codes, identities and case numbers are hashed exactly as the migration hashes them
# (regchain.identities, the migration's own functions), so what `ops` registers matches what
# was migrated.


def identity_arg(id_type: str | None, id_number: str | None, identity: str | None) -> bytes:
    """The on-chain identity of a holder: the migration's keyed hash of ``ID_TYPE:cleaned number``
    (the operator's secret from the environment), or a 0x hash given as is. Never a bare hash of
    an id number (it could be found by trying every number)."""
    if identity is not None:
        if id_number is not None:
            raise click.ClickException("give --identity or --id-type/--id-number, not both")
        if not (identity.startswith("0x") and len(identity) == 66 and is_hex(identity)):
            raise click.ClickException(f"--identity {identity!r} is not a hash (0x and 64 hex digits); "
                                       "give --id-type and --id-number to have it computed")
        return bytes.fromhex(identity[2:])
    if not id_type or not id_number:
        raise click.ClickException("give --id-type and --id-number (or --identity 0x...)")
    canonical, ids = _holder_identity(id_type, id_number)
    return ids.identity_hash(canonical)


def _holder_identity(id_type: str, id_number: str):
    """(``ID_TYPE:NUMBER`` cleaned as migrated, the operator's Identities), or one line."""
    from regchain import identities
    from regchain.errors import MigrationError
    from regchain.legacy.ids import IdError

    try:
        return identities.canonical_identity(id_type, id_number), identities.Identities.from_env()
    except (IdError, MigrationError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None


def code_hash(code: str) -> bytes:
    """The code hash of a security code (cleaned and hashed as migrated: identities.code_hash_of)."""
    from regchain.identities import code_hash_of

    try:
        return code_hash_of(code)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def security_text(text: str) -> str:
    """A SECURITY argument checked before connecting: #id, or a code that is not empty once cleaned."""
    text = str(text).strip()
    if text.startswith("#") and not text[1:].isdigit():
        raise click.ClickException(f"security {text!r}: #id takes a number (or give the code)")
    if not text.startswith("#"):
        code_hash(text)
    return text


def case_hash(case_no: str) -> bytes:
    """The hash of a court case number (cleaned and hashed as migrated: identities.case_hash_of)."""
    from regchain.identities import case_hash_of

    try:
        return case_hash_of(case_no)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


def security_arg(register, text: str) -> int:
    """A security by its code, or by id as #N (a bare number that is no code is taken as an id)."""
    text = str(text).strip()
    if text.startswith("#") and text[1:].isdigit():
        sid = int(text[1:])
    else:
        sid = int(register.security_id(code_hash(text)))
        if sid == 0 and text.isdigit():
            sid = int(text)
    if sid == 0 or sid > int(register.security_count()):
        raise click.ClickException(f"no security {text!r} on this register (a code, or #id)")
    return sid


def amount_arg(text: str, scale: int, what: str = "amount") -> int:
    """A decimal amount in the security's unit (``unit_scale`` decimals) as the on-chain integer."""
    from regchain.legacy.clean import FieldError, parse_amount

    try:
        return parse_amount(str(text), scale)
    except FieldError as exc:
        raise click.ClickException(f"{what}: {exc}") from None
    except (ValueError, IndexError):
        raise click.ClickException(f"{what}: {text!r} is not an amount") from None


def amount_text(text: str, what: str = "amount") -> str:
    """An amount checked before connecting: a positive decimal number (whether its decimals
    fit the security's unit is known once its unit_scale is read: amount_arg)."""
    decimals = len(str(text).strip().partition(".")[2])  # as many as it has: only the form is checked
    amount_arg(text, decimals, what)
    return text


def file_arg(path, what: str) -> Path:
    """A file the command reads, checked before connecting."""
    path = Path(path)
    if not path.is_file():
        raise click.ClickException(f"{what}: no file {path}")
    return path


def custody_signer(identity: str):
    """The signer of the custody address the operator keeps for a holder without a wallet
    (``ID_TYPE:NUMBER``): its key derives from the operator's secret and the cleaned identity,
    as the migration derived the address."""
    from ape_accounts.accounts import ApeSigner

    id_type, sep, number = identity.partition(":")
    if not sep or not number.strip():
        raise click.ClickException(f"--for {identity!r}: give the holder as ID_TYPE:NUMBER (e.g. RESIDENT_ID:1101...)")
    canonical, ids = _holder_identity(id_type, number)
    return ApeSigner(private_key="0x" + ids.custody_key(canonical).hex())
