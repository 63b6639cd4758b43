"""The regulator's check of a snapshot store against the chain (``ape run supervise verify``).

For every snapshot under ``DIR/objects`` or ``s3://BUCKET/PREFIX/objects`` (the regulator's copy
needs no index):

- re-validate it (schema with format checking, the spec's own checks; references must resolve to
  files of the same store);
- recompute the SM3 digest of the stored bytes and compare it with the on-chain anchor of its
  ``(object_id, version)`` (``missing anchor`` / ``tampered``: the digest differs);
- verify its seal with the operator's registered public key (``wrong key`` / ``bad signature``).

Anchors on chain without a stored snapshot are reported too (``missing snapshot``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from regchain.supervise import SuperviseError, anchor as anchor_mod, validate
from regchain.supervise.seal import canonical, seal_problem, sm3
from regchain.supervise.store import open_objects

KINDS = ("invalid", "tampered", "missing anchor", "wrong key", "bad signature", "missing snapshot", "not canonical")


@dataclass
class Report:
    checked: int = 0
    by_type: Counter = field(default_factory=Counter)
    failures: list = field(default_factory=list)  # (kind, "object_id/version", detail)

    @property
    def ok(self) -> bool:
        return not self.failures

    def counts(self) -> Counter:
        return Counter(kind for kind, _, _ in self.failures)

    def lines(self, limit: int = 10) -> list[str]:
        out = [f"checked {self.checked} snapshots: " + ", ".join(f"{t} {n}" for t, n in sorted(self.by_type.items()))]
        if self.ok:
            out.append("all valid, anchored and sealed by the registered key")
        else:
            out.append("failures: " + ", ".join(f"{k} {n}" for k, n in sorted(self.counts().items())))
            out += [f"  {kind}: {key}: {detail}" for kind, key, detail in self.failures[:limit]]
        return out


def verify_store(location, rpc, anchor_address: str, public_hex: str, *, first_block: int = 0) -> Report:
    s3 = str(location).startswith("s3://")
    if not s3 and not (Path(location) / "objects").is_dir():
        raise SuperviseError(f"no snapshot store at {location} (objects/ missing)")
    objects = open_objects(location)
    files = objects.keys()
    anchors = {}
    for a in anchor_mod.read_anchors(rpc, anchor_address, first_block):
        anchors.setdefault((a.object_id, a.version), a)
    report = Report()

    def resolves(object_id, version):
        return (object_id, version) in files

    for key in sorted(files):
        name = f"{key[0]}/{key[1]}"
        data = objects.read(*key)
        if data is None:
            report.failures.append(("missing snapshot", name, "listed but cannot be read"))
            continue
        report.checked += 1
        try:
            obj = json.loads(data)
        except ValueError as exc:
            report.failures.append(("invalid", name, f"not JSON: {exc}"))
            continue
        report.by_type[(obj.get("header", {}).get("content") or {}).get("type", "?")] += 1
        errs = validate.errors(obj, resolves=resolves)
        if errs:
            report.failures.append(("invalid", name, validate.describe(errs, 2)))
        if canonical(obj) != data:
            report.failures.append(("not canonical", name, "stored bytes are not the canonical JSON"))
        anchor = anchors.get(key)
        if anchor is None:
            report.failures.append(("missing anchor", name, "no SnapshotAnchored on chain"))
        elif anchor.digest != sm3(data):
            report.failures.append(("tampered", name, f"SM3 {sm3(data)[:16]}… but anchored {anchor.digest[:16]}… "
                                                      f"(tx {anchor.tx})"))
        problem = seal_problem(obj, public_hex)
        if problem == "sealed by another key":
            report.failures.append(("wrong key", name, problem))
        elif problem:
            report.failures.append(("bad signature", name, problem))
    for key in sorted(set(anchors) - set(files)):
        report.failures.append(("missing snapshot", f"{key[0]}/{key[1]}", f"anchored in tx {anchors[key].tx}"))
    return report


def load_public_key(path) -> str:
    try:
        text = Path(path).read_text().strip().lower()
    except OSError as exc:
        raise SuperviseError(f"public key file {path}: {exc.strerror}") from None
    from regchain.supervise.seal import public_key_from_hex

    try:
        public_key_from_hex(text)
    except SuperviseError as exc:
        raise SuperviseError(f"public key file {path}: {exc}") from None
    return text
