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
import os
import re
import subprocess
import sys
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
    """The canonical bytes of a JSON value (§4.3 step 2): ``json.dumps(obj, ensure_ascii=False,
    sort_keys=True, separators=(",", ":"))`` in UTF-8, with the encoder made once (``dumps`` builds
    a ``JSONEncoder`` and its C scanner for every call: a fifth of the generator's encoding time)."""
    if _C_ENCODER is None or isinstance(obj, str):
        return _DUMPS(obj).encode("utf-8")
    return "".join(_C_ENCODER(obj, 0)).encode("utf-8")


def _dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


_DUMPS = _dumps
# what JSONEncoder.iterencode(obj, _one_shot=True) makes for these options, without the circular
# check (a snapshot is a tree); None where the interpreter has no C encoder (then ``dumps``)
_C_ENCODER = None if json.encoder.c_make_encoder is None else json.encoder.c_make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring, None, ":", ",", True, False, True)


def sm3(data: bytes) -> str:
    """SM3 digest (GB/T 32905) of ``data`` as 64 hex; Python's hashlib has it natively. A copy of an
    empty SM3 object, not ``hashlib.new("sm3", data)``: that looks the algorithm up in OpenSSL on
    every call (~3 µs of a snapshot's ~8 µs digest)."""
    h = _SM3.copy()
    h.update(data)
    return h.hexdigest()


_SM3 = hashlib.new("sm3")


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
        # canonical(seal_member(sig)) is this, the signature, then '"}' (keys sorted: signature last)
        self._seal_head = canonical(self.seal_member(""))[:-2]

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

    def seal_member(self, signature: str) -> dict:
        return {"pub_key": {"type": "SM2", "value": self.public_hex}, "digest_algo": "SM3", "signature": signature}

    def seal(self, snapshot: dict) -> dict:
        """The snapshot with ``header.seal`` (any earlier seal replaced)."""
        bare = unsigned(snapshot)
        header = dict(bare["header"])
        header["seal"] = self.seal_member(self.sign(canonical(bare)))
        return {**bare, "header": header}

    def seal_bytes(self, message: bytes) -> bytes:
        """The canonical bytes of the sealed snapshot, from ``message`` = the canonical bytes of the
        unsigned one (what is signed): ``seal`` sorts last in ``header`` (after content, metadata,
        model, remark) and ``header`` last in the snapshot (after body), so the sealed form is
        ``message`` with ``,"seal":{…}`` before its two closing braces. The generator's path: one
        JSON encoding per snapshot, and the seal member's bytes are made once, the signature put in."""
        _check_message(message)
        return message[:-2] + b',"seal":' + self._seal_head + self.sign(message).encode() + b'"}}}'


def sealed_bytes(message: bytes, seal_member: dict) -> bytes:
    """``canonical(snapshot with header.seal)`` from ``message = canonical(snapshot without it)``."""
    _check_message(message)
    return message[:-2] + b',"seal":' + canonical(seal_member) + b"}}"


def _check_message(message: bytes) -> None:
    if not message.endswith(b"}}") or b'"header":{' not in message:
        raise ValueError("not the canonical bytes of a snapshot with a header")


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


# ---------------------------------------------------------------- sealing in worker processes

VALID_STORED, VALID_SEALED, INVALID, DIFFERS = b"F", b"S", b"I", b"D"


def process(signer: Signer, objects, message: bytes) -> tuple[bytes, bytes]:
    """What is done per snapshot outside the generator, from ``message`` = its canonical unsigned bytes:
    validate it (``validate.content_errors``: the schema with formats and the checks that need no
    store state), then seal it, then, given ``objects`` (a ``store.FileObjects``), store its file.
    Returns (status, payload): ``INVALID`` and the errors in one line (nothing sealed or written);
    ``VALID_SEALED`` and the sealed bytes (no ``objects``: the caller stores them); ``VALID_STORED``
    and the SM3 digest (64 hex) of the file, a file a killed run left with the same content kept as
    it is; ``DIFFERS``: a stored file with other content (nothing rewritten)."""
    from regchain.supervise import validate

    obj = json.loads(message)
    errs = validate.content_errors(obj, message)
    if errs:
        return INVALID, validate.describe(errs)[:1000].encode()  # bounded: the replies fit the pipe (Sealer)
    data = signer.seal_bytes(message)
    if objects is None:
        return VALID_SEALED, data
    content = obj["header"]["content"]
    existing = objects.write(content["object_id"], content["version"], data)
    if existing is not None:
        try:
            same = canonical(unsigned(json.loads(existing))) == message
        except (ValueError, TypeError, KeyError, AttributeError):
            same = False
        if not same:
            return DIFFERS, b""
        data = existing
    return VALID_STORED, sm3(data).encode()


