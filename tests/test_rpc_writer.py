"""The JSON-RPC transport (regchain.rpc) and the write path (regchain.writer) on nodes that
behave like the consortium targets (regchain/testing/consortium_node.py), each started on free ports."""

from __future__ import annotations

import secrets
import time

import pytest
from eth_account import Account

from regchain.abi import MULTICALL_CODE
from regchain.networks import ProfileError, profile, profile_for
from regchain.rpc import NodeUnreachable, Rpc, RpcError
from regchain.writer import LocalSigner, Refused, WriteError, Writer, deploy, key_file_signer

from regchain.testing.consortium_node import POOL_LIMIT, ConsortiumNode


@pytest.fixture(scope="module")
def fisco():
    with ConsortiumNode("fisco-bcos-3") as node:
        yield node


@pytest.fixture(scope="module")
def besu():
    with ConsortiumNode("besu-qbft") as node:
        yield node


def _key() -> str:
    return "0x" + secrets.token_hex(32)


def test_batch__node_refuses_batch_arrays__probed_once_then_pipelined_in_order(fisco):
    rpc = Rpc(fisco.uri)
    calls = [("eth_getBlockByNumber", ["0x0", False]), ("eth_getBalance", [Account.from_key(_key()).address, "0x0"]),
             ("eth_blockNumber", [])] + [("eth_chainId", []),
                                                                              ("no_such_method", [])]
    refused_before = fisco.refused_batches
    results = rpc.batch(calls)
    assert rpc.batches is False and fisco.refused_batches == refused_before + 1  # the probe, once
    assert int(results[0]["number"], 16) == 0 and results[1] == "0x0" and int(results[2], 16) >= 0
    assert results[3] == hex(20200)
    assert isinstance(results[4], RpcError) and results[4].code == -32601
    rpc.batch(calls)
    assert fisco.refused_batches == refused_before + 1


def test_batch__node_takes_batch_arrays__one_request(besu):
    rpc = Rpc(besu.uri)
    assert rpc.batch([("eth_chainId", []), ("eth_chainId", [])]) == [hex(1337)] * 2
    assert rpc.batches is True


def test_call__node_unreachable_for_a_while__read_retried_until_it_answers(fisco):
    rpc = Rpc(fisco.uri)
    rpc.call("eth_chainId")
    fisco.unreachable(1.5)
    started = time.monotonic()
    assert rpc.call("eth_chainId") == hex(20200)
    assert time.monotonic() - started >= 1.0


def test_call__node_unreachable_longer_than_the_retry_time__one_line(fisco):
    rpc = Rpc(fisco.uri, retry_s=0.5)
    fisco.unreachable(2.0)
    with pytest.raises(NodeUnreachable) as exc:
        rpc.call("eth_blockNumber")
    assert "did not answer for 0s" in str(exc.value) or "did not answer for 1s" in str(exc.value)
    assert "\n" not in str(exc.value)
    time.sleep(2.0)


def test_call__write_whose_reply_is_lost__not_retried(fisco):
    signer = LocalSigner(_key())
    raw = signer.sign(0, 0, 21_000, signer.address, b"", 20200)
    rpc = Rpc(fisco.uri)
    rpc.call("eth_chainId")
    fisco.unreachable(1.0)
    started = time.monotonic()
    with pytest.raises(OSError):
        rpc.call("eth_sendRawTransaction", ["0x" + raw.hex()])
    assert time.monotonic() - started < 0.9  # no back-off: the caller reads the nonce first
    time.sleep(1.0)


def test_local_signer__signs_what_eth_account_signs():
    key = _key()
    signer = LocalSigner(key)
    assert signer.address == Account.from_key(key).address
    to = "0x00000000000000000000000000000000000000AB"
    raw = signer.sign(7, 0, 123_456, to, b"\x01\x02", 20200)
    theirs = Account.sign_transaction({"nonce": 7, "gasPrice": 0, "gas": 123_456, "to": to, "value": 0,
                                       "data": b"\x01\x02", "chainId": 20200}, key)
    assert raw == bytes(theirs.raw_transaction)
    assert Account.recover_transaction(raw) == signer.address


def test_key_file_signer__not_a_key__one_line(tmp_path):
    path = tmp_path / "key"
    path.write_text("not a key\n")
    with pytest.raises(WriteError, match=r"^key file .*: not a private key \(64 hex digits\)$"):
        key_file_signer(path)
    with pytest.raises(WriteError, match="key file .*missing"):
        key_file_signer(tmp_path / "missing")


def test_writer__fisco_like__profile_gas_price_and_limits_never_the_nodes(fisco):
    writer = Writer(Rpc(fisco.uri), LocalSigner(_key()), profile("fisco-bcos-3"))
    before = dict(fisco.calls)
    address = deploy(writer, bytes.fromhex("61005680600c6000396000f3") + bytes.fromhex(MULTICALL_CODE[2:]), 300_000)
    assert Rpc(fisco.anvil_uri).call("eth_getCode", [address, "latest"]) == MULTICALL_CODE
    tx = Rpc(fisco.anvil_uri).call("eth_getTransactionByHash", [writer_hash(writer)])
    assert tx["type"] == "0x0" and tx["gasPrice"] == "0x0" and tx["gas"] == hex(300_000)
    assert fisco.calls.get("eth_gasPrice", 0) == before.get("eth_gasPrice", 0)
    assert fisco.calls.get("eth_estimateGas", 0) == before.get("eth_estimateGas", 0)


