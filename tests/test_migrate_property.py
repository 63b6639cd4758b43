"""Property test of the migration (issue 5): for generated exports (any seed, dirty
rate, encoding and header language), every input row is accounted for exactly once in
the report, and after writing, the chain equals the cleaned source.

Each example writes on the ape test node inside a chain snapshot that is restored
afterwards, so examples do not see each other's securities or accounts."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from regchain import calendar as cal
from regchain import migrate
from regchain.legacy import synth
from regchain.legacy.clean import Status, clean_folder
from regchain.legacy.reader import FILES

SECRET = b"property-operator-secret-0123456789"
SECTIONS = {"securities.csv": "securities", "accounts.csv": "accounts", "pledges.csv": "pledges",
            "freezes.csv": "freezes"}


def _check_every_row_accounted_for(export: synth.SynthExport, result) -> None:
    by_file: dict[str, list] = {}
    for row in result.rows:
        by_file.setdefault(row.file, []).append(row)
    assert set(by_file) <= {f"{name}.csv" for name in FILES}
    for name in FILES:
        rows = by_file.get(f"{name}.csv", [])
        # one fate per input row: as many as the file has data rows, each line once
        assert len(rows) == len(export.tables[name]), name
        lines = [r.line for r in rows]
        assert len(set(lines)) == len(lines), f"{name}: a line has two fates"
        for r in rows:
            assert isinstance(r.status, Status)
            # a rejected row says why; a migrated or merged one has nothing against it
            if r.status is Status.REJECTED:
                assert r.reasons, f"{name}:{r.line} rejected without a reason"
            if r.status in (Status.MIGRATED, Status.MERGED):
                assert not r.reasons, f"{name}:{r.line} {r.status} with reasons {r.reasons}"
            section = SECTIONS.get(r.file)
            if section:
                assert r.key in result.report[section], f"{name}:{r.line} {r.key!r} missing from the report"
    # every report entry stems from an input row (unknown securities from a holdings row)
    for file, section in SECTIONS.items():
        keys = {r.key for r in by_file.get(file, [])}
        extra = set(result.report[section]) - keys
        if section == "securities":
            assert all(result.report[section][k]["reasons"] == ["UNKNOWN_SECURITY"] for k in extra), extra
        else:
            assert not extra, f"{section}: {extra} in the report but in no input row"
    # what will be written is exactly the MIGRATED part of the report
    migrated = {k for k, v in result.report["securities"].items() if v["status"] == "MIGRATED"}
    assert migrated == {s.code for s in result.securities}
    migrated = {k for k, v in result.report["accounts"].items() if v["status"] == "MIGRATED"}
    assert migrated == {a.account_no for a in result.accounts}


@given(seed=st.integers(0, 2**32 - 1),
       securities=st.integers(1, 5),
       dirty=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk"]),
       headers=st.sampled_from(["en", "zh", "mixed"]))
def test_migrate__generated_export__rows_accounted_once_and_chain_equals_source(
    chain, register, registrar, seed, securities, dirty, encoding, headers
):
    today = register.today()
    export = synth.generate(seed=seed, securities=securities, dirty=dirty, as_of=cal.date_of(today),
                            encoding=encoding, headers=headers)
    with tempfile.TemporaryDirectory() as tmp:
        folder = synth.write_export(export, Path(tmp), encoding=encoding, headers=headers)
        result = clean_folder(folder, as_of=today)
    _check_every_row_accounted_for(export, result)

    plan = migrate.Plan.build(result, migrate.Identities(SECRET))
    snapshot = chain.snapshot()
    try:
        writer = migrate.Chain(register, registrar)
        stats = migrate.write(result, plan, writer)
        assert stats.securities_sealed == len(result.securities)
        assert stats.holdings_written == sum(len(s.holdings) for s in result.securities)
        rec = migrate.reconcile(result, plan, writer)
        assert rec["mismatches"] == []
        assert set(rec["token_ids"]) == {s.code for s in result.securities}
        assert all(rec["token_ids"][s.code] != 0 for s in result.securities)
        report = migrate.build_report(result, plan.address, rec["token_ids"], rec)
        for code, entry in report["securities"].items():
            assert (entry["token_id"] is not None) == (entry["status"] == "MIGRATED"), code
    finally:
        chain.restore(snapshot)
