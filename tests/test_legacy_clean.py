"""Reading and cleaning legacy exports (docs/migration.md) and the
synthetic export generator. Pure Python: no chain fixture is requested, so no
node starts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest

from regchain import calendar as cal
from regchain.constants import InvestorClass, Kind, SecurityStatus
from regchain.legacy import ExportError, clean_folder, read_export
from regchain.legacy import synth
from regchain.legacy.clean import (
    EXTRA_REASONS,
    REASONS,
    FieldError,
    FreezeKind,
    IdType,
    Status,
    norm,
    parse_amount,
    parse_date,
)
from regchain.legacy.ids import (
    IdError,
    clean_resident_id,
    clean_uscc,
    resident_check_char,
    upgrade_resident15,
)
from regchain.legacy.reader import FILES

AS_OF = dt.date(2026, 6, 30)
DAY = cal.day_number

# Valid ids for the hand-written exports.
ID_A = "11010519491231002X"  # the spec's example
ID_B15, ID_B = "130503670401001", "130503196704010016"  # the spec's 15 -> 18 example
ID_C = synth.resident_id("420106", dt.date(1985, 7, 9), 123)
ID_D = synth.resident_id("310115", dt.date(1990, 2, 28), 45)
BANK = "91110000600037341L"  # the spec's USCC example
ISSUER1 = synth.uscc("420106", "71782345")
ISSUER2 = synth.uscc("110105", "12345678")


def base() -> dict[str, list[dict]]:
    """A small clean export: a JSC and an LLC, four holders, a bank, a pledge, a freeze."""
    return {
        "securities": [
            {"code": "000001", "name": "武汉华信科技股份有限公司", "issuer_id": ISSUER1, "kind": "JSC",
             "total_units": "1000", "unit_scale": "0", "registered_on": "2020-01-15", "status": "ACTIVE"},
            {"code": "000002", "name": "北京宏达电子有限公司", "issuer_id": ISSUER2, "kind": "LLC",
             "total_units": "500000.00", "unit_scale": "2", "registered_on": "2019-05-20", "status": "ACTIVE"},
        ],
        "accounts": [
            {"account_no": "0000000001", "holder_name": "王伟", "holder_type": "INDIVIDUAL", "id_type": "RESIDENT_ID",
             "id_number": ID_A, "qualified": "Y", "wallet": ""},
            {"account_no": "0000000002", "holder_name": "李娜", "holder_type": "INDIVIDUAL", "id_type": "RESIDENT_ID",
             "id_number": ID_B, "qualified": "Y", "wallet": ""},
            {"account_no": "0000000003", "holder_name": "张敏", "holder_type": "INDIVIDUAL", "id_type": "RESIDENT_ID",
             "id_number": ID_C, "qualified": "N", "wallet": "0x" + "ab" * 20},
            {"account_no": "0000000004", "holder_name": "刘强", "holder_type": "INDIVIDUAL", "id_type": "RESIDENT_ID",
             "id_number": ID_D, "qualified": "Y", "wallet": ""},
            {"account_no": "0000000009", "holder_name": "某银行武汉分行", "holder_type": "INSTITUTION", "id_type": "USCC",
             "id_number": BANK, "qualified": "Y", "wallet": ""},
        ],
        "holdings": [
            {"security_code": "000001", "account_no": "0000000001", "units": "600", "paid_units": "",
             "acquired_on": "2020-01-15", "lock_until": "", "insider": "Y"},
            {"security_code": "000001", "account_no": "0000000002", "units": "400", "paid_units": "",
             "acquired_on": "2021-03-05", "lock_until": "2027-01-01", "insider": ""},
            {"security_code": "000002", "account_no": "0000000003", "units": "300000.00", "paid_units": "100000",
             "acquired_on": "2019-05-20", "lock_until": "", "insider": ""},
            {"security_code": "000002", "account_no": "0000000004", "units": "200000", "paid_units": "",
             "acquired_on": "2019-05-20", "lock_until": "", "insider": ""},
        ],
        "pledges": [
            {"pledge_no": "ZY001", "security_code": "000001", "pledgor_account": "0000000001",
             "pledgee_account": "0000000009", "units": "100", "registered_on": "2022-01-10"},
        ],
        "freezes": [
            {"freeze_no": "DJ001", "security_code": "000001", "account_no": "0000000002", "units": "100",
             "court": "北京市朝阳区人民法院", "case_no": "（2025）京0105执1234号", "registered_on": "2025-03-01",
             "expires_on": "2028-02-28", "kind": "FREEZE"},
        ],
    }


def write(folder, tables: dict[str, list[dict]], encoding: str = "utf-8", headers: str = "en",
          columns: dict[str, list[str]] | None = None):
    """Write tables as CSV files; `columns` overrides a file's header (English names)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in tables.items():
        cols = (columns or {}).get(name) or [c.name for c in FILES[name]]
        alias = {c.name: c.alias for c in FILES[name]}
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow([alias.get(c, c) if headers == "zh" else c for c in cols])
        for row in rows:
            w.writerow([row.get(c, "") for c in cols])
        (folder / f"{name}.csv").write_bytes(buf.getvalue().encode(encoding))
    return folder


def run(tmp_path, tables, **kw):
    return clean_folder(write(tmp_path / "export", tables, **kw), as_of=AS_OF)


def sec_report(result, code):
    return result.report["securities"][code]


def assert_accounted(result, tables):
    """Every input row has exactly one fate, with a status allowed for its file."""
    allowed = {
        "securities.csv": {"MIGRATED", "REJECTED", "SKIPPED"},
        "accounts.csv": {"MIGRATED", "MERGED", "REJECTED", "UNUSED"},
        "holdings.csv": {"MIGRATED", "MERGED", "REJECTED", "SKIPPED"},
        "pledges.csv": {"MIGRATED", "REJECTED", "SKIPPED"},
        "freezes.csv": {"MIGRATED", "REJECTED", "SKIPPED"},
    }
    for name, rows in tables.items():
        fates = [r for r in result.rows if r.file == f"{name}.csv"]
        assert len(fates) == len(rows), name
        assert len({r.line for r in fates}) == len(rows), name
        assert {str(r.status) for r in fates} <= allowed[f"{name}.csv"], name
        for r in fates:
            if r.status in (Status.REJECTED, Status.SKIPPED):
                assert r.reasons, r
    for section in ("securities", "accounts", "pledges", "freezes"):
        for key, entry in result.report[section].items():
            assert set(entry["reasons"]) <= set(REASONS + EXTRA_REASONS), (key, entry)


# ------------------------------------------------------------------ the clean case


