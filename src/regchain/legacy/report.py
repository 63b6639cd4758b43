"""The migration report (docs/migration.md, "The report"), built once at the end of the
migration from what each stage returned: the cleaning's verdicts (`CleanResult.verdicts`),
the plan's addresses, the token ids the writing read and the reconciliation. Nothing here
touches a chain; the report is a new document each time, nothing is edited in place.

    {"securities": {code: {status, token_id, reasons}},
     "accounts": {account_no: {status, address, merged_into, reasons}},
     "pledges": {pledge_no: {status, reasons}}, "freezes": {freeze_no: {status, reasons}},
     "reconciliation": {checked, mismatches}}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from regchain.legacy.clean import CleanResult


def build_report(result: "CleanResult", addresses: Mapping[str, str] | None = None,
                 token_ids: Mapping[str, int] | None = None, reconciliation: Mapping | None = None) -> dict:
    """The report of a migration: every security with its token id (MIGRATED ones, when
    `token_ids` is given), every account with its address (MIGRATED or MERGED ones whose
    primary account has one in `addresses`, the plan's primary account_no -> address: a MERGED
    account whose primary holds nothing has none), every pledge and freeze, and the
    reconciliation's count and mismatches (none checked without one)."""
    token_ids, addresses, verdicts = token_ids or {}, addresses or {}, result.verdicts

    def address(no: str, entry: dict) -> str | None:
        primary = result.account_map.get(no, no)
        return addresses.get(primary) if entry["status"] in ("MIGRATED", "MERGED") else None

    return {
        "securities": {code: {**entry, "reasons": list(entry["reasons"]),
                              "token_id": token_ids.get(code) if entry["status"] == "MIGRATED" else None}
                       for code, entry in verdicts["securities"].items()},
        "accounts": {no: {**entry, "reasons": list(entry["reasons"]), "address": address(no, entry)}
                     for no, entry in verdicts["accounts"].items()},
        **{section: {key: {**entry, "reasons": list(entry["reasons"])} for key, entry in verdicts[section].items()}
           for section in ("pledges", "freezes")},
        "reconciliation": ({"checked": reconciliation["checked"],
                            "mismatches": list(reconciliation["mismatches"])}
                           if reconciliation else {"checked": 0, "mismatches": []}),
    }
