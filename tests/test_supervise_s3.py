"""The S3-compatible store (``--store s3://BUCKET/PREFIX``) against a real S3 HTTP server (moto's,
started here on a port it binds itself): the same keys and canonical bytes as the file store,
conditional puts (an existing object is never overwritten), the index in a local SQLite file, and
sync, verify and serve reading from it."""

from __future__ import annotations

import json
import os
import socket

import httpx
import pytest
from click.testing import CliRunner
from conftest import script_cli
from supervise_support import (  # noqa: F401  (fixtures)
    PRIV, abi, actors, deploy_anchor, rpc, scenario, stored, synced, write_books)
from test_supervise_serve import TOKEN, Server

from regchain import deployments
from regchain.supervise import SuperviseError, anchor as anchor_mod, generate, seal
from regchain.supervise.serve import make_app
from regchain.supervise.store import S3Objects, Store
from regchain.supervise.verify import verify_store

BUCKET = "rc-supervise"


@pytest.fixture(scope="module")
def s3():
    """moto's S3 server on a free port; the AWS_* variables every S3 client reads point at it."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "regchain",
           "AWS_SECRET_ACCESS_KEY": "regchain-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield env["AWS_ENDPOINT_URL"]
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


def test_s3_objects__existing_key__kept_not_overwritten(s3):
    o = S3Objects(f"s3://{BUCKET}/unit")
    assert o.write("rc-1:account:ab", 0, b'{"a":1}') is None
    assert o.write("rc-1:account:ab", 0, b'{"a":2}') == b'{"a":1}'  # If-None-Match: the first stays
    assert o.read("rc-1:account:ab", 0) == b'{"a":1}' and o.read("rc-1:account:ab", 1) is None
    assert o.keys() == {("rc-1:account:ab", 0): "unit/objects/rc-1:account:ab/0.json"}


def test_store_s3__put_same_then_different__kept_then_refused(s3, tmp_path):
    s = Store(f"s3://{BUCKET}/store-unit", index=tmp_path / "index.sqlite")
    snap = {"header": {"model": {}, "content": {"type": "account", "object_id": "rc-1:account:cd", "version": 0,
                                                "operation": "create"}},
            "body": {"account_information": {"basic_account_information": {"account_status": 1}}}}
    d1 = s.put(snap, business_tx=None, block=1, log_index=0, step="x")
    assert s.put(snap, business_tx=None, block=1, log_index=0, step="x") == d1 and len(s.rows()) == 1
    snap["body"]["account_information"]["basic_account_information"]["account_status"] = 3
    with pytest.raises(SuperviseError, match="stored snapshot rc-1:account:cd/0 differs from the one generated now"):
        s.put(snap, business_tx=None, block=1, log_index=0, step="x")
    assert seal.sm3(s.read_bytes("rc-1:account:cd", 0)) == d1
    assert (tmp_path / "index.sqlite").is_file()


def test_store_s3__no_index_or_no_bucket__one_line_refusal(s3, tmp_path):
    with pytest.raises(SuperviseError, match="an S3 store keeps its index locally: give the index file"):
        Store(f"s3://{BUCKET}/p")
    with pytest.raises(SuperviseError, match="S3 store s3://no-such-bucket/p: no bucket no-such-bucket"):
        Store("s3://no-such-bucket/p", index=tmp_path / "i.sqlite")
    with pytest.raises(SuperviseError, match="an S3 store is s3://BUCKET"):
        S3Objects("s3:///p")


@pytest.fixture(scope="module")
def s3_synced(s3, synced, tmp_path_factory, register, governance, registrar, rpc, abi, actors, scenario):
    """The scenario synced into S3 (after the file store's run of the same chain)."""
    tmp = tmp_path_factory.mktemp("supervise-s3")
    anchor = deploy_anchor(register, governance)
    location = f"s3://{BUCKET}/province/2024"
    store = Store(location, index=tmp / "index.sqlite")
    try:
        result = generate.sync(rpc, register.address, abi, store, write_books(tmp / "books.sqlite", register, actors,
                                                                          scenario),
                               seal.Signer(PRIV), anchor_mod.Anchorer(anchor, registrar, rpc))
    finally:
        store.close()
    return {"location": location, "index": tmp / "index.sqlite", "anchor": anchor, "result": result}


def test_sync__s3_store__same_keys_and_contents_as_the_file_store(s3_synced, synced):
    objects = S3Objects(s3_synced["location"])
    keys = objects.keys()
    assert len(keys) == s3_synced["result"].snapshots == synced["result"].snapshots > 20
    assert all(k == f"province/2024/objects/{oid}/{v}.json" for (oid, v), k in keys.items())
    in_s3 = {key: seal.canonical(seal.unsigned(json.loads(objects.read(*key)))) for key in keys}
    assert in_s3 == stored(synced["tmp"])  # the seals differ (random k), the contents are the same
    store = Store(s3_synced["location"], index=s3_synced["index"], readonly=True)
    for r in store.rows():
        data = store.read_bytes(r.object_id, r.version)
        assert seal.canonical(json.loads(data)) == data and seal.sm3(data) == r.digest
    assert store.anchored_count() == len(keys)


def test_sync__s3_store_rerun__sends_and_stores_nothing_new(s3_synced, register, registrar, rpc, abi, actors,
                                                            scenario, tmp_path):
    before = S3Objects(s3_synced["location"]).keys()
    store = Store(s3_synced["location"], index=s3_synced["index"])
    anchorer = anchor_mod.Anchorer(s3_synced["anchor"], registrar, rpc)
    try:
        result = generate.sync(rpc, register.address, abi, store,
                               write_books(tmp_path / "books.sqlite", register, actors, scenario),
                               seal.Signer(PRIV), anchorer)
    finally:
        store.close()
    assert result.snapshots == 0 and anchorer.sent == 0 and S3Objects(s3_synced["location"]).keys() == before


def test_verify__s3_store__all_valid_then_tampered_named(s3_synced, rpc):
    public = seal.Signer(PRIV).public_hex
    report = verify_store(s3_synced["location"], rpc, str(s3_synced["anchor"].address), public)
    assert report.ok and report.checked == s3_synced["result"].snapshots
    objects = S3Objects(s3_synced["location"])
    (oid, version), key = sorted(objects.keys().items())[0]
    original = objects.read(oid, version)
    objects.client.put_object(Bucket=BUCKET, Key=key, Body=original.replace(b'"version":', b'"version": '))
    try:
        report = verify_store(s3_synced["location"], rpc, str(s3_synced["anchor"].address), public)
        assert {kind for kind, name, _ in report.failures if name == f"{oid}/{version}"} >= {"tampered"}
    finally:
        objects.client.put_object(Bucket=BUCKET, Key=key, Body=original)


def test_serve__s3_store__exact_bytes_401_and_404(s3_synced, rpc):
    with Server(make_app(s3_synced["location"], TOKEN, rpc, index=s3_synced["index"])) as server:
        store = Store(s3_synced["location"], index=s3_synced["index"], readonly=True)
        r = store.rows()[0]
        url = f"{server.url}/v1/objects/{r.object_id}/{r.version}"
        ok = httpx.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert ok.status_code == 200 and ok.content == store.read_bytes(r.object_id, r.version)
        assert httpx.get(url, timeout=30).status_code == 401
        missing = httpx.get(f"{server.url}/v1/objects/{r.object_id}/{r.version + 99}",
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert missing.status_code == 404


def test_cli__sync_and_verify_s3_store__counts_then_all_valid(s3, tmp_path, monkeypatch, register, actors, scenario):
    monkeypatch.setattr(deployments, "DEPLOYMENTS_DIR", str(tmp_path / "deployments"))
    cli = script_cli("supervise", "s3")
    write_books(tmp_path / "books.sqlite", register, actors, scenario).close()
    (tmp_path / "key.hex").write_text(PRIV + "\n")
    (tmp_path / "pub.hex").write_text(seal.Signer(PRIV).public_hex)
    location = f"s3://{BUCKET}/cli"
    args = ["sync", "--books", tmp_path / "books.sqlite", "--store", location, "--key", tmp_path / "key.hex",
            "--register", register.address, "--account", "test:1"]
    invoke = lambda *a: CliRunner().invoke(cli, [str(x) for x in a], catch_exceptions=False)  # noqa: E731
    refused = invoke(*args)
    assert refused.exit_code != 0 and refused.output.strip().splitlines()[-1] == (
        f"Error: an S3 store keeps its index locally: give the index file (--index) for {location}")
    done = invoke(*args, "--index", tmp_path / "index.sqlite")
    assert done.exit_code == 0, done.output
    assert done.output.strip().splitlines()[-1] == f"store: {location}"
    checked = invoke("verify", "--store", location, "--pubkey", tmp_path / "pub.hex")
    assert checked.exit_code == 0, checked.output
    assert checked.output.splitlines()[1] == "all valid, anchored and sealed by the registered key"
