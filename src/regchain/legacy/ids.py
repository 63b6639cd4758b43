"""Identity numbers of the legacy export: GB 11643 resident ids, GB 32100 unified
social credit codes (USCC), and the spreadsheet damage the spec rejects.

Pure functions on already cleaned text (NFKC, no white space, upper case, see
`regchain.legacy.clean.norm_id`). The checkers raise `IdError` carrying the spec's
reason code; the generator (`regchain.legacy.synth`) uses the same check-character
functions to make valid numbers.
"""

from __future__ import annotations

import datetime as dt
import re

RESIDENT_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_CHECK = "10X98765432"

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_VALUE = {c: i for i, c in enumerate(USCC_ALPHABET)}
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# GB 11714 organisation code (characters 9..17 of a USCC); only the generator uses it.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)

_RESIDENT18 = re.compile(r"\d{17}[\dX]")
_RESIDENT15 = re.compile(r"\d{15}")
_USCC = re.compile(f"[{USCC_ALPHABET}]{{18}}")
# Excel's damage: scientific notation (4.20106E+17, 4.2E17) or a float rendering of
# an integer (420106199001011234.0). Checked before any format rule.
_EXCEL = re.compile(r"\d+(\.\d*)?E[+-]?\d+|\d+\.0+")


class IdError(ValueError):
    """An identity number that fails; `code` is the spec's reason code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def resident_check_char(first17: str) -> str:
    """GB 11643 check character of the first 17 digits."""
    total = sum(int(a) * w for a, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    return RESIDENT_CHECK[total % 11]


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of the first 17 USCC characters."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    """GB 11714 check character of an 8-character organisation code."""
    total = sum(USCC_VALUE[c] * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def is_excel_mangled(text: str) -> bool:
    return _EXCEL.fullmatch(text) is not None


def _birth_date(yyyymmdd: str, as_of: dt.date | None) -> dt.date:
    try:
        born = dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        raise IdError("BAD_ID_CHECKSUM", f"impossible birth date {yyyymmdd}") from None
    if born.year < 1900 or (as_of is not None and born > as_of):
        raise IdError("BAD_ID_CHECKSUM", f"impossible birth date {yyyymmdd}")
    return born


def upgrade_resident15(id15: str) -> str:
    """A pre-1999 15-digit id as its 18-digit form: `19` before the two-digit
    year, check character appended (`130503670401001` → `130503196704010016`)."""
    first17 = id15[:6] + "19" + id15[6:]
    return first17 + resident_check_char(first17)


def clean_resident_id(text: str, as_of: dt.date | None = None) -> str:
    """The canonical 18-character resident id, or IdError.

    15 digits are upgraded; the birth date must be a real calendar date, not
    before 1900 and (when `as_of` is given) not in the future.
    """
    if is_excel_mangled(text):
        raise IdError("EXCEL_MANGLED_ID", f"id {text!r} was turned into a number by a spreadsheet")
    if _RESIDENT15.fullmatch(text):
        _birth_date("19" + text[6:12], as_of)
        return upgrade_resident15(text)
    if not _RESIDENT18.fullmatch(text):
        raise IdError("BAD_ID_FORMAT", f"resident id {text!r} is not 18 characters (17 digits + digit or X) or 15 digits")
    if resident_check_char(text[:17]) != text[17]:
        raise IdError("BAD_ID_CHECKSUM", f"resident id {text!r}: check character should be {resident_check_char(text[:17])}")
    _birth_date(text[6:14], as_of)
    return text


def clean_uscc(text: str) -> str:
    """The USCC as given if it is 18 characters of the USCC alphabet with a right
    check character, else IdError."""
    if is_excel_mangled(text):
        raise IdError("EXCEL_MANGLED_ID", f"id {text!r} was turned into a number by a spreadsheet")
    if not _USCC.fullmatch(text):
        raise IdError("BAD_ID_FORMAT", f"USCC {text!r} is not 18 characters over {USCC_ALPHABET}")
    if uscc_check_char(text[:17]) != text[17]:
        raise IdError("BAD_ID_CHECKSUM", f"USCC {text!r}: check character should be {uscc_check_char(text[:17])}")
    return text


_PASSPORT = re.compile(r"[A-Z0-9]{5,20}")
_OTHER = re.compile(r"[A-Z0-9][A-Z0-9\-]{0,39}")


def clean_id(id_type: str, text: str, as_of: dt.date | None = None) -> str:
    """Canonical id number for `id_type` (RESIDENT_ID, USCC, PASSPORT, OTHER).

    PASSPORT: 5-20 letters/digits; OTHER: 1-40 letters, digits or `-` (the spec
    gives no rule for either; these bounds only catch obvious garbage).
    """
    if id_type == "RESIDENT_ID":
        return clean_resident_id(text, as_of)
    if id_type == "USCC":
        return clean_uscc(text)
    if is_excel_mangled(text):
        raise IdError("EXCEL_MANGLED_ID", f"id {text!r} was turned into a number by a spreadsheet")
    pattern = _PASSPORT if id_type == "PASSPORT" else _OTHER
    if not pattern.fullmatch(text):
        raise IdError("BAD_ID_FORMAT", f"{id_type} id {text!r} has the wrong length or characters")
    return text


def identity_text(id_type: str, id_number: str) -> str:
    """A holder's canonical identity, e.g. `RESIDENT_ID:11010519491231002X`, from an id type
    and an already cleaned number (`clean_id`): the text the operator's secret salts and
    hashes (regchain.identities) and derives custody addresses from."""
    return f"{id_type}:{id_number}"
