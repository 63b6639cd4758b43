"""What the operator commands (scripts/ops.py, scripts/audit.py) share: connecting, finding
the register, signers, document references, the indexer with its checkpoint."""

from __future__ import annotations

import datetime as dt
import os
from contextlib import contextmanager
from pathlib import Path

import click
from eth_utils import is_address, is_hex, keccak, to_checksum_address

from regchain import calendar as cal
from regchain import deployments, indexer
from regchain.errors import one_line  # noqa: F401  (the scripts use common.one_line)

DEFAULT_NETWORK = "ethereum:devnet:node"
PASSPHRASE_ENV = "REGCHAIN_PASSPHRASE"


@contextmanager
def connected(choice: str | None):
    """The active provider if one is connected (tests, ape console) and no other network
    is asked for; otherwise connect to ``choice`` (default: the devnet)."""
    from ape import networks

    active = networks.active_provider
    if active is not None and active.is_connected and choice is None:
        yield active
        return
    with networks.parse_network_choice(choice or DEFAULT_NETWORK) as provider:
        yield provider


def network_name() -> str:
    from ape import networks

    return networks.provider.network.name


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


def signer(alias: str | None):
    """An ape account: a keyfile alias (passphrase from REGCHAIN_PASSPHRASE if set), a test
    account index (``test:N``) or the address of an unlocked test account."""
    from ape import accounts

    if alias is None:
        raise click.ClickException("pass --account (alias, test:N or a test account's address)")
    if alias.startswith("test:"):
        return accounts.test_accounts[int(alias[5:])]
    if is_address(alias):
        for acct in accounts.test_accounts:
            if acct.address.lower() == alias.lower():
                return acct
        raise click.ClickException(f"{alias} is not an unlocked test account; use a keyfile alias")
    try:
        acct = accounts.load(alias)
    except Exception as exc:
        raise click.ClickException(f"no account '{alias}': {str(exc).splitlines()[0]}") from None
    passphrase = os.environ.get(PASSPHRASE_ENV)
    if passphrase:
        acct.set_autosign(True, passphrase=passphrase)
    return acct


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
# (regchain.migrate, regchain.legacy), so what `ops` registers matches what was migrated.


def identity_arg(id_type: str | None, id_number: str | None, identity: str | None) -> bytes:
    """The on-chain identity of a holder: the migration's keyed hash of ``ID_TYPE:cleaned number``
    (the operator's secret from the environment), or a 0x hash given as is. Never a bare hash of
    an id number (it could be found by trying every number)."""
    from regchain import migrate
    from regchain.legacy.clean import norm_id
    from regchain.legacy.ids import IdError, clean_id

    if identity is not None:
        if id_number is not None:
            raise click.ClickException("give --identity or --id-type/--id-number, not both")
        if not (identity.startswith("0x") and len(identity) == 66 and is_hex(identity)):
            raise click.ClickException(f"--identity {identity!r} is not a hash (0x and 64 hex digits); "
                                       "give --id-type and --id-number to have it computed")
        return bytes.fromhex(identity[2:])
    if not id_type or not id_number:
        raise click.ClickException("give --id-type and --id-number (or --identity 0x...)")
    try:
        canonical = clean_id(id_type.upper(), norm_id(id_number))
        ids = migrate.Identities.from_env()
    except (IdError, migrate.MigrationError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    return ids.identity_hash(f"{id_type.upper()}:{canonical}")


def code_hash(code: str) -> bytes:
    """The code hash of a security code (as migrated)."""
    from regchain import migrate
    from regchain.legacy.clean import norm_id

    return migrate.code_hash(norm_id(code))


def case_hash(case_no: str) -> bytes:
    """The hash of a court case number (as migrated)."""
    from regchain import migrate
    from regchain.legacy.clean import norm_id

    text = norm_id(case_no)
    if not text:
        raise click.ClickException("empty case number")
    return migrate.case_hash(text)


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


def custody_signer(identity: str):
    """The signer of the custody address the operator keeps for a holder without a wallet
    (``ID_TYPE:NUMBER``): its key derives from the operator's secret and the cleaned identity,
    as the migration derived the address."""
    from ape_accounts.accounts import ApeSigner

    from regchain import migrate
    from regchain.legacy.clean import norm_id
    from regchain.legacy.ids import IdError, clean_id

    id_type, sep, number = identity.partition(":")
    if not sep or not number.strip():
        raise click.ClickException(f"--for {identity!r}: give the holder as ID_TYPE:NUMBER (e.g. RESIDENT_ID:1101...)")
    try:
        canonical = f"{id_type.strip().upper()}:{clean_id(id_type.strip().upper(), norm_id(number))}"
        key = migrate.Identities.from_env().custody_key(canonical)
    except (IdError, migrate.MigrationError) as exc:
        raise click.ClickException(str(exc).splitlines()[0]) from None
    return ApeSigner(private_key="0x" + key.hex())
