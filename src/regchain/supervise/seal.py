"""The data-owner seal (数据所有者签名, JR/T 0314 ``header.seal``) and the bytes it covers.

regchain fixes the signed bytes (the standard does not):

1. ``unsigned`` = the snapshot without ``header.seal``;
2. ``M`` = canonical JSON of ``unsigned``: UTF-8, keys sorted, no insignificant white space,
   non-ASCII kept (integral numbers are written as integers by the generator);
3. ``signature`` = SM2 with SM3 over ``M`` including Z_A with the default user id
   ``1234567812345678`` (GB/T 32918), written as hex r‖s (128 hex); ``pub_key.value`` = ``04``‖X‖Y.

The stored bytes are the canonical JSON of the *sealed* snapshot; their SM3 digest is what the
Anchor contract records. Signing and verifying use Tongsuo (``tongsuopy``, native); the tests
prove that a seal made here verifies with the independent pure-Python ``gmssl`` and the reverse.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tongsuopy.crypto import hashes
from tongsuopy.crypto.asymciphers import ec
from tongsuopy.crypto.exceptions import InvalidSignature

from regchain.supervise import SuperviseError

DEFAULT_USER_ID = b"1234567812345678"  # GB/T 32918 / GM/T 0009 default: Tongsuo's and gmssl's too
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_PUB = re.compile(r"04[0-9a-fA-F]{128}")
# SM2 curve order n (GB/T 32918.5)
SM2_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def canonical(obj) -> bytes:
    """The canonical bytes of a JSON value (§4.3 step 2)."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sm3(data: bytes) -> str:
    """SM3 digest (GB/T 32905) of ``data`` as 64 hex; Python's hashlib has it natively."""
    return hashlib.new("sm3", data).hexdigest()


def unsigned(snapshot: dict) -> dict:
    """The snapshot without ``header.seal`` (a shallow copy)."""
    header = {k: v for k, v in snapshot["header"].items() if k != "seal"}
    return {**snapshot, "header": header}


# ---------------------------------------------------------------- DER <-> r||s


def _der_int(data: bytes, i: int) -> tuple[int, int]:
    if data[i] != 0x02:
        raise ValueError("DER: INTEGER expected")
    n = data[i + 1]
    return int.from_bytes(data[i + 2:i + 2 + n], "big"), i + 2 + n


def der_to_rs(der: bytes) -> str:
    """A DER ``SEQUENCE {r, s}`` as 128 hex r‖s."""
    if len(der) < 8 or der[0] != 0x30:
        raise ValueError("DER: SEQUENCE expected")
    r, i = _der_int(der, 2)
    s, _ = _der_int(der, i)
    return f"{r:064x}{s:064x}"


def rs_to_der(rs: str) -> bytes:
    r, s = int(rs[:64], 16), int(rs[64:], 16)

    def enc(v: int) -> bytes:
        b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big")
        return b"\x02" + bytes([len(b)]) + b

    body = enc(r) + enc(s)
    return b"\x30" + bytes([len(body)]) + body


# ---------------------------------------------------------------- keys


def public_key_from_hex(pub_hex: str) -> ec.EllipticCurvePublicKey:
    if not _PUB.fullmatch(pub_hex or ""):
        raise SuperviseError("an SM2 public key is 130 hex characters: 04, then X and Y")
    x, y = int(pub_hex[2:66], 16), int(pub_hex[66:], 16)
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SM2()).public_key()
    except ValueError:
        raise SuperviseError("the SM2 public key is not a point of the curve") from None


class Signer:
    """The operator's data-owner key (SM2)."""

    def __init__(self, private_hex: str):
        if not _HEX64.fullmatch(private_hex or "") or not 0 < int(private_hex, 16) < SM2_N - 1:
            raise SuperviseError("an SM2 private key is 64 hex characters (1 <= d < n-1)")
        self.private_hex = private_hex.lower()
        self._key = ec.derive_private_key(int(private_hex, 16), ec.SM2())
        numbers = self._key.public_key().public_numbers()
        self.public_hex = f"04{numbers.x:064x}{numbers.y:064x}"
        self._algo = ec.ECDSA(hashes.SM3())

    @classmethod
    def from_file(cls, path) -> "Signer":
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise SuperviseError(f"key file {path}: {exc.strerror}") from None
        try:
            return cls(text)
        except SuperviseError as exc:
            raise SuperviseError(f"key file {path}: {exc}") from None

    def sign(self, message: bytes) -> str:
        """SM2 signature over SM3(Z_A ‖ message), default user id, as 128 hex r‖s."""
        return der_to_rs(self._key.sign(message, self._algo))

    def seal(self, snapshot: dict) -> dict:
        """The snapshot with ``header.seal`` (any earlier seal replaced)."""
        bare = unsigned(snapshot)
        signature = self.sign(canonical(bare))
        header = dict(bare["header"])
        header["seal"] = {"pub_key": {"type": "SM2", "value": self.public_hex}, "digest_algo": "SM3",
                          "signature": signature}
        return {**bare, "header": header}


def verify(public_hex: str, message: bytes, signature_hex: str) -> bool:
    """Whether ``signature_hex`` (r‖s) is an SM2/SM3 signature of ``message`` by ``public_hex``."""
    if not re.fullmatch(r"[0-9a-fA-F]{128}", signature_hex or ""):
        return False
    try:
        public_key_from_hex(public_hex).verify(rs_to_der(signature_hex), message, ec.ECDSA(hashes.SM3()))
        return True
    except (InvalidSignature, SuperviseError, ValueError):
        return False


def seal_problem(snapshot: dict, public_hex: str) -> str | None:
    """None if the snapshot's seal is valid and made by ``public_hex``; else what is wrong."""
    seal = (snapshot.get("header") or {}).get("seal")
    if not isinstance(seal, dict):
        return "no header.seal"
    if seal.get("digest_algo") != "SM3" or (seal.get("pub_key") or {}).get("type") != "SM2":
        return "seal is not SM2/SM3"
    if (seal.get("pub_key") or {}).get("value", "").lower() != public_hex.lower():
        return "sealed by another key"
    if not verify(public_hex, canonical(unsigned(snapshot)), seal.get("signature", "")):
        return "signature does not verify"
    return None