def test_clean_export_migrates_everything(tmp_path):
    t = base()
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert not r.rejected()
    assert [s.code for s in r.securities] == ["000001", "000002"]
    jsc, llc = r.securities
    assert (jsc.kind, jsc.unit_scale, jsc.total, jsc.status) == (Kind.JSC, 0, 1000, SecurityStatus.ACTIVE)
    assert (llc.kind, llc.unit_scale, llc.total) == (Kind.LLC, 2, 50_000_000)
    assert jsc.registered_day == DAY(dt.date(2020, 1, 15))
    assert sum(h.units for h in llc.holdings) == llc.total
    h3 = next(h for h in llc.holdings if h.account_no == "0000000003")
    assert (h3.units, h3.paid) == (30_000_000, 10_000_000)
    h1, h2 = jsc.holdings
    assert h1.insider and not h2.insider
    assert h2.lock_until_day == DAY(dt.date(2027, 1, 1)) and h1.lock_until_day is None
    assert h2.acquired_day == DAY(dt.date(2021, 3, 5))
    (p,) = jsc.pledges
    assert (p.pledgor, p.pledgee, p.units, p.rank) == ("0000000001", "0000000009", 100, 1)
    (f,) = jsc.freezes
    assert (f.account_no, f.units, f.kind, f.queue) == ("0000000002", 100, FreezeKind.FREEZE, 1)
    assert f.case_no == "(2025)京0105执1234号"  # NFKC: full-width brackets
    assert f.expiry_day == DAY(dt.date(2028, 2, 28))
    accts = {a.account_no: a for a in r.accounts}
    assert set(accts) == {"0000000001", "0000000002", "0000000003", "0000000004", "0000000009"}
    assert accts["0000000001"].identity == "RESIDENT_ID:11010519491231002X"
    assert accts["0000000003"].wallet == "0x" + "ab" * 20 and accts["0000000001"].wallet is None
    assert accts["0000000003"].qualified is False
    assert accts["0000000009"].holder_type == InvestorClass.INSTITUTION
    assert accts["0000000009"].id_type == IdType.USCC


def test_report_has_the_spec_shape(tmp_path):
    r = run(tmp_path, base())
    rep = json.loads(json.dumps(r.report))
    assert list(rep) == ["securities", "accounts", "pledges", "freezes", "reconciliation"]
    assert rep["securities"]["000001"] == {"status": "MIGRATED", "token_id": None, "reasons": []}
    assert rep["accounts"]["0000000001"] == {"status": "MIGRATED", "address": None, "merged_into": None, "reasons": []}
    assert rep["pledges"]["ZY001"] == {"status": "MIGRATED", "reasons": []}
    assert rep["freezes"]["DJ001"] == {"status": "MIGRATED", "reasons": []}
    assert rep["reconciliation"] == {"checked": 0, "mismatches": []}


# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
@pytest.mark.parametrize("headers", ["en", "zh"])
def test_encodings_and_header_languages(tmp_path, encoding, headers):
    t = base()
    r = run(tmp_path, t, encoding=encoding, headers=headers)
    assert not r.rejected()
    assert len(r.securities) == 2 and r.securities[1].total == 50_000_000
    detected = {"utf-8": "utf-8", "utf-8-sig": "utf-8-sig", "gbk": "gb18030", "gb18030": "gb18030"}[encoding]
    assert r.encodings["securities.csv"] == detected
    # a file of ASCII only is UTF-8 and GBK at once: either answer reads it right
    assert r.encodings["pledges.csv"] in (detected, "utf-8")
    x = read_export(tmp_path / "export")
    assert x.securities.header_language == headers
    assert x.securities.rows[0]["name"] == "武汉华信科技股份有限公司"


def test_column_order_free_extra_columns_ignored(tmp_path):
    t = base()
    cols = {name: ["remark"] + [c.name for c in reversed(FILES[name])] + ["经办人"] for name in FILES}
    for rows in t.values():
        for row in rows:
            row["remark"] = "x"
    r = run(tmp_path, t, columns=cols)
    assert not r.rejected() and len(r.securities) == 2


def test_optional_columns_may_be_absent_and_headers_are_normalised(tmp_path):
    t = base()
    t["accounts"][2]["wallet"] = ""
    cols = {"accounts": [c.name for c in FILES["accounts"] if c.name != "wallet"],
            "holdings": [c.name for c in FILES["holdings"] if c.name not in ("paid_units", "lock_until", "insider")]}
    folder = write(tmp_path / "export", t, columns=cols)
    text = (folder / "securities.csv").read_text().replace("code", " Code\u3000", 1)
    (folder / "securities.csv").write_text(text)
    r = clean_folder(folder, as_of=AS_OF)
    assert not r.rejected()
    assert all(h.paid == h.units for s in r.securities for h in s.holdings)


def test_missing_file_is_an_export_error(tmp_path):
    folder = write(tmp_path / "export", base())
    (folder / "pledges.csv").unlink()
    with pytest.raises(ExportError, match=r"^pledges\.csv: missing"):
        read_export(folder)


def test_missing_required_column_names_it(tmp_path):
    cols = {"holdings": [c.name for c in FILES["holdings"] if c.name != "acquired_on"]}
    folder = write(tmp_path / "export", base(), columns=cols)
    with pytest.raises(ExportError) as e:
        read_export(folder)
    assert str(e.value) == "holdings.csv: missing required column acquired_on (取得日期)"
    assert "\n" not in str(e.value)


def test_column_given_twice_and_undecodable_file_are_export_errors(tmp_path):
    cols = {"securities": [c.name for c in FILES["securities"]]}
    folder = write(tmp_path / "export", base(), columns=cols)
    text = (folder / "securities.csv").read_text(encoding="utf-8")
    (folder / "securities.csv").write_text(text.replace("status", "证券代码", 1), encoding="utf-8")
    with pytest.raises(ExportError, match="securities.csv: column code .* twice"):
        read_export(folder)
    folder = write(tmp_path / "export2", base())
    (folder / "freezes.csv").write_bytes(b"freeze_no,\xff\xff\n")
    with pytest.raises(ExportError, match="freezes.csv: neither UTF-8 nor GB18030"):
        read_export(folder)
    (folder / "freezes.csv").write_bytes(b"")
    with pytest.raises(ExportError, match="freezes.csv: empty file"):
        read_export(folder)
    with pytest.raises(ExportError, match="not a folder"):
        read_export(tmp_path / "nowhere")