class Sealer:
    """Runs ``process`` (validate, seal, and for a directory store write the file) for each submitted
    message in worker processes while the caller goes on; ``results`` returns the (status, payload)
    pairs in submission order.

    Why processes: an SM2 signature costs Tongsuo ~0.3 ms of CPU on an idle core (~0.7 ms under
    load; its constant-time ladder on the generic prime-field code, the wheel has no SM2-specific
    fast path), and the schema validation and the file's system calls are as much again: done in the
    generator they bound a run to one core. Each worker is a plain ``python -m
    regchain.supervise.seal`` (not a fork of a process with threads, which can inherit a held lock):
    it reads the key on its first line and the store directory on its second (empty: no files),
    then chunks of messages, and answers each chunk with one reply per message. At most one chunk is
    in flight per worker, two when the worker writes the files and its pipes could be made
    ``PIPE_BYTES`` large (Linux): a worker then finds its next chunk waiting when it ends one, and the
    caller's write returns at once (a chunk, ~100 KB, fills a default 64 KB pipe); the replies of two
    chunks (a status and a digest, or one line of errors, each) fit the pipe back, so a worker never
    waits on the caller while the caller writes to it. ``processes=1`` (or one core): done in the caller."""

    CHUNK = 64
    PIPE_BYTES = 1 << 20

    def __init__(self, signer: Signer, processes: int | None = None, store_dir=None):
        self.signer = signer
        self.objects = None
        if store_dir is not None:
            from regchain.supervise.store import FileObjects

            self.objects = FileObjects(Path(store_dir))
        n = (os.cpu_count() or 1) if processes is None else processes
        self.workers: list = []
        if n > 1:
            import regchain

            env = dict(os.environ)
            src = str(Path(regchain.__file__).resolve().parents[1])
            env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            for _ in range(n):
                w = subprocess.Popen([sys.executable, "-m", "regchain.supervise.seal"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env)
                w.stdin.write(signer.private_hex.encode() + b"\n"
                              + ("" if store_dir is None else str(store_dir)).encode() + b"\n")
                self.workers.append(w)
        self.depth = 2 if self.objects is not None and all(
            _grow_pipe(f, self.PIPE_BYTES) for w in self.workers for f in (w.stdin, w.stdout)) else 1
        self._next = 0
        self._chunk: list[bytes] = []
        self._done: list = []       # [worker or None, messages, replies or None] in submission order
        self._in_flight: dict = {}  # worker -> its entries not read yet, oldest first

    def submit(self, message: bytes) -> None:
        self._chunk.append(message)
        if len(self._chunk) >= self.CHUNK:
            self._send()

    def _send(self) -> None:
        if not self._chunk:
            return
        chunk, self._chunk = self._chunk, []
        if not self.workers:
            self._done.append([None, chunk, [process(self.signer, self.objects, m) for m in chunk]])
            return
        w = self.workers[self._next % len(self.workers)]
        self._next += 1
        if len(self._in_flight.get(w, ())) >= self.depth:
            self._read(w)
        entry = [w, chunk, None]
        try:
            w.stdin.write(len(chunk).to_bytes(4, "big") + b"".join(len(m).to_bytes(4, "big") + m for m in chunk))
            w.stdin.flush()
        except OSError:
            raise SuperviseError(f"sealing worker {w.pid} stopped (exit {w.poll()})") from None
        self._in_flight.setdefault(w, []).append(entry)
        self._done.append(entry)

    def _read(self, w) -> None:
        entry = self._in_flight[w].pop(0)
        replies = []
        for _ in entry[1]:
            head = w.stdout.read(5)
            payload = w.stdout.read(int.from_bytes(head[1:], "big")) if len(head) == 5 else b""
            if len(head) != 5 or len(payload) != int.from_bytes(head[1:], "big"):
                raise SuperviseError(f"sealing worker {w.pid} stopped (exit {w.poll()})")
            replies.append((head[:1], payload))
        entry[2] = replies

    def results(self) -> list[tuple[bytes, bytes]]:
        """(status, payload) of every message submitted since the last call, in order (see ``process``)."""
        self._send()
        out = []
        for entry in self._done:
            if entry[2] is None:
                self._read(entry[0])
            out += entry[2]
        self._done = []
        return out

    def close(self) -> None:
        self._chunk, self._done, self._in_flight = [], [], {}
        for w in self.workers:
            try:
                w.stdin.close()
            except OSError:
                pass
        for w in self.workers:
            try:
                w.stdout.read()  # the answer of a chunk still in flight (a run stopped early): never blocks the worker
                w.wait(10)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
            w.stdout.close()
        self.workers = []


def _grow_pipe(f, size: int) -> bool:
    """Make the pipe of file ``f`` hold ``size`` bytes (Linux's F_SETPIPE_SZ); whether it does."""
    import fcntl

    try:
        return fcntl.fcntl(f.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), size) >= size
    except OSError:
        return False


def _worker() -> None:
    """A sealing worker (``Sealer``): the key on the first line, the store directory (or nothing) on
    the second, then chunks: a 4-byte count, then each message as a 4-byte length and its bytes; each
    message is answered by ``process``'s status byte, a 4-byte length and the payload, a chunk's
    answers flushed together. Ends at end of input."""
    inp, out = sys.stdin.buffer, sys.stdout.buffer
    signer = Signer(inp.readline().strip().decode())
    store_dir = inp.readline().rstrip(b"\n").decode()
    objects = None
    if store_dir:
        from regchain.supervise.store import FileObjects

        objects = FileObjects(Path(store_dir))
    while True:
        head = inp.read(4)
        if len(head) < 4:
            return
        replies = []
        for _ in range(int.from_bytes(head, "big")):
            status, payload = process(signer, objects, inp.read(int.from_bytes(inp.read(4), "big")))
            replies.append(status + len(payload).to_bytes(4, "big") + payload)
        out.write(b"".join(replies))
        out.flush()


if __name__ == "__main__":
    _worker()
