"""regchain.abi.Function's codecs against eth-abi, the second time too: calldata of static
arguments and decoded results are kept (by arguments, by returned data) for the state
machine, which reads the same views step after step; what is kept must be what a fresh
encoding or decoding gives."""

import random

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode

from regchain import abi as abi_mod
from regchain.abi import Function, SuiteAbi, _plain

ADDRESSES = ["0x" + "%040x" % (i * 0x1111) for i in range(1, 5)]


def _value(t: str, rng: random.Random):
    if t.endswith("]"):
        return None  # arrays: not checked here
    if t.startswith("(") and t.endswith(")"):
        parts = [_value(c, rng) for c in abi_mod._split_tuple(t)]
        return None if any(p is None for p in parts) else tuple(parts)
    if t.startswith("uint"):
        bits = int(t[4:] or 256)
        return rng.choice([0, 1, 2 ** (bits // 2), 2**bits - 1])
    if t.startswith("int"):
        return rng.choice([0, -1, 5])
    if t == "bool":
        return rng.choice([True, False])
    if t == "address":
        return rng.choice(ADDRESSES)
    if t.startswith("bytes") and t[5:].isdigit():
        return bytes([rng.randrange(256)]) * int(t[5:])
    return None  # string, bytes: not checked here


def _suite_functions():
    return list(SuiteAbi.from_suite().functions.values())


def test_encode__static_arguments__what_eth_abi_makes_every_time():
    rng = random.Random(3)
    checked = 0
    for f in _suite_functions():
        if f._in is None:
            continue
        for _ in range(3):
            args = tuple(_value(t, rng) for t in f.inputs)
            want = f.selector + abi_encode(f.inputs, list(args))
            assert f.encode(args) == want, f.name
            assert f.encode(args) == want, f.name  # kept
            assert f.encode(list(args)) == want, f.name  # a list: not kept, the same
            checked += 1
    assert checked > 50


def test_encode__equal_arguments_of_other_types__same_calldata():
    f = Function({"type": "function", "name": "f", "stateMutability": "nonpayable", "outputs": [],
                  "inputs": [{"name": "a", "type": "uint256"}, {"name": "b", "type": "bool"}]})
    for args in [(1, True), (True, 1), (1.0, 1)]:
        assert f.encode(args) == f.selector + abi_encode(["uint256", "bool"], [1, True])


def test_decode__suite_views__what_eth_abi_decodes_every_time():
    rng = random.Random(5)
    checked = 0
    for f in _suite_functions():
        if not f.outputs or any(_value(t, rng) is None for t in f.outputs):
            continue
        values = [_value(t, rng) for t in f.outputs]
        data = abi_encode(f.outputs, values)
        want = _plain(abi_decode(f.outputs, data))
        want = want[0] if len(want) == 1 else want
        assert f.decode(data) == want, f.name
        assert f.decode(bytearray(data)) == want, f.name  # kept
        checked += 1
    assert checked > 20


def test_caches__bounded():
    f = Function({"type": "function", "name": "g", "stateMutability": "view",
                  "inputs": [{"name": "a", "type": "uint256"}], "outputs": [{"name": "", "type": "uint256"}]})
    for i in range(abi_mod.CODEC_CACHE + 10):
        assert f.encode((i,)) == f.selector + i.to_bytes(32, "big")
        assert f.decode(i.to_bytes(32, "big")) == i
    assert len(f._encoded) <= abi_mod.CODEC_CACHE and len(f._decoded) <= abi_mod.CODEC_CACHE