def test_blank_lines_are_not_rows_and_line_numbers_are_kept(tmp_path):
    folder = write(tmp_path / "export", base())
    p = folder / "holdings.csv"
    lines = p.read_text().splitlines()
    p.write_text("\n".join(lines[:2] + [",,,,,,"] + lines[2:] + [",,,"]) + "\n")
    x = read_export(folder)
    assert x.holdings.blank_lines == 2
    assert [r.line for r in x.holdings.rows] == [2, 4, 5, 6]
    r = clean_folder(folder, as_of=AS_OF)
    assert not r.rejected()
    assert [f.line for f in r.rows if f.file == "holdings.csv"] == [2, 4, 5, 6]


# ------------------------------------------------------------------ text, ids, dates, amounts


def test_norm_strips_every_kind_of_space():
    assert norm(" １２\u3000３\xa0４\u200b５\ufeff\t") == "12345"
    assert norm("ＡＢｃ") == "ABc"


@pytest.mark.parametrize("text, canonical", [
    ("11010519491231002X", "11010519491231002X"),
    ("11010519491231002x", "11010519491231002X"),
    ("130503670401001", "130503196704010016"),
    (ID_C, ID_C),
])
def test_resident_ids(text, canonical):
    assert clean_resident_id(text.upper()) == canonical


def test_spec_id_examples():
    assert upgrade_resident15("130503670401001") == "130503196704010016"
    assert resident_check_char("11010519491231002") == "X"
    assert clean_uscc("91110000600037341L") == "91110000600037341L"


@pytest.mark.parametrize("text, code", [
    ("11010519491231002Y", "BAD_ID_FORMAT"),
    ("110105194912310021", "BAD_ID_CHECKSUM"),
    ("1101051949123100", "BAD_ID_FORMAT"),
    ("4.20106E+17", "EXCEL_MANGLED_ID"),
    ("420106198507091000.0", "EXCEL_MANGLED_ID"),
    ("130503671301001", "BAD_ID_CHECKSUM"),  # 15 digits, month 13
])
def test_bad_resident_ids(text, code):
    with pytest.raises(IdError) as e:
        clean_resident_id(text)
    assert e.value.code == code


def test_resident_id_birth_date_must_be_real():
    first17 = "11010519490230002"  # 30 February
    with pytest.raises(IdError) as e:
        clean_resident_id(first17 + resident_check_char(first17))
    assert e.value.code == "BAD_ID_CHECKSUM"
    future = "11010520990101002"
    with pytest.raises(IdError):
        clean_resident_id(future + resident_check_char(future), AS_OF)


@pytest.mark.parametrize("text, code", [
    ("91110000600037341M", "BAD_ID_CHECKSUM"),
    ("9111000060003734IL", "BAD_ID_FORMAT"),  # I is not in the alphabet
    ("91110000600037341", "BAD_ID_FORMAT"),
    ("9.11100006E+17", "EXCEL_MANGLED_ID"),
])
def test_bad_usccs(text, code):
    with pytest.raises(IdError) as e:
        clean_uscc(text)
    assert e.value.code == code


@pytest.mark.parametrize("text", [
    "2021-03-05", "2021/3/5", "2021/03/05", "2021-3-5", "20210305", "2021年3月5日", "44260", "44260.0",
    "２０２１－０３－０５", " 2021\u3000年3月5日 ", "2021年03月05日",
])
def test_dates_in_every_form(text):
    assert parse_date(text) == DAY(dt.date(2021, 3, 5))


@pytest.mark.parametrize("text", ["", "  ", "1900-01-01", "1900/1/1", "19000101", "1900年1月1日", "1"])
def test_unknown_dates(text):
    assert parse_date(text) is None


@pytest.mark.parametrize("text", ["2021-13-05", "2021-02-29", "03/05/2021", "2021.3.5", "2021-03-05 10:00",
                                  "N/A", "0", "60", "2021-3/5", "21-3-5"])
def test_bad_dates(text):
    with pytest.raises(FieldError) as e:
        parse_date(text)
    assert e.value.code == "BAD_DATE"


def test_excel_serials():
    assert parse_date("61") == DAY(dt.date(1900, 3, 1))
    assert parse_date("45839") == DAY(dt.date(2025, 7, 1))


@pytest.mark.parametrize("text, scale, value", [
    ("1234", 0, 1234),
    ("1,234,567", 0, 1_234_567),
    ("1,234.5", 2, 123_450),
    ("12万", 0, 120_000),
    ("12万股", 0, 120_000),
    ("12万元", 2, 12_000_000),
    ("12.5万", 0, 125_000),
    ("1.23456万份", 2, 1_234_560),
    ("100.00", 0, 100),
    ("１２３\u3000４", 0, 1234),
    ("1200股", 0, 1200),
    ("0.01", 2, 1),
    ("123456789012345678901234567", 0, 123456789012345678901234567),
])
def test_amounts(text, scale, value):
    assert parse_amount(text, scale) == value


@pytest.mark.parametrize("text, scale", [
    ("0", 0), ("-5", 0), ("", 2), ("abc", 0), ("1.5", 0), ("1.234", 2), ("1.23456万", 0), ("1e5", 0),
    ("+5", 0), ("5万万", 0), (".5", 2), (str(2**96), 0), ("0.00", 2),
])
def test_bad_amounts(text, scale):
    with pytest.raises(FieldError) as e:
        parse_amount(text, scale)
    assert e.value.code == "BAD_AMOUNT"


def test_paid_units_may_be_zero():
    assert parse_amount("0", 2, allow_zero=True) == 0


def test_cleaning_absorbs_cosmetic_dirt(tmp_path):
    t = base()
    t["securities"][0].update(code="０００００１", kind=" 股份有限公司 ", status="正\u3000常", total_units="1,000股",
                              registered_on="2020年1月15日", unit_scale="０")
    t["securities"][1].update(total_units="50万元", issuer_id=ISSUER2.lower(), registered_on="43605")
    t["accounts"][0].update(id_number="11010519491231002x", account_no="0000000001\u200b", holder_type="个人",
                            id_type="居民身份证")
    t["accounts"][1].update(id_number=ID_B15)
    t["accounts"][2].update(wallet="0x" + "AB" * 20)
    t["holdings"][0].update(security_code="000001\xa0", units="６００", insider="是")
    t["holdings"][1].update(acquired_on="20210305")
    t["holdings"][3].update(units="20万")
    t["freezes"][0].update(kind="冻结", expires_on="2028/2/28")
    r = run(tmp_path, t)
    assert not r.rejected(), r.rejected()
    clean = run(tmp_path / "clean", base())
    assert r.securities == clean.securities
    accts = {a.account_no: a for a in r.accounts}
    assert accts["0000000002"].id_number == ID_B
    assert accts["0000000003"].wallet == "0x" + "ab" * 20


