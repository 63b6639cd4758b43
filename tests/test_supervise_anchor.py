"""The Anchor contract: who may anchor, what it logs, what a snapshot costs."""

from __future__ import annotations

import ape
import pytest
from ape import project
from conftest import events
from supervise_support import rpc  # noqa: F401  (fixture)
from eth_utils import keccak


@pytest.fixture(scope="module")
def anchor(register, governance):
    return project.Anchor.deploy(register.address, sender=governance)


def item(i: int):
    return (f"rc-31337:registration:{1000 + i}-{i}-{'ab' * 20}", i % 3, keccak(text=f"d{i}"), keccak(text=f"tx{i}"))


def test_anchor__registrar__one_log_per_snapshot_in_order(anchor, registrar):
    items = [item(i) for i in range(3)]
    receipt = anchor.anchor(items, sender=registrar)
    logs = events(receipt, anchor.SnapshotAnchored)
    assert len(logs) == 3
    for log, (oid, version, digest, btx) in zip(logs, items):
        assert log["object_key"] == keccak(text=oid)
        assert (log["object_id"], log["version"], log["digest"], log["business_tx"]) == (oid, version, digest, btx)


@pytest.mark.parametrize("who", ["outsider", "court", "governance"])
def test_anchor__not_security_manager__reverts(anchor, who, request):
    with ape.reverts("anchor: caller is not a security manager"):
        anchor.anchor([item(0)], sender=request.getfixturevalue(who))


def test_anchor__empty_batch__reverts(anchor, registrar):
    with ape.reverts("anchor: no snapshots"):
        anchor.anchor([], sender=registrar)


def test_anchor__empty_digest__reverts(anchor, registrar):
    oid, version, _, btx = item(0)
    with ape.reverts("anchor: empty digest"):
        anchor.anchor([item(1), (oid, version, b"\x00" * 32, btx)], sender=registrar)


def test_deploy__register_not_a_contract__reverts(governance, outsider):
    with ape.reverts("anchor: register is not a contract"):
        project.Anchor.deploy(outsider.address, sender=governance)


def test_anchor__full_batch__gas_per_snapshot_within_goal(anchor, registrar):
    receipt = anchor.anchor([item(i) for i in range(256)], sender=registrar)
    per = receipt.gas_used / 256
    assert per <= 15_000, per


def test_anchor_calldata__items__equal_eth_abi_encoding_and_log_data():
    """The hand-written ABI encoding (supervise.anchor) against eth_abi, multi-byte ids and empty batches included."""
    from eth_abi import encode

    from regchain.supervise import anchor as anchor_mod

    items = [item(i) for i in range(5)] + [("rc-1:subject:名" * (i + 1), 2**255 + i, b"\x01" * 32, b"\x00" * 32)
                                          for i in range(4)]
    assert anchor_mod.anchor_calldata(items) == anchor_mod.SELECTOR + encode(
        ["(string,uint256,bytes32,bytes32)[]"], [items])
    assert anchor_mod.anchor_calldata([]) == anchor_mod.SELECTOR + encode(["(string,uint256,bytes32,bytes32)[]"], [[]])
    for it in items:
        assert anchor_mod.anchor_item(*it) == encode(["string", "uint256", "bytes32", "bytes32"], list(it))


def test_anchorer_send_rows__log_for_another_snapshot__refused_naming_both(anchor, registrar, rpc):
    """The receipt's logs are compared with what was sent (the encoding's bytes): a bug injected in
    ``send_all`` anchors the next version instead, and the run stops naming both."""
    from regchain.supervise import SuperviseError, anchor as anchor_mod
    from regchain.supervise.store import Row

    class Lying(anchor_mod.Anchorer):
        def send_all(self, batches):
            oid, version, digest, btx = batches[0][0]
            tx = anchor.anchor([(oid, version + 1, digest, btx)], sender=registrar)
            return [rpc.call("eth_getTransactionReceipt", [tx.txn_hash])]

        def window(self):
            return 1

    oid, _, digest, _ = item(0)
    row = Row(oid, 0, "registration", "create", digest.hex(), None, 1, 0, "x", None, None, None)
    with pytest.raises(SuperviseError, match=f"anchor log {oid}/1 does not match {oid}/0"):
        list(Lying(anchor, registrar, rpc).send_rows([row]))


def test_beside__more_batches_than_fit_one__sent_before_receipts_one_block_each_recorded(
        anchor, registrar, rpc, tmp_path):
    """Seven snapshots in batches of 2: four anchor transactions sent together (the writer's window)
    and mined in one block on the anvil the writer drives; every snapshot recorded with its own
    transaction and log, in order, and a second call has nothing to send."""
    from regchain.supervise import anchor as anchor_mod
    from regchain.supervise.store import Store

    store = Store(tmp_path / "store")
    store.begin()
    store.index_many([({"object_id": oid, "version": version, "type": "registration", "operation": "create"},
                       digest.hex(), {"business_tx": "0x" + btx.hex(), "block": 1, "log_index": i, "step": "test"})
                      for i, (oid, version, digest, btx) in enumerate(item(i) for i in range(100, 107))])
    store.commit()
    anchorer = anchor_mod.Anchorer(anchor, registrar, rpc, batch=2)

    def anchor_all():  # as sync does at its end: hand the committed snapshots over, wait, record
        beside = anchor_mod.Beside(store, anchorer)
        try:
            beside.submit()
            beside.finish()
        finally:
            beside.close()

    anchor_all()
    rows = {(r.object_id, r.version): r for r in store.rows()}
    assert len(rows) == 7 and anchorer.sent == 7 and store.unanchored() == []
    txs = sorted({r.anchor_tx for r in rows.values()})
    assert len(txs) == 4
    assert len({r.anchor_block for r in rows.values()}) == 1  # one block for the window
    found = {(a.object_id, a.version): a for a in anchor_mod.read_anchors(rpc, str(anchor.address),
                                                                          next(iter(rows.values())).anchor_block)}
    for key, r in rows.items():
        a = found[key]
        assert (a.digest, a.tx, a.block, a.log_index) == (r.digest, r.anchor_tx, r.anchor_block, r.anchor_log_index)
    anchor_all()
    assert anchorer.sent == 7
    store.close()
