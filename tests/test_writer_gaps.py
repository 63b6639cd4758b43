"""regchain.writer's gap and stranded-transaction handling, the same for every profile and
without txpool_/anvil_ methods, on the nodes of regchain/testing/consortium_node.py (FISCO BCOS 3-
like, Besu QBFT-like, and an anvil mining 1-second blocks), with a key held here.

A writer journals what it sends before it sends it (per chain, genesis and sender). A run
killed with its window in flight, the first transaction of it dropped by the pool and
the rest waiting behind that nonce, leaves the node holding transactions it will never
mine: the next writer's settle() sends the journal's window again from the mined nonce
on and waits until it is mined; one more settle sends nothing. Where the journal cannot
fill the gap (its first transaction missing) and the node still holds ours behind it,
settle() stops with one line naming the nonces; nothing is sent."""

from __future__ import annotations

import secrets

import pytest

from regchain.networks import profile as get_profile
from regchain.rpc import Rpc
from regchain.writer import LocalSigner, Tx, WriteError, Writer

from regchain.testing.consortium_node import ConsortiumNode

SINK = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture(scope="module", params=["fisco-bcos-3", "besu-qbft", "anvil"])
def node(request):
    n = ConsortiumNode(request.param).start()
    yield n
    n.stop()


def _writer(node, key, journal) -> Writer:
    return Writer(Rpc(node.uri), LocalSigner(key), get_profile(node.profile), journal=journal, drive=False)


def _left_behind_a_gap(node, key, journal, n=3) -> int:
    """A run's window of `n` sent, the first dropped by the pool, and the run gone: the
    node holds n-1 transactions behind the sender's mined nonce. Returns that nonce."""
    killed = _writer(node, key, journal)
    base = killed.nonce("latest")
    node.dropped.clear()
    node.drop(1)
    taken = killed._submit([Tx("transfer", SINK, b"", 21_000) for _ in range(n)], base)
    assert taken == n and len(node.dropped) == 1
    killed.rpc.close()  # the run ends here without its receipts (journal left as a kill leaves it)
    return base


def test_settle__window_left_behind_a_dropped_nonce__sent_again_from_the_journal_and_mined(node, tmp_path):
    key = secrets.token_hex(32)
    base = _left_behind_a_gap(node, key, tmp_path)
    writer = _writer(node, key, tmp_path)
    assert writer.nonce("pending") == writer.nonce("latest") == base  # the gap: nothing can be mined

    sent_before = node.calls["eth_sendRawTransaction"]
    writer.settle()

    assert writer.nonce("latest") == writer.nonce("pending") == base + 3
    assert node.calls["eth_sendRawTransaction"] == sent_before + 3  # the window, once each
    again = _writer(node, key, tmp_path)
    again.settle()
    assert node.calls["eth_sendRawTransaction"] == sent_before + 3  # one more run sends nothing
    assert again.nonce("latest") == base + 3
    if node.profile != "anvil":
        assert [m for m in node.calls if m.startswith(("anvil_", "evm_", "txpool_"))] == []


def test_settle__ours_behind_a_nonce_the_journal_cannot_fill__stops_naming_the_nonces(node, tmp_path):
    key = secrets.token_hex(32)
    base = _left_behind_a_gap(node, key, tmp_path, n=4)
    journal = next(tmp_path.glob("*.jsonl"))
    lines = journal.read_text().splitlines()
    journal.write_text("\n".join(lines[:1] + lines[2:]) + "\n")  # the dropped one's entry lost too
    writer = _writer(node, key, tmp_path)
    sent_before = node.calls["eth_sendRawTransaction"]

    with pytest.raises(WriteError) as exc:
        writer.settle()

    assert str(exc.value) == (f"3 transactions of {writer.address} wait in the node's pool behind a nonce gap "
                              f"(nonces {base + 1}..{base + 3}; missing {base}); this run would let them be mined "
                              "in its own sequence: remove them from the node's pool first")
    assert node.calls["eth_sendRawTransaction"] == sent_before
    assert writer.nonce("latest") == base


def test_flush__journal_cleared_once_every_receipt_is_in(node, tmp_path):
    writer = _writer(node, secrets.token_hex(32), tmp_path)
    for _ in range(3):
        writer.send(SINK, b"", 21_000, "transfer")
    receipts = writer.flush()
    assert [int(r["status"], 16) for r in receipts] == [1, 1, 1]
    assert list(tmp_path.glob("*.jsonl")) == []