# ------------------------------------------------------------------ reason codes


def reasons(result, code):
    return result.report["securities"][code]["reasons"]


def account_reasons(result, no):
    return result.report["accounts"][no]["reasons"]


@pytest.mark.parametrize("id_type, id_number, code", [
    ("RESIDENT_ID", "110105194912310021", "BAD_ID_CHECKSUM"),
    ("RESIDENT_ID", "110105194902300020", "BAD_ID_CHECKSUM"),  # 30 Feb (check char irrelevant)
    ("USCC", "91110000600037341M", "BAD_ID_CHECKSUM"),
    ("RESIDENT_ID", "4.20106E+17", "EXCEL_MANGLED_ID"),
    ("RESIDENT_ID", "110105194912310000.0", "EXCEL_MANGLED_ID"),
    ("PASSPORT", "1.23457E+08", "EXCEL_MANGLED_ID"),
    ("RESIDENT_ID", "1101051949123100", "BAD_ID_FORMAT"),
    ("RESIDENT_ID", "", "BAD_ID_FORMAT"),
    ("USCC", "91110000600037341", "BAD_ID_FORMAT"),
    ("PASSPORT", "E1", "BAD_ID_FORMAT"),
])
def test_bad_account_id_rejects_account_and_its_securities(tmp_path, id_type, id_number, code):
    t = base()
    t["accounts"][0].update(id_type=id_type, id_number=id_number)
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert r.report["accounts"]["0000000001"] == {"status": "REJECTED", "address": None, "merged_into": None,
                                                  "reasons": [code]}
    # A rejected account rejects every security it holds (and its pledges).
    assert reasons(r, "000001") == ["UNKNOWN_ACCOUNT"]
    assert r.report["pledges"]["ZY001"] == {"status": "REJECTED", "reasons": ["UNKNOWN_ACCOUNT"]}
    assert r.report["freezes"]["DJ001"] == {"status": "REJECTED", "reasons": ["UNKNOWN_ACCOUNT"]}
    assert sec_report(r, "000002")["status"] == "MIGRATED"
    assert [s.code for s in r.securities] == ["000002"]


def test_bad_wallet_is_bad_id_format(tmp_path):
    t = base()
    t["accounts"][2]["wallet"] = "0x1234"
    r = run(tmp_path, t)
    assert account_reasons(r, "0000000003") == ["BAD_ID_FORMAT"]
    assert reasons(r, "000002") == ["UNKNOWN_ACCOUNT"]


def test_bad_issuer_id(tmp_path):
    t = base()
    t["securities"][0]["issuer_id"] = ISSUER1[:17] + ("0" if ISSUER1[17] != "0" else "1")
    t["securities"][1]["issuer_id"] = "9.11100006E+17"
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["BAD_ISSUER_ID"]
    assert reasons(r, "000002") == ["BAD_ISSUER_ID"]
    assert not r.securities


@pytest.mark.parametrize("units", ["0", "-400", "abc", "400.5", ""])
def test_bad_amount(tmp_path, units):
    t = base()
    t["holdings"][1]["units"] = units
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["BAD_AMOUNT"]  # TOTAL_MISMATCH is not judged on unreadable amounts
    assert sec_report(r, "000001")["status"] == "REJECTED"
    fate = next(f for f in r.rows if f.file == "holdings.csv" and f.line == 3)
    assert fate.status == Status.REJECTED and fate.reasons == ("BAD_AMOUNT",)


def test_too_many_decimals_for_the_scale(tmp_path):
    t = base()
    t["holdings"][2]["units"] = "300000.001"
    t["pledges"][0]["units"] = "100.5"
    r = run(tmp_path, t)
    assert reasons(r, "000002") == ["BAD_AMOUNT"]
    assert reasons(r, "000001") == ["BAD_AMOUNT"]
    assert r.report["pledges"]["ZY001"]["reasons"] == ["BAD_AMOUNT"]


def test_bad_total_amount(tmp_path):
    t = base()
    t["securities"][0]["total_units"] = "-1000"
    assert reasons(run(tmp_path, t), "000001") == ["BAD_AMOUNT"]


@pytest.mark.parametrize("where, column, value", [
    ("holdings", "acquired_on", "2021-02-30"),
    ("holdings", "lock_until", "someday"),
    ("securities", "registered_on", "2020.1.15"),
    ("securities", "registered_on", ""),  # required
    ("pledges", "registered_on", "1900-01-01"),  # required
    ("freezes", "registered_on", "03/01/2025"),
    ("freezes", "expires_on", ""),  # required
])
def test_bad_date(tmp_path, where, column, value):
    t = base()
    t[where][0][column] = value
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["BAD_DATE"]


def test_unknown_acquired_on_is_the_registration_day_with_a_warning(tmp_path):
    t = base()
    t["holdings"][0]["acquired_on"] = "1900-01-01"
    t["holdings"][1]["acquired_on"] = ""
    r = run(tmp_path, t)
    assert not r.rejected()
    assert {h.acquired_day for h in r.securities[0].holdings} == {DAY(dt.date(2020, 1, 15))}
    msgs = [str(w) for w in r.warnings]
    assert sum("acquired_on unknown" in m for m in msgs) == 2
    assert any(m.startswith("holdings.csv:2 000001/0000000001") for m in msgs)


def test_unknown_account(tmp_path):
    t = base()
    t["holdings"][1]["account_no"] = "0000000777"
    t["pledges"][0]["pledgee_account"] = "0000000888"
    r = run(tmp_path, t)
    # account 2 now holds nothing of 000001, so its freeze exceeds its holding too
    assert reasons(r, "000001") == ["UNKNOWN_ACCOUNT", "FREEZE_EXCEEDS_HOLDING"]
    assert r.report["pledges"]["ZY001"]["reasons"] == ["UNKNOWN_ACCOUNT"]
    assert r.report["freezes"]["DJ001"]["reasons"] == ["FREEZE_EXCEEDS_HOLDING"]
    assert "0000000777" not in r.report["accounts"]


@pytest.mark.parametrize("where", ["holdings", "pledges", "freezes"])
def test_unknown_security(tmp_path, where):
    t = base()
    row = dict(t[where][0], security_code="999999")
    if where == "pledges":
        row["pledge_no"] = "ZY999"
    if where == "freezes":
        row["freeze_no"] = "DJ999"
    t[where].append(row)
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert [s.code for s in r.securities] == ["000001", "000002"]  # the others are untouched
    fate = [f for f in r.rows if f.file == f"{where}.csv"][-1]
    assert (fate.status, fate.reasons) == (Status.REJECTED, ("UNKNOWN_SECURITY",))
    if where == "holdings":
        assert r.report["securities"]["999999"] == {"status": "REJECTED", "token_id": None,
                                                    "reasons": ["UNKNOWN_SECURITY"]}
    else:
        assert r.report[where][row[f"{where[:-1]}_no"] if where == "pledges" else "DJ999"]["reasons"] == [
            "UNKNOWN_SECURITY"]