def writer_hash(writer: Writer) -> str:
    rpc = Rpc(writer.rpc.uri)
    block = rpc.call("eth_getBlockByNumber", ["latest", True])
    number = int(block["number"], 16)
    while number >= 0:
        for tx in rpc.call("eth_getBlockByNumber", [hex(number), True])["transactions"]:
            if tx["from"].lower() == writer.address.lower():
                return tx["hash"]
        number -= 1
    raise AssertionError("no transaction of the writer")


def test_writer__besu_like_pool_limit__window_shrinks_and_every_transaction_is_mined(besu):
    signer = LocalSigner(_key())
    writer = Writer(Rpc(besu.uri), signer, profile("besu-qbft"))
    assert writer.window == 200
    for _ in range(4 * POOL_LIMIT):
        writer.send(signer.address, b"", 21_000, "self")
    writer.flush()  # (a window filled by send() flushes on its own; a failed one would raise)
    assert writer.sent == 4 * POOL_LIMIT and writer.gas == {"self": 21_000 * 4 * POOL_LIMIT}
    assert writer.window <= POOL_LIMIT
    assert int(Rpc(besu.anvil_uri).call("eth_getTransactionCount", [signer.address, "latest"]), 16) == \
        4 * POOL_LIMIT


def _reverting_code() -> bytes:
    """Creation code that reverts with Error("no"): PUSH the ABI-encoded error, REVERT."""
    error = bytes.fromhex("08c379a0") + (32).to_bytes(32, "big") + (2).to_bytes(32, "big") + b"no".ljust(32, b"\0")
    code = b""
    for i in range(0, len(error), 32):
        code += b"\x7f" + error[i:i + 32].ljust(32, b"\0") + b"\x60" + bytes([i]) + b"\x52"
    return code + b"\x60" + bytes([len(error)]) + b"\x60\x00\xfd"


def test_writer__reverted_transaction__raises_with_the_reason(besu):
    writer = Writer(Rpc(besu.uri), LocalSigner(_key()), profile("besu-qbft"))
    with pytest.raises(WriteError, match=r"^deploy reverted: no \(transaction 0x[0-9a-f]{64}\)$"):
        deploy(writer, _reverting_code(), 200_000)


def test_writer_transact__checked_and_refused__reason_in_one_line_and_nothing_sent(besu):
    writer = Writer(Rpc(besu.uri), LocalSigner(_key()), profile("besu-qbft"))
    with pytest.raises(Refused, match=r"^no$"):
        writer.transact(None, _reverting_code(), 200_000, "bad", check=True)
    assert writer.nonce("pending") == 0 and writer.sent == 0


def test_writer_transact__checked_and_passing__sent_and_mined(besu):
    signer = LocalSigner(_key())
    writer = Writer(Rpc(besu.uri), signer, profile("besu-qbft"))
    receipt = writer.transact(signer.address, b"", 21_000, "self", check=True)
    assert int(receipt["status"], 16) == 1 and writer.sent == 1 and writer.nonce("latest") == 1


def test_writer__windows_filled_by_send_on_a_chain_mining_itself__left_in_flight_and_flush_returns_all(fisco):
    signer = LocalSigner(_key())
    writer = Writer(Rpc(fisco.uri), signer, profile("fisco-bcos-3"), window=3)
    for i in range(10):
        writer.send(signer.address, bytes([i]), 21_016, f"self{i}")
    assert writer._slide is not None and len(writer._slide.txs) == 9  # three windows sent, none drained
    receipts = writer.flush()
    assert writer._slide is None and writer.sent == 10
    mined = [Rpc(fisco.anvil_uri).call("eth_getTransactionByHash", [r["transactionHash"]]) for r in receipts]
    assert [int(tx["nonce"], 16) for tx in mined] == list(range(10))
    assert [tx["input"] for tx in mined] == [f"0x{i:02x}" for i in range(10)]
    assert writer.flush() == []


def test_writer__reverted_transaction_in_a_window_filled_by_send__raises_and_the_rest_is_mined(fisco):
    signer = LocalSigner(_key())
    writer = Writer(Rpc(fisco.uri), signer, profile("fisco-bcos-3"), window=3)
    with pytest.raises(WriteError, match=r"^bad reverted: no \(transaction 0x[0-9a-f]{64}\)$"):
        for i in range(12):
            if i == 1:
                writer.send(None, _reverting_code(), 200_000, "bad")
            else:
                writer.send(signer.address, b"", 21_000, "self")
        writer.flush()
    assert writer._slide is None and writer.queue == []
    sent = int(Rpc(fisco.anvil_uri).call("eth_getTransactionCount", [signer.address, "latest"]), 16)
    assert 3 <= sent < 12 and writer.sent == sent  # stopped within a window or two of the failure


def test_profile_for__consortium_default_env_and_unknown():
    assert profile_for("consortium", {}).name == "besu-qbft"
    assert profile_for("consortium", {"REGCHAIN_PROFILE": "fisco-bcos-3"}).time_unit_ms is True
    assert profile_for("devnet", {}).devnet is True
    assert profile_for("consortium", {"REGCHAIN_POOL_PER_SENDER": "64"}).pool_per_sender == 64
    with pytest.raises(ProfileError, match=r"REGCHAIN_PROFILE='quorum': unknown network profile \(known: "):
        profile_for("consortium", {"REGCHAIN_PROFILE": "quorum"})
