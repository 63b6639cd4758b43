"""indexer.Decoder: the word-by-word reading of the suite's events equals eth_abi's, and a word
eth_abi refuses is refused the same way (no node: logs encoded here)."""

from __future__ import annotations

import random

import pytest
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak

from regchain import indexer


def _value(typ: str, rnd: random.Random):
    if typ == "address":
        return "0x" + rnd.randbytes(20).hex()
    if typ == "bool":
        return rnd.random() < 0.5
    if typ.startswith("uint"):
        return rnd.choice([0, 1, (1 << int(typ[4:])) - 1, rnd.getrandbits(int(typ[4:]))])
    if typ.startswith("bytes"):
        return rnd.randbytes(int(typ[5:]))
    raise AssertionError(typ)


def _log(item: dict, values: dict, block: int = 7, index: int = 3) -> dict:
    sig = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
    indexed = [i for i in item["inputs"] if i.get("indexed")]
    plain = [i for i in item["inputs"] if not i.get("indexed")]
    topics = ["0x" + keccak(text=sig).hex()] + ["0x" + abi_encode([i["type"]], [values[i["name"]]]).hex()
                                                for i in indexed]
    data = abi_encode([i["type"] for i in plain], [values[i["name"]] for i in plain])
    return {"topics": topics, "data": "0x" + data.hex(), "blockNumber": hex(block),
            "transactionHash": "0x" + "ab" * 32, "logIndex": hex(index)}


def _events():
    return [i for i in indexer.abi_of_suite() if i.get("type") == "event" and not i.get("anonymous")]


def test_decode__every_suite_event_random_values__equals_eth_abi():
    decoder = indexer.Decoder(indexer.abi_of_suite())
    rnd = random.Random(14)
    events = _events()
    assert events and all(decoder._plans[keccak(text=f"{e['name']}({','.join(i['type'] for i in e['inputs'])})")]
                          is not None for e in events)  # every suite event takes the word path
    for item in events:
        for _ in range(20):
            log = _log(item, {i["name"]: _value(i["type"], rnd) for i in item["inputs"]})
            ev = decoder.decode(log)
            assert (ev.name, ev.block, ev.log_index, ev.tx) == (item["name"], 7, 3, "0x" + "ab" * 32)
            assert ev.args == decoder._decode_abi(item, log)
            assert list(ev.args) == [i["name"] for i in item["inputs"]]


def test_decode__unknown_topic_or_no_topics__none():
    decoder = indexer.Decoder(indexer.abi_of_suite())
    assert decoder.decode({"topics": [], "data": "0x"}) is None
    assert decoder.decode({"topics": ["0x" + "11" * 32], "data": "0x"}) is None


def test_decode__address_word_with_dirty_padding__refused_as_eth_abi_does():
    decoder = indexer.Decoder(indexer.abi_of_suite())
    item = next(e for e in _events() if any(i["type"] == "address" and not i.get("indexed") for i in e["inputs"]))
    values = {i["name"]: _value(i["type"], random.Random(1)) for i in item["inputs"]}
    log = _log(item, values)
    plain = [i for i in item["inputs"] if not i.get("indexed")]
    at = next(n for n, i in enumerate(plain) if i["type"] == "address")
    data = bytearray(bytes.fromhex(log["data"][2:]))
    data[32 * at] = 0xFF
    log["data"] = "0x" + data.hex()
    with pytest.raises(DecodingError):
        decoder.decode(log)