def test_total_mismatch(tmp_path):
    t = base()
    t["securities"][1]["total_units"] = "500000.01"
    r = run(tmp_path, t)
    assert reasons(r, "000002") == ["TOTAL_MISMATCH"]
    fate = next(f for f in r.rows if f.file == "securities.csv" and f.key == "000002")
    assert "500000.00" in fate.details[0] and "500000.01" in fate.details[0]


def test_security_without_holdings_is_a_total_mismatch(tmp_path):
    t = base()
    t["holdings"] = [h for h in t["holdings"] if h["security_code"] != "000002"]
    assert reasons(run(tmp_path, t), "000002") == ["TOTAL_MISMATCH"]


def many_holders(kind: str, n: int, scale: int = 0) -> dict[str, list[dict]]:
    t = base()
    t["securities"][0].update(kind=kind, unit_scale=str(scale), total_units=str(n * 10))
    t["holdings"] = [h for h in t["holdings"] if h["security_code"] != "000001"]
    t["pledges"], t["freezes"] = [], []
    for i in range(n):
        no = f"10{i:08d}"
        rid = synth.resident_id("440305", dt.date(1960, 1, 1) + dt.timedelta(days=i * 37), i + 1)
        t["accounts"].append({"account_no": no, "holder_name": f"持有人{i}", "holder_type": "INDIVIDUAL",
                              "id_type": "RESIDENT_ID", "id_number": rid, "qualified": "Y"})
        t["holdings"].append({"security_code": "000001", "account_no": no, "units": "10",
                              "acquired_on": "2021-01-01"})
    return t


@pytest.mark.parametrize("kind, cap", [("LLC", 50), ("LP_FUND", 50), ("JSC", 200), ("CONTRACT_FUND", 200)])
def test_holder_cap(tmp_path, kind, cap):
    r = run(tmp_path / "at", many_holders(kind, cap))
    assert sec_report(r, "000001")["status"] == "MIGRATED"
    r = run(tmp_path / "over", many_holders(kind, cap + 1))
    assert reasons(r, "000001") == ["HOLDER_CAP_EXCEEDED"]


def test_holder_cap_is_counted_after_merging(tmp_path):
    t = many_holders("LLC", 51)
    # the 51st holder is the first one again, under another account number, with its 15-digit id
    first = t["accounts"][5]["id_number"]
    t["accounts"][-1]["id_number"] = first[:6] + first[8:17]
    r = run(tmp_path, t)
    assert sec_report(r, "000001")["status"] == "MIGRATED"
    sec = r.securities[0]
    assert sec.holder_count == 50 and sum(h.units for h in sec.holdings) == 510
    merged = next(h for h in sec.holdings if h.account_no == "1000000000")
    assert merged.units == 20 and merged.source_accounts == ("1000000000", "1000000050")
    assert r.report["accounts"]["1000000050"] == {"status": "MERGED", "address": None,
                                                  "merged_into": "1000000000", "reasons": []}


def test_paid_exceeds_units(tmp_path):
    t = base()
    t["holdings"][2]["paid_units"] = "300000.01"
    r = run(tmp_path, t)
    assert reasons(r, "000002") == ["PAID_EXCEEDS_UNITS"]


def test_paid_units_outside_llc_are_ignored_with_a_warning(tmp_path):
    t = base()
    t["holdings"][0]["paid_units"] = "300"
    r = run(tmp_path, t)
    assert not r.rejected()
    assert r.securities[0].holdings[0].paid == 600
    assert any("paid_units" in w.message for w in r.warnings)


def test_pledge_exceeds_holding(tmp_path):
    t = base()
    t["pledges"].append(dict(t["pledges"][0], pledge_no="ZY002", units="501", registered_on="2021-06-01"))
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["PLEDGE_EXCEEDS_HOLDING"]
    assert r.report["pledges"]["ZY001"]["reasons"] == ["PLEDGE_EXCEEDS_HOLDING"]
    assert r.report["pledges"]["ZY002"]["reasons"] == ["PLEDGE_EXCEEDS_HOLDING"]


def test_pledges_rank_by_registration(tmp_path):
    t = base()
    t["pledges"].append(dict(t["pledges"][0], pledge_no="ZY002", units="500", registered_on="2021-06-01"))
    r = run(tmp_path, t)
    assert not r.rejected()
    assert [(p.pledge_no, p.rank) for p in r.securities[0].pledges] == [("ZY002", 1), ("ZY001", 2)]


def test_pledge_by_a_non_holder_exceeds_the_holding(tmp_path):
    t = base()
    t["pledges"][0]["pledgor_account"] = "0000000003"  # holds 000002 only
    assert reasons(run(tmp_path, t), "000001") == ["PLEDGE_EXCEEDS_HOLDING"]


def test_freeze_exceeds_holding(tmp_path):
    t = base()
    t["freezes"].append(dict(t["freezes"][0], freeze_no="DJ002", units="301", registered_on="2025-04-01"))
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["FREEZE_EXCEEDS_HOLDING"]
    assert r.report["freezes"]["DJ002"]["reasons"] == ["FREEZE_EXCEEDS_HOLDING"]


def test_queued_and_lapsed_freezes_do_not_count_against_the_holding(tmp_path):
    t = base()
    t["freezes"] += [
        dict(t["freezes"][0], freeze_no="DJ002", units="400", registered_on="2025-04-01", kind="QUEUED"),
        dict(t["freezes"][0], freeze_no="DJ003", units="400", registered_on="2025-05-01", kind="轮候冻结"),
        dict(t["freezes"][0], freeze_no="DJ000", units="400", registered_on="2022-01-01", expires_on="2025-01-01"),
    ]
    r = run(tmp_path, t)
    assert not r.rejected()
    assert [(f.freeze_no, f.kind, f.queue) for f in r.securities[0].freezes] == [
        ("DJ001", FreezeKind.FREEZE, 1), ("DJ002", FreezeKind.QUEUED, 2), ("DJ003", FreezeKind.QUEUED, 3)]
    assert r.report["freezes"]["DJ000"] == {"status": "SKIPPED", "reasons": ["LAPSED_FREEZE"]}


