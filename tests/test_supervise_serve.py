"""The pull interface on a real uvicorn server (a port it binds itself): bearer token, exact bytes,
404, block listing, the anchor's receipt proof against receiptsRoot, and answering while sync writes."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest
import rlp
import uvicorn
from supervise_support import (  # noqa: F401  (fixtures)
    abi, actors, deploy_anchor, rpc, run, scenario, synced)

from regchain.indexer import HttpRpc
from regchain.supervise import seal
from regchain.supervise.anchor import TOPIC
from regchain.supervise.serve import make_app, verify_receipt_proof
from regchain.supervise.store import Store

TOKEN = "s3cret-token-for-the-regulator"


class Server:
    def __init__(self, app):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def server(synced, rpc):
    with Server(make_app(synced["tmp"] / "store", TOKEN, HttpRpc(rpc.uri))) as s:  # its own node connection
        yield s


def get(server, path, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(server.url + path, headers=headers, timeout=30)


@pytest.mark.parametrize("token", [None, "wrong", TOKEN + "x"])
@pytest.mark.parametrize("path", ["/v1/status", "/v1/blocks/1/objects", "/v1/objects/x/0", "/v1/objects/x/0/proof"])
def test_serve__without_the_token__401(server, path, token):
    r = get(server, path, token)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_serve__object__exact_stored_bytes(server, synced):
    store = Store(synced["tmp"] / "store", readonly=True)
    for row in store.rows()[:20]:
        r = get(server, f"/v1/objects/{row.object_id}/{row.version}")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.content == store.read_bytes(row.object_id, row.version)
        assert seal.sm3(r.content) == row.digest


@pytest.mark.parametrize("path", ["/v1/objects/rc-31337:account:00/0", "/v1/objects/rc-31337:product:1/99",
                                  "/v1/objects/rc-31337:product:1/99/proof"])
def test_serve__unknown_object__404(server, path):
    assert get(server, path).status_code == 404


def test_serve__status__chain_checkpoint_counts(server, synced, rpc):
    body = get(server, "/v1/status").json()
    store = Store(synced["tmp"] / "store", readonly=True)
    assert body["chain_id"] == int(rpc.call("eth_chainId", []), 16)
    assert body["checkpoint"] == synced["result"].last_block <= body["newest_block"]
    assert body["counts"] == store.counts() and body["anchored"] == len(store.rows())


def test_serve__block_objects__the_pairs_anchored_there(server, synced):
    store = Store(synced["tmp"] / "store", readonly=True)
    block = store.rows()[0].anchor_block
    body = get(server, f"/v1/blocks/{block}/objects").json()
    assert [(o["object_id"], o["version"]) for o in body["objects"]] == store.in_block(block)
    assert body["objects"] and get(server, "/v1/blocks/0/objects").json()["objects"] == []


def test_serve__proof__receipt_in_receipts_root_with_the_anchor_log(server, synced, rpc):
    store = Store(synced["tmp"] / "store", readonly=True)
    row = store.rows()[-1]
    body = get(server, f"/v1/objects/{row.object_id}/{row.version}/proof").json()
    header = rpc.call("eth_getBlockByNumber", [hex(row.anchor_block), False])  # the regulator's own node
    proved = verify_receipt_proof(header["receiptsRoot"], body["receipt_proof"]["key"], body["receipt_proof"]["proof"])
    assert "0x" + proved.hex() == body["receipt_proof"]["receipt"]
    decoded = rlp.decode(proved[1:] if proved[0] < 0x7f else proved)
    logs = [lg for lg in decoded[3] if lg[1] and "0x" + lg[1][0].hex() == TOPIC]
    data = store.read_bytes(row.object_id, row.version)
    assert any(seal.sm3(data) in lg[2].hex() for lg in logs)
    assert body["anchor"]["digest"] == row.digest == seal.sm3(data)
    with pytest.raises(Exception):
        verify_receipt_proof("0x" + "00" * 32, body["receipt_proof"]["key"], body["receipt_proof"]["proof"])


def test_serve__while_sync_writes__keeps_answering(tmp_path, scenario, register, governance, registrar, rpc, abi,
                                                     actors):
    Store(tmp_path / "store").close()
    anchor = deploy_anchor(register, governance)
    codes, stop = [], threading.Event()
    with Server(make_app(tmp_path / "store", TOKEN, HttpRpc(rpc.uri))) as s:  # a process of its own in use
        def poll():
            while not stop.is_set():
                codes.append(get(s, "/v1/status").status_code)
        t = threading.Thread(target=poll, daemon=True)
        t.start()
        result, _ = run(tmp_path, register, anchor, registrar, rpc, abi, actors, scenario)
        stop.set()
        t.join(30)
        final = get(s, "/v1/status").json()
    assert codes and set(codes) == {200}
    assert final["anchored"] == result.snapshots > 0


def test_serve__concurrent_requests__each_answered(server, synced):
    """The regulator's node pulls several things at once: the status and proofs (both ask the node)
    on uvicorn's thread pool through the app's one node connection, every answer whole."""
    store = Store(synced["tmp"] / "store", readonly=True)
    rows = store.rows()[:6]
    paths = [p for r in rows for p in ("/v1/status", f"/v1/objects/{r.object_id}/{r.version}/proof")] * 3
    got: list = []

    def pull(path):
        r = get(server, path)
        got.append((path, r.status_code, r.json()))

    threads = [threading.Thread(target=pull, args=(p,)) for p in paths]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == len(paths) and {code for _, code, _ in got} == {200}
    for path, _, body in got:
        if path.endswith("/proof"):
            row = next(r for r in rows if path == f"/v1/objects/{r.object_id}/{r.version}/proof")
            assert body["digest"] == row.digest and body["anchor"]["tx"] == row.anchor_tx
        else:
            assert body["anchored"] == store.anchored_count()
