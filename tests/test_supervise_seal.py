"""The seal: canonical bytes, SM3, SM2 with Tongsuo, and interoperability with pure-Python gmssl."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from gmssl import func, sm2
from gmssl import sm3 as gm_sm3

from regchain.supervise import SuperviseError, seal, validate

EXAMPLES = json.loads((Path(__file__).parent / "data" / "supervise_examples.json").read_text("utf-8"))
PRIV = "3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8"


@pytest.fixture(scope="module")
def signer():
    return seal.Signer(PRIV)


def gmssl_xy(priv: str) -> str:
    """X‖Y (128 hex, no 04) as gmssl derives it: gmssl wants the public key without the prefix."""
    return sm2.CryptSM2(private_key=priv, public_key="")._kg(int(priv, 16), sm2.default_ecc_table["g"])


def test_sm3__abc__standard_vector():
    assert seal.sm3(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    data = seal.canonical(EXAMPLES["registration-rich"])
    assert seal.sm3(data) == gm_sm3.sm3_hash(func.bytes_to_list(data))


def test_canonical__sorted_compact_utf8():
    assert seal.canonical({"b": 1, "a": {"名": "张三", "x": [1, 2.5]}}) == \
        '{"a":{"x":[1,2.5],"名":"张三"},"b":1}'.encode()


def test_canonical__any_json_value__equals_json_dumps_of_the_spec():
    """The encoder made once gives json.dumps(ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    byte for byte: escapes, non-ASCII, big integers, floats, nesting, the spec's examples."""
    import json
    import random

    rnd = random.Random(314)

    def value(depth=0):
        c = rnd.random()
        if depth > 3 or c < 0.3:
            return rnd.choice([0, -1, 2**255, 1.5, 0.01, 1e-7, 123456789.25, True, False, None, "",
                               "名\"\\\n\x01\u2028 é", "a/b"])
        if c < 0.65:
            return {rnd.choice(["b", "a", "名", "x_ref", "Z"]) + str(rnd.randint(0, 5)): value(depth + 1)
                    for _ in range(rnd.randint(0, 5))}
        return [value(depth + 1) for _ in range(rnd.randint(0, 4))]

    def dumps(v):
        return json.dumps(v, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()

    for v in [value() for _ in range(3000)] + list(EXAMPLES.values()) + ["名", 7, None]:
        assert seal.canonical(v) == dumps(v)


def test_signer__public_key__same_point_as_gmssl(signer):
    assert signer.public_hex == "04" + gmssl_xy(PRIV)


def test_seal__tongsuo_signature__gmssl_verifies(signer):
    sealed = signer.seal(copy.deepcopy(EXAMPLES["transactionreport-rich"]))
    message = seal.canonical(seal.unsigned(sealed))
    gm = sm2.CryptSM2(private_key=None, public_key=gmssl_xy(PRIV))
    assert gm.verify_with_sm3(sealed["header"]["seal"]["signature"], message)
    assert not gm.verify_with_sm3(sealed["header"]["seal"]["signature"], message + b" ")


def test_verify__gmssl_signature__tongsuo_verifies(signer):
    message = seal.canonical(EXAMPLES["subject-person-rich"])
    gm = sm2.CryptSM2(private_key=PRIV, public_key=gmssl_xy(PRIV))
    signature = gm.sign_with_sm3(message)  # SM3(Z_A ‖ M), default user id
    assert seal.verify(signer.public_hex, message, signature)
    assert not seal.verify(signer.public_hex, message.replace("张三".encode(), "李四".encode()), signature)


def test_seal__sealed_snapshot__validates_and_verifies(signer):
    sealed = signer.seal(copy.deepcopy(EXAMPLES["account-rich"]))
    assert validate.errors(sealed) == []
    assert seal.seal_problem(sealed, signer.public_hex) is None
    assert len(sealed["header"]["seal"]["signature"]) == 128


def test_seal_problem__tampered_body__signature_does_not_verify(signer):
    sealed = signer.seal(copy.deepcopy(EXAMPLES["account-rich"]))
    sealed["body"]["account_information"]["basic_account_information"]["account_status"] = 3
    assert seal.seal_problem(sealed, signer.public_hex) == "signature does not verify"


def test_seal_problem__other_key__named(signer):
    other = seal.Signer("11" * 32)
    sealed = other.seal(copy.deepcopy(EXAMPLES["account-rich"]))
    assert seal.seal_problem(sealed, signer.public_hex) == "sealed by another key"
    assert seal.seal_problem(copy.deepcopy(EXAMPLES["account-rich"]), signer.public_hex) == "no header.seal"


@pytest.mark.parametrize("bad", ["", "xyz", "00" * 32, "ff" * 32, PRIV[:-1]])
def test_signer__bad_private_key__one_line_error(bad):
    with pytest.raises(SuperviseError, match="an SM2 private key is 64 hex characters"):
        seal.Signer(bad)


def test_public_key_from_hex__not_on_curve__refused():
    with pytest.raises(SuperviseError, match="not a point of the curve"):
        seal.public_key_from_hex("04" + "01" * 64)


# ---------------------------------------------------------------- the generator's fast path


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_seal_bytes__every_example__equals_canonical_of_sealed_and_gmssl_verifies(signer, name):
    message = seal.canonical(seal.unsigned(EXAMPLES[name]))
    data = signer.seal_bytes(message)
    obj = json.loads(data)
    assert seal.canonical(obj) == data and seal.canonical(seal.unsigned(obj)) == message
    gm = sm2.CryptSM2(private_key=None, public_key=gmssl_xy(PRIV))
    assert gm.verify_with_sm3(obj["header"]["seal"]["signature"], message)


def test_sealed_bytes__not_a_snapshot__refused():
    with pytest.raises(ValueError, match="not the canonical bytes of a snapshot"):
        seal.sealed_bytes(b'{"body":{}}', {"signature": "x"})


def _versions(n: int) -> list[bytes]:
    """The canonical unsigned bytes of versions 0..n-1 of one account snapshot."""
    out = []
    for i in range(n):
        snap = copy.deepcopy(EXAMPLES["account-minimal"])
        snap["header"]["content"].update(version=i, operation="create" if i == 0 else "update")
        out.append(seal.canonical(seal.unsigned(snap)))
    return out


@pytest.mark.parametrize("processes", [1, 2])
def test_sealer__chunks_in_processes__results_in_submission_order(signer, processes):
    sealer = seal.Sealer(signer, processes=processes)
    messages = _versions(seal.Sealer.CHUNK * 2 + 3)  # two full chunks and a partial one
    try:
        for m in messages:
            sealer.submit(m)
        out = sealer.results()
        assert sealer.results() == []
    finally:
        sealer.close()
    assert sealer.workers == [] and len(out) == len(messages)
    for message, (status, data) in zip(messages, out):
        assert status == seal.VALID_SEALED
        obj = json.loads(data)
        assert seal.canonical(seal.unsigned(obj)) == message
        assert seal.seal_problem(obj, signer.public_hex) is None


@pytest.mark.parametrize("processes", [1, 2])
def test_sealer__store_dir_with_an_invalid_snapshot__valid_ones_written_invalid_one_neither_sealed_nor_written(
        signer, processes, tmp_path):
    from regchain.supervise.store import FileObjects

    messages = _versions(seal.Sealer.CHUNK + 5)
    bad = json.loads(messages[3])
    bad["body"]["account_information"]["basic_account_information"]["account_status"] = 0
    messages[3] = seal.canonical(bad)
    sealer = seal.Sealer(signer, processes=processes, store_dir=tmp_path)
    try:
        for m in messages:
            sealer.submit(m)
        out = sealer.results()
    finally:
        sealer.close()
    objects = FileObjects(tmp_path)
    oid = bad["header"]["content"]["object_id"]
    assert out[3][0] == seal.INVALID and b"account_status: 0 is not one of" in out[3][1]
    assert objects.read(oid, 3) is None
    for i, (message, (status, digest)) in enumerate(zip(messages, out)):
        if i == 3:
            continue
        data = objects.read(oid, i)
        assert status == seal.VALID_STORED and digest.decode() == seal.sm3(data)
        assert seal.canonical(seal.unsigned(json.loads(data))) == message
        assert seal.seal_problem(json.loads(data), signer.public_hex) is None


def test_process__file_left_with_same_content__kept_and_with_other_content__differs(signer, tmp_path):
    from regchain.supervise.store import FileObjects

    objects = FileObjects(tmp_path)
    first, second = _versions(2)
    status, digest = seal.process(signer, objects, first)
    kept = objects.read(json.loads(first)["header"]["content"]["object_id"], 0)
    assert status == seal.VALID_STORED and seal.process(signer, objects, first) == (seal.VALID_STORED, digest)
    assert objects.read(json.loads(first)["header"]["content"]["object_id"], 0) == kept  # the seal not rewritten
    other = json.loads(first)
    other["header"]["content"]["timestamp"] += 1
    assert seal.process(signer, objects, seal.canonical(other)) == (seal.DIFFERS, b"")


def test_fingerprint_bytes__examples__equal_the_stripped_body_digest():
    """The generator's change fingerprint on canonical bytes equals its definition on the object:
    maintenance times left out, references without their version."""
    from regchain.supervise import generate

    def strip(v):
        if isinstance(v, dict):
            return {k: (x.rsplit("/", 1)[0] if k.endswith("_ref") and isinstance(x, str) else strip(x))
                    for k, x in v.items() if k not in generate.MAINTENANCE}
        return [strip(x) for x in v] if isinstance(v, list) else v

    bodies = [e["body"] for e in EXAMPLES.values() if "body" in e]
    bodies.append({"x": {"subject_create_time": "2024-06-13T14:25:09+08:00"},
                   "y": [{"a_ref": "ns:o/3", "register_list_date": "t", "b": "\"subject_create_time\":\"z\""}]})
    for body in bodies:
        assert generate.fingerprint(body) == seal.sm3(seal.canonical(strip(body)))
    assert sum("_create_time" in json.dumps(b) for b in bodies) >= 3