def test_freeze_on_a_holding_that_does_not_exist(tmp_path):
    t = base()
    t["freezes"][0].update(account_no="0000000003", kind="QUEUED")
    assert reasons(run(tmp_path, t), "000001") == ["FREEZE_EXCEEDS_HOLDING"]


def test_lapsed_freeze_is_a_skip(tmp_path):
    t = base()
    t["freezes"][0]["expires_on"] = "2026-06-29"  # the day before as-of
    r = run(tmp_path, t)
    assert r.report["freezes"]["DJ001"] == {"status": "SKIPPED", "reasons": ["LAPSED_FREEZE"]}
    assert sec_report(r, "000001")["status"] == "MIGRATED" and not r.securities[0].freezes
    t["freezes"][0]["expires_on"] = "2026-06-30"  # in force through its expiry day
    r = run(tmp_path / "b", t)
    assert r.report["freezes"]["DJ001"]["status"] == "MIGRATED"
    # as_of decides: a year later it has lapsed
    r = clean_folder(tmp_path / "b" / "export", as_of=DAY(dt.date(2027, 6, 30)))
    assert r.report["freezes"]["DJ001"]["reasons"] == ["LAPSED_FREEZE"]


def test_delisted_is_a_skip_with_its_rows(tmp_path):
    t = base()
    t["securities"][0]["status"] = "摘牌"
    t["holdings"][0]["units"] = "garbage"  # does not matter: nothing of it is written
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert r.report["securities"]["000001"] == {"status": "SKIPPED", "token_id": None, "reasons": ["DELISTED"]}
    assert r.report["pledges"]["ZY001"] == {"status": "SKIPPED", "reasons": ["DELISTED"]}
    assert r.report["freezes"]["DJ001"] == {"status": "SKIPPED", "reasons": ["DELISTED"]}
    assert [f.status for f in r.rows if f.file == "holdings.csv"][:2] == [Status.SKIPPED] * 2
    assert [s.code for s in r.securities] == ["000002"]
    # accounts that only hold the delisted security are not needed on chain
    assert r.report["accounts"]["0000000001"]["status"] == "UNUSED"
    assert r.report["accounts"]["0000000009"]["status"] == "UNUSED"


def test_suspended_is_migrated_as_suspended(tmp_path):
    t = base()
    t["securities"][0]["status"] = "暂停"
    r = run(tmp_path, t)
    assert r.securities[0].status == SecurityStatus.SUSPENDED


@pytest.mark.parametrize("where, index", [
    ("securities", 0), ("accounts", 1), ("holdings", 1), ("pledges", 0), ("freezes", 0)])
def test_duplicate_key(tmp_path, where, index):
    t = base()
    t[where].append(dict(t[where][index]))
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert sec_report(r, "000001")["status"] == "REJECTED"
    dup_fates = [f for f in r.rows if f.file == f"{where}.csv" and not f.inherited and "DUPLICATE_KEY" in f.reasons]
    assert len(dup_fates) == 2  # every occurrence
    if where == "accounts":  # the account is rejected, and with it the securities it holds
        assert r.report["accounts"]["0000000002"]["reasons"] == ["DUPLICATE_KEY"]
        assert reasons(r, "000001") == ["UNKNOWN_ACCOUNT"]
    else:
        assert "DUPLICATE_KEY" in reasons(r, "000001")


def test_duplicate_account_rejects_its_securities(tmp_path):
    t = base()
    t["accounts"].append(dict(t["accounts"][1], holder_name="另一人"))
    r = run(tmp_path, t)
    assert r.report["accounts"]["0000000002"] == {"status": "REJECTED", "address": None, "merged_into": None,
                                                  "reasons": ["DUPLICATE_KEY"]}
    assert reasons(r, "000001") == ["UNKNOWN_ACCOUNT"]


def test_one_wallet_for_two_people_is_a_duplicate_key(tmp_path):
    t = base()
    t["accounts"][3]["wallet"] = t["accounts"][2]["wallet"]
    r = run(tmp_path, t)
    assert account_reasons(r, "0000000003") == ["DUPLICATE_KEY"]
    assert account_reasons(r, "0000000004") == ["DUPLICATE_KEY"]


def test_values_outside_their_list_are_bad_value(tmp_path):
    t = base()
    t["securities"][0]["kind"] = "GmbH"
    t["accounts"][3]["qualified"] = "maybe"
    r = run(tmp_path, t)
    assert reasons(r, "000001") == ["BAD_VALUE"]
    assert account_reasons(r, "0000000004") == ["BAD_VALUE"]
    assert reasons(r, "000002") == ["UNKNOWN_ACCOUNT"]


# ------------------------------------------------------------------ merging and the whole-security rule


def test_same_person_under_two_accounts_is_merged(tmp_path):
    t = base()
    # account 5 is person B again, under the old 15-digit id, holding more of 000001 and some 000002
    t["accounts"].append({"account_no": "0000000005", "holder_name": "李娜", "holder_type": "INDIVIDUAL",
                          "id_type": "居民身份证", "id_number": ID_B15, "qualified": "Y"})
    t["securities"][0]["total_units"] = "1050"
    t["securities"][1]["total_units"] = "500100"
    t["holdings"] += [
        {"security_code": "000001", "account_no": "0000000005", "units": "50", "acquired_on": "2023-01-01",
         "lock_until": "2026-12-31"},
        {"security_code": "000002", "account_no": "0000000005", "units": "100", "acquired_on": "2023-01-01"},
    ]
    t["freezes"][0]["account_no"] = "0000000005"  # a freeze on the duplicate lands on the merged holding
    r = run(tmp_path, t)
    assert_accounted(r, t)
    assert not r.rejected()
    assert r.report["accounts"]["0000000005"] == {"status": "MERGED", "address": None,
                                                  "merged_into": "0000000002", "reasons": []}
    assert r.account_map["0000000005"] == "0000000002"
    (b,) = [a for a in r.accounts if a.account_no == "0000000002"]
    assert b.merged == ("0000000005",) and b.identity == f"RESIDENT_ID:{ID_B}"
    assert "0000000005" not in {a.account_no for a in r.accounts}
    jsc, llc = r.securities
    hb = next(h for h in jsc.holdings if h.account_no == "0000000002")
    assert hb.units == 450 and hb.source_accounts == ("0000000002", "0000000005")
    assert hb.acquired_day == DAY(dt.date(2023, 1, 1))  # latest
    assert hb.lock_until_day == DAY(dt.date(2027, 1, 1))  # latest
    assert jsc.freezes[0].account_no == "0000000002"
    assert next(h for h in llc.holdings if h.account_no == "0000000002").units == 10000
    fates = {f.line: f.status for f in r.rows if f.file == "holdings.csv"}
    assert fates[6] == Status.MERGED and fates[7] == Status.MERGED
    assert r.counts()["accounts.csv"] == {"MIGRATED": 5, "MERGED": 1}


