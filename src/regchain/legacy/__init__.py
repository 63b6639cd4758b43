"""The chain-independent half of the migration of the operator's old books
(基础数据的清理): reading a legacy export folder (`reader`), cleaning it by the
rules of docs/migration.md (`clean`, `ids`), the migration report built from the
cleaning's verdicts and what the chain stages returned (`report`), and generating
synthetic exports (`synth`, also `python -m regchain.legacy.synth`)."""

from regchain.legacy.clean import (
    EXTRA_REASONS,
    REASONS,
    Account,
    CleanResult,
    CleanWarning,
    FieldError,
    Freeze,
    FreezeKind,
    Holding,
    IdType,
    Pledge,
    RowFate,
    Security,
    Status,
    clean_export,
    clean_folder,
)
from regchain.legacy.reader import Export, ExportError, read_export

__all__ = [
    "EXTRA_REASONS", "REASONS", "Account", "CleanResult", "CleanWarning", "Export", "ExportError",
    "FieldError", "Freeze", "FreezeKind", "Holding", "IdType", "Pledge", "RowFate", "Security",
    "Status", "clean_export", "clean_folder", "read_export",
]
