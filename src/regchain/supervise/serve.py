"""The pull interface for the regulator's node (JR/T 0314 §6.6, §7): FastAPI on uvicorn.

Every route needs ``Authorization: Bearer <token>`` (401 without or with a wrong one):

- ``GET /v1/status``: chain id, newest block, checkpoint, counts by type;
- ``GET /v1/blocks/<n>/objects``: the (object_id, version) pairs anchored in block n;
- ``GET /v1/objects/<object_id>/<version>``: the stored bytes, exactly (404 if unknown);
- ``GET /v1/objects/<object_id>/<version>/proof``: the anchoring transaction, its log, and the
  receipt's inclusion proof in the block's receipt trie (``receipt_proof``), which the regulator
  checks against the block header's ``receiptsRoot``.

The service reads the store's SQLite index read-only (WAL: it keeps answering while ``sync``
writes) and the chain through JSON-RPC.
"""

from __future__ import annotations

import hmac
import threading

import rlp
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from trie import HexaryTrie

from regchain.supervise import SuperviseError
from regchain.supervise.anchor import TOPIC, decode_log
from regchain.supervise.store import Store


def _int(h) -> int:
    return int(h, 16) if isinstance(h, str) else int(h or 0)


def _b(h: str) -> bytes:
    return bytes.fromhex(h[2:] if h.startswith("0x") else h)


def encode_receipt(r: dict) -> bytes:
    """The consensus encoding of a receipt (EIP-2718: a typed receipt is its type byte + RLP)."""
    status = _int(r.get("status", "0x1"))
    logs = [[_b(log["address"]), [_b(t) for t in log["topics"]], _b(log["data"])] for log in r["logs"]]
    body = rlp.encode([status, _int(r["cumulativeGasUsed"]), _b(r["logsBloom"]), logs])
    kind = _int(r.get("type", "0x0"))
    return body if kind == 0 else bytes([kind]) + body


def block_receipts(rpc, block: dict) -> list[dict]:
    try:
        receipts = rpc.call("eth_getBlockReceipts", [block["number"]])
        if receipts is not None:
            return sorted(receipts, key=lambda r: _int(r["transactionIndex"]))
    except Exception:  # the node has no eth_getBlockReceipts: one call per transaction
        pass
    hashes = [t if isinstance(t, str) else t["hash"] for t in block["transactions"]]
    return rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])


def receipt_proof(rpc, tx_hash: str) -> dict:
    """The receipt of ``tx_hash`` and its Merkle-Patricia proof against the block's receiptsRoot."""
    receipt = rpc.call("eth_getTransactionReceipt", [tx_hash])
    if receipt is None:
        raise SuperviseError(f"no receipt for {tx_hash}")
    block = rpc.call("eth_getBlockByNumber", [receipt["blockNumber"], False])
    t = HexaryTrie(db={})
    for r in block_receipts(rpc, block):
        t[rlp.encode(_int(r["transactionIndex"]))] = encode_receipt(r)
    if "0x" + t.root_hash.hex() != block["receiptsRoot"]:
        raise SuperviseError(f"block {_int(block['number'])}: rebuilt receipt trie does not match receiptsRoot")
    key = rlp.encode(_int(receipt["transactionIndex"]))
    proof = t.get_proof(key)
    return {"block": {"number": _int(block["number"]), "hash": block["hash"], "receiptsRoot": block["receiptsRoot"],
                      "stateRoot": block["stateRoot"], "timestamp": _int(block["timestamp"])},
            "transaction_index": _int(receipt["transactionIndex"]),
            "key": "0x" + key.hex(), "receipt": "0x" + encode_receipt(receipt).hex(),
            "proof": ["0x" + rlp.encode(node).hex() for node in proof], "_receipt": receipt}


def verify_receipt_proof(receipts_root: str, key: str, proof: list[str]) -> bytes:
    """The receipt the proof proves under ``receipts_root`` (raises if the proof is wrong)."""
    nodes = tuple(rlp.decode(_b(n)) for n in proof)
    return HexaryTrie.get_from_proof(_b(receipts_root), _b(key), nodes)


def make_app(store_dir, token: str, rpc, *, index=None) -> FastAPI:
    """The app over a store (a directory, or ``s3://BUCKET/PREFIX`` with its local ``index``)."""
    if not token:
        raise SuperviseError("the bearer token is empty")
    store = Store(store_dir, readonly=True, index=index)
    app = FastAPI(title="regchain supervisory objects", docs_url=None, redoc_url=None, openapi_url=None)
    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> None:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise HTTPException(status_code=401, detail="bearer token required",
                                headers={"WWW-Authenticate": "Bearer"})

    auth = [Depends(authorized)]
    # the endpoints run on uvicorn's thread pool; the rpc's one HTTP connection to the node is not
    # for two threads at once (interleaved requests and replies): one request to the node at a time
    node = threading.Lock()

    @app.get("/v1/status", dependencies=auth)
    def status():
        chain = store.get("chain") or {}
        with node:
            newest = rpc.call("eth_blockNumber", [])
        return {"chain_id": chain.get("chain_id"), "register": chain.get("register"),
                "newest_block": _int(newest),
                "checkpoint": store.get("last_block"), "counts": store.counts(),
                "anchored": store.anchored_count()}

    @app.get("/v1/blocks/{n}/objects", dependencies=auth)
    def block_objects(n: int):
        return {"block": n, "objects": [{"object_id": o, "version": v} for o, v in store.in_block(n)]}

    @app.get("/v1/objects/{object_id}/{version}", dependencies=auth)
    def get_object(object_id: str, version: int):
        data = store.read_bytes(object_id, version) if store.has(object_id, version) else None
        if data is None:
            raise HTTPException(status_code=404, detail=f"no snapshot {object_id}/{version}")
        return Response(content=data, media_type="application/json")

    @app.get("/v1/objects/{object_id}/{version}/proof", dependencies=auth)
    def get_proof(object_id: str, version: int):
        row = store.row(object_id, version)
        if row is None:
            raise HTTPException(status_code=404, detail=f"no snapshot {object_id}/{version}")
        if row.anchor_tx is None:
            raise HTTPException(status_code=404, detail=f"{object_id}/{version} is not anchored yet")
        with node:
            proof = receipt_proof(rpc, row.anchor_tx)
        receipt = proof.pop("_receipt")
        log = next((lg for lg in receipt["logs"] if _int(lg["logIndex"]) == row.anchor_log_index), None)
        if log is None or not log["topics"] or log["topics"][0] != TOPIC:
            raise HTTPException(status_code=500, detail="anchor log not found in its receipt")
        a = decode_log(log)
        return JSONResponse({"object_id": object_id, "version": version, "digest": row.digest,
                             "anchor": {"tx": row.anchor_tx, "block": row.anchor_block,
                                        "log_index": row.anchor_log_index, "contract": log["address"],
                                        "object_id": a.object_id, "version": a.version, "digest": a.digest,
                                        "business_tx": a.business_tx, "topics": log["topics"], "data": log["data"]},
                             "receipt_proof": proof})

    return app


def run(store_dir, token: str, rpc, *, host: str = "127.0.0.1", port: int = 8600, tls_cert=None, tls_key=None,
        index=None):
    import uvicorn

    app = make_app(store_dir, token, rpc, index=index)
    uvicorn.run(app, host=host, port=port, ssl_certfile=tls_cert, ssl_keyfile=tls_key, log_level="warning")