def test_whole_security_rule_lists_every_reason(tmp_path):
    t = base()
    t["securities"][0]["total_units"] = "999"
    t["holdings"][0]["acquired_on"] = "yesterday"
    t["holdings"][1]["account_no"] = "0000000404"
    t["pledges"][0]["units"] = "601"
    t["freezes"].append(dict(t["freezes"][0]))
    t["holdings"].append({"security_code": "000001", "account_no": "0000000004", "units": "1",
                          "acquired_on": "2022-02-02"})
    r = run(tmp_path, t)
    assert_accounted(r, t)
    # (account 2's holding went to an unknown account, so the freezes on account 2 exceed it)
    assert reasons(r, "000001") == ["BAD_DATE", "UNKNOWN_ACCOUNT", "TOTAL_MISMATCH", "PLEDGE_EXCEEDS_HOLDING",
                                    "FREEZE_EXCEEDS_HOLDING", "DUPLICATE_KEY"]
    # nothing of it is written; every row of it is rejected; the other security is untouched
    assert [s.code for s in r.securities] == ["000002"]
    for f in r.rows:
        if f.key.startswith("000001") or f.file in ("pledges.csv", "freezes.csv"):
            assert f.status == Status.REJECTED, f
    # a row rejected only because its security is rejected carries the security's reasons
    sec_row = next(f for f in r.rows if f.file == "securities.csv" and f.key == "000001")
    assert sec_row.reasons == tuple(reasons(r, "000001"))
    (h4,) = [f for f in r.rows if f.file == "holdings.csv" and f.key == "000001/0000000004"]
    assert h4.inherited and h4.reasons == sec_row.reasons
    assert r.report["accounts"]["0000000001"]["status"] == "MIGRATED"  # accounts are sound


def test_unused_accounts(tmp_path):
    t = base()
    t["accounts"].append({"account_no": "0000000077", "holder_name": "周杰", "holder_type": "INDIVIDUAL",
                          "id_type": "PASSPORT", "id_number": "E12345678", "qualified": "N"})
    r = run(tmp_path, t)
    assert r.report["accounts"]["0000000077"]["status"] == "UNUSED"
    assert "0000000077" not in {a.account_no for a in r.accounts}
    assert r.report["accounts"]["0000000009"]["status"] == "MIGRATED"  # a pledgee holding nothing is needed


def test_every_row_counted(tmp_path):
    t = base()
    t["holdings"].append(dict(t["holdings"][0], security_code="123456"))
    t["freezes"].append(dict(t["freezes"][0], freeze_no="DJ002", expires_on="2020-01-01"))
    t["accounts"].append(dict(t["accounts"][0], account_no="", id_number=ID_D))
    r = run(tmp_path, t)
    assert_accounted(r, t)
    counts = r.counts()
    assert sum(sum(c.values()) for c in counts.values()) == sum(len(v) for v in t.values())
    assert r.report["accounts"]["accounts.csv:7"]["reasons"] == ["BAD_VALUE"]


# ------------------------------------------------------------------ generator


@pytest.mark.parametrize("encoding, headers", [("utf-8", "en"), ("utf-8-sig", "zh"), ("gbk", "zh"),
                                               ("gb18030", "mixed")])
def test_generated_clean_export_round_trips(tmp_path, encoding, headers):
    x = synth.generate(seed=11, securities=25, dirty=0.0, as_of=AS_OF, encoding=encoding, headers=headers)
    folder = synth.write_export(x, tmp_path / "g", encoding, headers)
    r = clean_folder(folder, as_of=AS_OF)
    assert not r.rejected(), r.rejected()[:3]
    assert not x.faults
    for sec in r.securities:
        assert sum(h.units for h in sec.holdings) == sec.total
        for h in sec.holdings:
            assert 0 <= h.paid <= h.units
    assert all(a.id_type in (IdType.RESIDENT_ID, IdType.USCC, IdType.PASSPORT, IdType.OTHER) for a in r.accounts)
    counts = r.counts()
    for name, rows in x.tables.items():
        assert sum(counts[f"{name}.csv"].values()) == len(rows)
    kinds = {s.kind for s in r.securities}
    assert kinds == {Kind.LLC, Kind.JSC, Kind.LP_FUND, Kind.CONTRACT_FUND}
    assert any(f.kind == FreezeKind.QUEUED for f in r.freezes)
    assert any(v["reasons"] == ["LAPSED_FREEZE"] for v in r.report["freezes"].values())
    assert r.pledges


@pytest.mark.parametrize("seed, encoding, headers", [(1, "gbk", "zh"), (2, "utf-8", "en"), (3, "utf-8-sig", "mixed")])
def test_generated_dirty_export_every_row_and_fault_accounted(tmp_path, seed, encoding, headers):
    x = synth.generate(seed=seed, securities=60, dirty=0.4, as_of=AS_OF, encoding=encoding, headers=headers)
    folder = synth.write_export(x, tmp_path / "g", encoding, headers)
    r = clean_folder(folder, as_of=AS_OF)
    counts = r.counts()
    for name, rows in x.tables.items():
        assert sum(counts[f"{name}.csv"].values()) == len(rows)
        assert len([f for f in r.rows if f.file == f"{name}.csv"]) == len(rows)
    assert {f.reason for f in x.faults} == set(synth.FAULTS)  # 24 dirty securities cover every code
    for f in x.faults:
        entry = r.report[f.section][f.key]
        assert entry["status"] == "REJECTED" and f.reason in entry["reasons"], (f, entry)
        if f.security:
            sec = r.report["securities"][f.security]
            assert sec["status"] == "REJECTED" and f.also in sec["reasons"], (f, sec)
    # only the injected faults reject: every rejected security is a fault target
    targets = {f.key for f in x.faults if f.section == "securities"} | {f.security for f in x.faults if f.security}
    rejected = {k for k, v in r.report["securities"].items() if v["status"] == "REJECTED"}
    assert rejected == targets
    for orig, dup in x.merged_pairs:
        assert r.report["accounts"][dup]["merged_into"] == orig or r.report["accounts"][orig]["merged_into"] == dup


