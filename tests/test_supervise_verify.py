"""The regulator's verification of a store: a clean store passes; a tampered snapshot, a missing anchor,
a wrong key and a missing snapshot are each named."""

from __future__ import annotations

import json
import shutil

import pytest
from supervise_support import (  # noqa: F401  (fixtures)
    PRIV, abi, actors, deploy_anchor, rpc, scenario, synced)

from regchain.supervise import SuperviseError, seal
from regchain.supervise.verify import load_public_key, verify_store


@pytest.fixture
def copy(synced, tmp_path):
    """A copy of the synced store the test may damage."""
    shutil.copytree(synced["tmp"] / "store", tmp_path / "store")
    return tmp_path / "store"


def pub() -> str:
    return seal.Signer(PRIV).public_hex


def first(store_dir, part: str):
    return sorted(p for p in (store_dir / "objects").glob("*/*.json") if part in p.parent.name)[0]


def test_verify_store__clean__all_pass(synced, rpc):
    report = verify_store(synced["tmp"] / "store", rpc, str(synced["anchor"].address), pub())
    assert report.ok and report.checked == synced["result"].snapshots
    assert report.lines()[1] == "all valid, anchored and sealed by the registered key"


def test_verify_store__tampered_snapshot__named_tampered_and_bad_signature(copy, synced, rpc):
    path = first(copy, ":account:")
    obj = json.loads(path.read_bytes())
    obj["body"]["account_information"]["basic_account_information"]["account_number"] = "A99999999"
    path.write_bytes(seal.canonical(obj))
    report = verify_store(copy, rpc, str(synced["anchor"].address), pub())
    name = f"{path.parent.name}/{path.stem}"
    assert [(k, n) for k, n, _ in report.failures] == [("tampered", name), ("bad signature", name)]


def test_verify_store__missing_anchor__named(copy, synced, rpc, register, governance):
    other = deploy_anchor(register, governance)  # nothing anchored there
    report = verify_store(copy, rpc, str(other.address), pub())
    assert report.counts() == {"missing anchor": report.checked}


def test_verify_store__wrong_key__named(copy, synced, rpc):
    report = verify_store(copy, rpc, str(synced["anchor"].address), seal.Signer("22" * 32).public_hex)
    assert report.counts() == {"wrong key": report.checked}
    assert "wrong key" in report.lines()[1]


def test_verify_store__snapshot_removed__missing_snapshot_and_broken_reference(copy, synced, rpc):
    path = first(copy, ":account:")
    path.unlink()
    report = verify_store(copy, rpc, str(synced["anchor"].address), pub())
    kinds = report.counts()
    assert kinds["missing snapshot"] == 1
    assert kinds["invalid"] >= 1  # rights records referring to the account no longer resolve


def test_load_public_key__bad_text__one_line(tmp_path):
    f = tmp_path / "pub.hex"
    f.write_text("04abcd")
    with pytest.raises(SuperviseError, match="public key file .*: an SM2 public key is 130 hex characters"):
        load_public_key(f)
