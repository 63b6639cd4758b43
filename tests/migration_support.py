"""What the migration tests that run the command against a node of their own share:
a read-back of the register's state for a migration report (every security, holding,
pledge, freeze and account the report names), compared between a clean run and a run
that was interrupted, killed or disturbed (tests/test_migrate.py,
tests/test_robustness_faults.py)."""

from __future__ import annotations

import json
from pathlib import Path

from regchain.abi import SuiteAbi
from regchain.testing.backends import AnvilBackend


def register_state(uri: str, register: str, report: Path | dict) -> dict:
    """Every record of the register the report's securities and accounts have on chain:
    per migrated security its view (status, supply, holders, declared total, ...), the
    holding, pledge ids and freeze queue of every reported address; every pledge and
    freeze record by id; every reported account; the record counts. Two runs that end in
    the same register state give equal dicts."""
    data = report if isinstance(report, dict) else json.loads(Path(report).read_text(encoding="utf-8"))
    chain = AnvilBackend(uri, register, SuiteAbi.from_suite())
    try:
        addresses = sorted({a["address"] for a in data["accounts"].values() if a.get("address")})
        out: dict = {"accounts": dict(zip(addresses, chain.read([("account_of", (a,)) for a in addresses])))}
        for code, s in sorted(data["securities"].items()):
            if s["status"] != "MIGRATED":
                continue
            sid = s["token_id"]
            out[code] = {
                "id": sid,
                "security": chain.call("security", sid),
                "holdings": chain.read([("holding", (a, sid)) for a in addresses]),
                "pledged": chain.read([("pledged_balance_of", (a, sid)) for a in addresses]),
                "frozen": chain.read([("frozen_balance_of", (a, sid)) for a in addresses]),
                "pledges_of": chain.read([("pledges_of", (a, sid)) for a in addresses]),
                "freeze_queues": chain.read([("freeze_queue_of", (a, sid)) for a in addresses]),
            }
        for name in ("security_count", "pledge_count", "freeze_count"):
            out[name] = chain.call(name)
        out["pledges"] = chain.read([("pledge_of", (i,)) for i in range(1, out["pledge_count"] + 1)])
        out["freezes"] = chain.read([("freeze_of", (i,)) for i in range(1, out["freeze_count"] + 1)])
        return out
    finally:
        chain.rpc.close()