def test_generator_is_deterministic(tmp_path):
    a = synth.write_export(synth.generate(5, 15, 0.2, AS_OF, "gbk", "zh"), tmp_path / "a", "gbk", "zh")
    b = synth.write_export(synth.generate(5, 15, 0.2, AS_OF, "gbk", "zh"), tmp_path / "b", "gbk", "zh")
    c = synth.write_export(synth.generate(6, 15, 0.2, AS_OF, "gbk", "zh"), tmp_path / "c", "gbk", "zh")
    for name in [*FILES, "synth-manifest"]:
        ext = "json" if name == "synth-manifest" else "csv"
        assert (a / f"{name}.{ext}").read_bytes() == (b / f"{name}.{ext}").read_bytes()
    assert (a / "holdings.csv").read_bytes() != (c / "holdings.csv").read_bytes()


def test_generator_ids_are_valid_and_names_chinese():
    x = synth.generate(3, 10, 0.0, AS_OF)
    for acct in x.tables["accounts"]:
        if acct["id_type"] == "RESIDENT_ID":
            assert clean_resident_id(acct["id_number"], AS_OF) == acct["id_number"]
            assert all("\u4e00" <= ch <= "\u9fff" for ch in acct["holder_name"])
        elif acct["id_type"] == "USCC":
            assert clean_uscc(acct["id_number"]) == acct["id_number"]
    for sec in x.tables["securities"]:
        assert clean_uscc(sec["issuer_id"]) == sec["issuer_id"]


def test_generator_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    assert synth.main(["--out", str(out), "--seed", "1", "--securities", "8", "--dirty", "0.1",
                       "--encoding", "gbk", "--headers", "zh", "--as-of", "2026-06-30"]) == 0
    assert "8 securities" in capsys.readouterr().out or (out / "securities.csv").exists()
    x = read_export(out)
    assert x.securities.encoding == "gb18030" and x.securities.header_language == "zh"
    manifest = json.loads((out / "synth-manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["as_of"] == "2026-06-30"
    r = clean_folder(out, as_of=AS_OF)
    assert sum(sum(c.values()) for c in r.counts().values()) == sum(manifest["rows"].values())


def test_progress_is_reported(tmp_path):
    seen = []
    clean_folder(write(tmp_path / "export", base()), as_of=AS_OF,
                 progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [s for s, _, _ in seen]
    assert stages[0] == "securities" and stages[-1] == "freezes"
    assert ("holdings", 4, 4) in seen


def test_duplicate_accounts_that_hold_nothing__primary_unused_duplicate_merged_without_address(tmp_path):
    """Found at province scale: a merged pair with no holding. The duplicate is MERGED into
    an UNUSED primary; neither gets an address, and the report can still be filled."""
    from regchain import migrate

    t = base()
    # the bank's duplicate: same USCC under another number, neither account holds anything
    t["accounts"] += [dict(t["accounts"][4], account_no="0000000019")]
    t["pledges"] = []
    r = run(tmp_path, t)
    assert r.report["accounts"]["0000000009"]["status"] == "UNUSED"
    assert r.report["accounts"]["0000000019"] == {"status": "MERGED", "address": None,
                                                  "merged_into": "0000000009", "reasons": []}
    plan = migrate.Plan.build(r, migrate.Identities(b"s" * 32))
    report = migrate.build_report(r, plan.address, {s.code: i + 1 for i, s in enumerate(r.securities)}, None)
    assert report["accounts"]["0000000019"]["address"] is None
    assert report["accounts"]["0000000001"]["address"] == plan.address["0000000001"]


# ------------------------------------------------------------------ the pipeline's report and identities


def test_run__dry_run__report_built_once_from_the_verdicts_and_plan(tmp_path):
    from regchain import migrate

    folder = write(tmp_path / "export", base())
    done = migrate.run(folder, migrate.Identities(b"s" * 32), as_of=AS_OF)
    assert done.stats is None and done.reconciliation is None and done.mismatches == []
    assert set(done.seconds) == {"clean_s", "plan_s"}
    assert done.report == migrate.build_report(done.cleaned, done.plan.address)
    assert done.report["securities"]["000001"] == {"status": "MIGRATED", "token_id": None, "reasons": []}
    assert done.report["accounts"]["0000000001"]["address"] == done.plan.address["0000000001"]
    assert done.report["reconciliation"] == {"checked": 0, "mismatches": []}


def test_build_report__token_ids_and_reconciliation__a_new_document_verdicts_untouched(tmp_path):
    r = run(tmp_path, base())
    verdicts = json.loads(json.dumps(r.verdicts))
    from regchain.legacy.report import build_report

    rec = {"checked": 7, "mismatches": ["000001: total supply 1 on chain, 1000 in the source"]}
    report = build_report(r, {"0000000001": "0x" + "11" * 20}, {"000001": 3, "000002": 4}, rec)
    report["securities"]["000001"]["reasons"].append("EDITED")
    report["reconciliation"]["mismatches"].clear()

    assert r.verdicts == verdicts and "token_id" not in r.verdicts["securities"]["000001"]
    assert build_report(r, {}, {"000001": 3}, rec)["securities"]["000001"] == {
        "status": "MIGRATED", "token_id": 3, "reasons": []}
    assert build_report(r)["reconciliation"] == {"checked": 0, "mismatches": []}
    assert rec["mismatches"] == ["000001: total supply 1 on chain, 1000 in the source"]
    assert report["accounts"]["0000000001"]["address"] == "0x" + "11" * 20
    assert report["accounts"]["0000000002"]["address"] is None  # no address given for it
    assert r.report == build_report(r)


def test_canonical_identity__as_typed_on_a_command_line__the_migrated_accounts_identity(tmp_path):
    from regchain.identities import canonical_identity

    t = base()
    t["accounts"][1]["id_number"] = ID_B15  # the old 15-digit id, upgraded by the cleaning
    (b,) = [a for a in run(tmp_path, t).accounts if a.account_no == "0000000002"]
    assert canonical_identity(" resident_id ", f" {ID_B15} ") == b.identity == f"RESIDENT_ID:{ID_B}"
    assert canonical_identity("USCC", BANK.lower()) == f"USCC:{BANK}"


def test_canonical_identity__bad_number__id_error_with_the_reason_code():
    from regchain.identities import canonical_identity

    with pytest.raises(IdError) as e:
        canonical_identity("RESIDENT_ID", ID_A[:-1] + "1")
    assert e.value.code == "BAD_ID_CHECKSUM"


def test_case_hash_of__spaces_and_full_width__the_migrations_hash():
    from regchain.identities import case_hash, case_hash_of

    assert case_hash_of(" （2025）京0105执1234号 ") == case_hash("(2025)京0105执1234号")
    with pytest.raises(ValueError, match="empty case number"):
        case_hash_of(" \u3000 ")
