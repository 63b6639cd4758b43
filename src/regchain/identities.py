"""Custody identities and the hashes the register keeps instead of the operator's words.

One place for every value the chain holds in place of a name, a number or a code, so that
what the migration writes and what `ape run ops` (regchain.cli) or a roles file
(regchain.provision) later names are the same hashes:

- a holder's canonical identity ``ID_TYPE:NUMBER`` (`canonical_identity`; the migrated
  accounts' `regchain.legacy.clean.Account.identity` is the same text) becomes a salted
  hash on chain (`Identities.identity_hash`), and a holder without its own wallet gets a
  custody address whose key is derived from the operator's secret and that identity
  (`Identities.custody_key`, `custody_address`), so merged duplicates, which share an
  identity, share an address. The secret comes from the environment
  (``REGCHAIN_OPERATOR_SECRET``), never from a file in the repository;
- a security code as ``keccak("security:" + code)`` (`code_hash`, `code_hash_of` for a
  code as a person writes it), a court case number as ``keccak("case:" + case_no)``
  (`case_hash`, `case_hash_of`).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from coincurve import PublicKey
from eth_utils import keccak, to_checksum_address

from regchain.errors import MigrationError
from regchain.legacy.clean import norm_id
from regchain.legacy.ids import clean_id, identity_text

SECRET_ENV = "REGCHAIN_OPERATOR_SECRET"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Identities:
    """Salted identity hashes and custody addresses, from the operator's secret."""

    secret: bytes

    @classmethod
    def from_env(cls, env=os.environ) -> "Identities":
        value = env.get(SECRET_ENV, "")
        if len(value) < 16:
            raise MigrationError(
                f"set {SECRET_ENV} to the operator's secret (at least 16 characters); "
                "it derives custody addresses and salts identity hashes")
        return cls(value.encode())

    def identity_hash(self, identity: str) -> bytes:
        return hashlib.blake2b(identity.encode(), key=self.secret[:64], digest_size=32,
                               person=b"regchain-id").digest()

    def custody_key(self, identity: str) -> bytes:
        counter = 0
        while True:  # a keccak output >= n is astronomically rare; rehash if it happens
            key = keccak(b"regchain/custody/v1" + self.secret + identity.encode() + bytes([counter]))
            if 0 < int.from_bytes(key, "big") < SECP256K1_N:
                return key
            counter += 1

    def custody_address(self, identity: str) -> str:
        """The address of custody_key(identity): keccak of the uncompressed public key
        (libsecp256k1 through coincurve; a province has ~100,000 holders to derive)."""
        public = PublicKey.from_secret(self.custody_key(identity)).format(compressed=False)
        return to_checksum_address(keccak(public[1:])[12:])


def canonical_identity(id_type: str, id_number: str) -> str:
    """``ID_TYPE:NUMBER`` of a holder as a person writes it (command line): both cleaned as
    the migration cleans the export (`norm_id`, `clean_id`: 15-digit resident ids upgraded),
    so the result is the `Account.identity` of the same holder migrated. IdError (with the
    export's reason code) if the number fails its type's rules."""
    kind = norm_id(id_type)
    return identity_text(kind, clean_id(kind, norm_id(id_number)))


def code_hash(code: str) -> bytes:
    return keccak(text=f"security:{code}")


def code_hash_of(text: str) -> bytes:
    """The code hash of a security code as a person writes it (command line, roles file):
    cleaned as the migration cleans the export's codes (`norm_id`), then hashed, so that
    " shzx-001 " names the security the migration registered as SHZX-001. ValueError if
    nothing is left of it."""
    code = norm_id(str(text))
    if not code:
        raise ValueError(f"security code {text!r} is empty")
    return code_hash(code)


def case_hash(case_no: str) -> bytes:
    return keccak(text=f"case:{case_no}")


def case_hash_of(text: str) -> bytes:
    """The hash of a court case number as a person writes it, cleaned as the migration
    cleans the export's ``case_no`` (`norm_id`). ValueError if nothing is left of it."""
    case_no = norm_id(str(text))
    if not case_no:
        raise ValueError("empty case number")
    return case_hash(case_no)
