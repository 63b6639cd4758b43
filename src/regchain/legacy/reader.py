"""Reading a legacy export folder (docs/migration.md, "The export the migration reads").

`read_export(folder)` returns the five tables as raw text rows, keyed by the
English column names, each row keeping its line number for the report. It only
decodes and maps headers; every value is left exactly as exported (cleaning is
`regchain.legacy.clean`).

Decisions where the spec is silent:

* Encoding: a UTF-8 BOM means UTF-8; otherwise strict UTF-8, then strict GB18030
  (a superset of GBK and GB2312). A file that is neither raises `ExportError`.
* All five files must exist (an export without pledges has a header-only
  pledges.csv). A file with no header line at all is an `ExportError`.
* Required columns are every column of the spec except those it calls optional
  or empty-able (`wallet`, `paid_units`, `lock_until`, `insider`) and the three
  never used by the migration (`name`, `holder_name`, `court`).
* Headers are matched after NFKC and white-space removal, English names
  case-insensitively. The same column given twice (say `code` and `证券代码`)
  is an `ExportError`: which one to believe cannot be decided.
* Records whose cells are all empty (trailing `,,,,` lines from spreadsheets)
  are not rows; they are counted in `Table.blank_lines`. Short records get
  empty cells; cells beyond the header are ignored.
* `Row.line` is the physical line where the record starts (header = line 1).
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030")


@dataclass(frozen=True)
class Column:
    name: str
    alias: str
    required: bool = True


# file stem -> columns, in the spec's order (the generator writes them in this order).
FILES: dict[str, tuple[Column, ...]] = {
    "securities": (
        Column("code", "证券代码"),
        Column("name", "企业名称", False),
        Column("issuer_id", "统一社会信用代码"),
        Column("kind", "类型"),
        Column("total_units", "总股本"),
        Column("unit_scale", "单位精度"),
        Column("registered_on", "登记日期"),
        Column("status", "状态"),
    ),
    "accounts": (
        Column("account_no", "账户号"),
        Column("holder_name", "名称", False),
        Column("holder_type", "投资者类型"),
        Column("id_type", "证件类型"),
        Column("id_number", "证件号码"),
        Column("qualified", "合格投资者"),
        Column("wallet", "链上地址", False),
    ),
    "holdings": (
        Column("security_code", "证券代码"),
        Column("account_no", "账户号"),
        Column("units", "持有数量"),
        Column("paid_units", "实缴数量", False),
        Column("acquired_on", "取得日期"),
        Column("lock_until", "限售截止日", False),
        Column("insider", "董监高", False),
    ),
    "pledges": (
        Column("pledge_no", "质押编号"),
        Column("security_code", "证券代码"),
        Column("pledgor_account", "出质人账户"),
        Column("pledgee_account", "质权人账户"),
        Column("units", "质押数量"),
        Column("registered_on", "登记日期"),
    ),
    "freezes": (
        Column("freeze_no", "冻结编号"),
        Column("security_code", "证券代码"),
        Column("account_no", "账户号"),
        Column("units", "冻结数量"),
        Column("court", "执行法院", False),
        Column("case_no", "案号"),
        Column("registered_on", "登记日期"),
        Column("expires_on", "到期日"),
        Column("kind", "冻结类型"),
    ),
}


class ExportError(Exception):
    """The export folder cannot be read at all (missing file, missing column,
    undecodable bytes). `str(error)` is one line naming the file and column."""


class Row:
    """One record: `row["units"]` is the raw text of a column by its English
    name ("" when the file lacks that optional column); `row.line` its line."""

    __slots__ = ("line", "cells", "_index")

    def __init__(self, line: int, cells: tuple[str, ...], index: dict[str, int]):
        self.line = line
        self.cells = cells  # in the table's column order (FILES[name])
        self._index = index

    def __getitem__(self, column: str) -> str:
        return self.cells[self._index[column]]

    @property
    def values(self) -> dict[str, str]:
        return {c: self.cells[i] for c, i in self._index.items()}

    def __repr__(self) -> str:
        return f"Row(line={self.line}, {self.values})"


@dataclass
class Table:
    name: str  # file stem: "securities", ...
    path: Path
    encoding: str  # "utf-8", "utf-8-sig" or "gb18030"
    header_language: str  # "en", "zh" or "mixed"
    rows: list[Row] = field(default_factory=list)
    blank_lines: int = 0

    @property
    def filename(self) -> str:
        return f"{self.name}.csv"


@dataclass
class Export:
    folder: Path
    securities: Table
    accounts: Table
    holdings: Table
    pledges: Table
    freezes: Table

    def tables(self) -> tuple[Table, ...]:
        return (self.securities, self.accounts, self.holdings, self.pledges, self.freezes)


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if not ch.isspace() and ch not in "\u200b\u200c\u200d\u2060\ufeff").lower()


def decode(data: bytes, filename: str) -> tuple[str, str]:
    """(text, encoding) of a CSV file's bytes; ExportError if undecodable."""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as e:
            raise ExportError(f"{filename}: has a UTF-8 BOM but is not valid UTF-8 (byte {e.start})") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as e:
        raise ExportError(f"{filename}: neither UTF-8 nor GB18030/GBK (undecodable byte at offset {e.start})") from None


def read_table(path: Path, name: str) -> Table:
    """Read one of the five files; `name` is its stem ("securities", ...)."""
    columns = FILES[name]
    filename = f"{name}.csv"
    if not path.is_file():
        raise ExportError(f"{filename}: missing from the export folder {path.parent}")
    text, encoding = decode(path.read_bytes(), filename)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError(f"{filename}: empty file (no header line)") from None
    except csv.Error as e:
        raise ExportError(f"{filename}: line 1: {e}") from None

    lookup: dict[str, tuple[Column, str]] = {}
    for col in columns:
        lookup[col.name.lower()] = (col, "en")
        lookup[_header_key(col.alias)] = (col, "zh")
    position: dict[str, int] = {}
    languages = set()
    for i, cell in enumerate(header):
        hit = lookup.get(_header_key(cell))
        if hit is None:
            continue  # extra column
        col, lang = hit
        if col.name in position:
            raise ExportError(f"{filename}: column {col.name} ({col.alias}) appears twice in the header")
        position[col.name] = i
        languages.add(lang)
    for col in columns:
        if col.required and col.name not in position:
            raise ExportError(f"{filename}: missing required column {col.name} ({col.alias})")

    table = Table(name, path, encoding, languages.pop() if len(languages) == 1 else "mixed" if languages else "en")
    index = {c.name: i for i, c in enumerate(columns)}
    # positions of the file's cells for each column; -1 = column absent
    take = [position.get(c.name, -1) for c in columns]
    width = max(take) + 1
    line = reader.line_num + 1
    try:
        for record in reader:
            if any(cell.strip() for cell in record):
                if len(record) < width:
                    record = record + [""] * (width - len(record))
                table.rows.append(Row(line, tuple(record[i] if i >= 0 else "" for i in take), index))
            else:
                table.blank_lines += 1
            line = reader.line_num + 1
    except csv.Error as e:
        raise ExportError(f"{filename}: line {line}: {e}") from None
    return table


def read_export(folder: str | Path) -> Export:
    """Read the five CSV files of an export folder. Raises ExportError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ExportError(f"{folder}: not a folder")
    return Export(folder, *(read_table(folder / f"{name}.csv", name) for name in FILES))
