"""Validation of a snapshot before it is sealed, stored or anchored.

Two layers, both must be empty for a snapshot to go on:

1. ``schema_errors``: the model's JSON Schema (``schema/model-2.0.0.json``) under draft-06
   **with format checking** (``date`` and ``date-time`` registered here: the draft-06 checker of
   ``jsonschema`` has no ``date`` and ignores formats unless given a checker). Errors under a
   ``oneOf`` are walked down to their leaves, dropping the other branches'
   ``'X' is a required property`` at ``/body``.
2. ``own_errors``: what the schema cannot check: exactly one body key and the one matching
   ``header.content.type`` (none on a delete); exactly one subject part; the containers regchain
   always fills; no keys the model does not define (``header.seal`` and ``header.remark`` apart);
   ``timestamp`` in seconds (< 10^10); references of the form ``<object_id>/<version>`` that
   resolve; versions without gaps.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from functools import lru_cache
from importlib import resources
from typing import Callable

import fastjsonschema
import jsonschema

SCHEMA_FILE = "model-2.0.0.json"
PROTOCOL = "区域性股权市场跨链业务数据模型"
MODEL_VERSION = "2.0.0"

# header.content.type -> body key (the model's seven alternatives)
BODY_KEY = {
    "subject": "subject_information",
    "account": "account_information",
    "product": "product_information",
    "transactionreport": "transaction_report_information",
    "registration": "registration_information",
    "settlement": "capital_settlement_information",
    "infodisclosure": "disclosure_approval_information",
}
TYPE_OF_BODY = {v: k for k, v in BODY_KEY.items()}

# Containers regchain always fills (paths under the body key); a registration is one of two kinds.
ALWAYS = {
    "subject": [("basic_information_subject", "general_information_subject")],
    "account": [("basic_account_information",)],
    "product": [("essential_information", "basic_product_information")],
    "transactionreport": [("basic_transaction_information", "basic_information_remark"),
                          ("basic_transaction_information", "trading_asset_information")],
    "settlement": [("basic_information_capital_settlement",)],
    "registration": [("register_basic_information",)],
}
RIGHTS_ALWAYS = [("registration_rights", "basic_information_rights", "basic_information_description"),
                 ("registration_rights", "basic_information_rights", "description_status_information")]
ROSTER_ALWAYS = [("roll_records", "basic_information_roster")]
SUBJECT_PARTS = ("organization_subject_information", "personal_subject_information")
HEADER_EXTRAS = {"seal", "remark"}  # JR/T 0314 header members the schema does not define

REF = re.compile(r"(?P<id>[^/]{1,128})/(?P<version>0|[1-9][0-9]*)")
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")

FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks("date", raises=ValueError)
def is_date(value) -> bool:
    return not isinstance(value, str) or (
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) is not None and bool(date.fromisoformat(value)))


@FORMATS.checks("date-time", raises=ValueError)
def is_date_time(value) -> bool:
    return not isinstance(value, str) or (
        RFC3339.fullmatch(value) is not None and bool(datetime.fromisoformat(value.replace("Z", "+00:00"))))


@lru_cache(maxsize=1)
def schema() -> dict:
    text = resources.files("regchain.supervise").joinpath("schema", SCHEMA_FILE).read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=2)
def validator(format_checking: bool = True) -> jsonschema.Draft6Validator:
    return jsonschema.Draft6Validator(schema(), format_checker=FORMATS if format_checking else None)


def _path(error) -> str:
    return "/" + "/".join(map(str, error.absolute_path))


def _message(error) -> str:
    """The error's message; a oneOf failure in the spec's words (jsonschema repeats the whole instance)."""
    if error.validator == "oneOf":
        return "valid under more than one alternative" if not error.context else "matches no alternative"
    return error.message[:200]


def _closed(node):
    """A copy of a schema node where every object with properties admits no other keys (the
    alternatives of a oneOf count as properties of their parent; header.seal and header.remark are
    admitted): the compiled fast path then also refuses what ``unknown_keys`` names. Each ``$ref``
    is replaced by its definition (the model's two, ``Document`` and ``CurrencyType``, refer to
    nothing): fastjsonschema calls a referenced definition with its path built by
    ``str.format(**locals())`` of a function of several hundred locals, ~25 µs a call, every call,
    a tenth of a snapshot's validation where documents are listed."""
    if isinstance(node, list):
        return [_closed(n) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:  # draft-06: the keys beside a $ref are ignored
        return _closed(_resolve_ref(node))
    out = {k: _closed(v) for k, v in node.items()}
    if out.get("type") == "object" and "properties" in out:
        props = dict(out["properties"])
        for alt in out.get("oneOf", []):
            for key in alt.get("properties", {}):
                props.setdefault(key, {})
        out["properties"] = props
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=None)
def _compiled(body_key: str):
    """The schema with only ``body_key``'s body alternative, closed (``_closed``) and compiled
    (fastjsonschema), formats checked.

    For a body with exactly one key K, the model's seven-way ``oneOf`` holds exactly when K's own
    alternative holds (every other alternative requires its own key), so the verdict equals the full
    schema's plus ``unknown_keys``; tests/test_supervise_validate.py checks they agree."""
    sub = dict(schema())
    header = dict(schema()["properties"]["header"])
    header["properties"] = {**header["properties"], **{k: {} for k in HEADER_EXTRAS}}
    sub["properties"] = {"header": header,
                         "body": next(a for a in schema()["properties"]["body"]["oneOf"] if a["required"] == [body_key])}
    return fastjsonschema.compile(_closed(sub), formats={"date": lambda v: is_date(v),
                                                         "date-time": lambda v: is_date_time(v)})


def _fast_valid(obj) -> bool:
    """True if ``obj`` surely validates (one known body key, its alternative holds); False: ask jsonschema."""
    body = obj.get("body") if isinstance(obj, dict) else None
    if not isinstance(body, dict) or len(body) != 1 or next(iter(body)) not in TYPE_OF_BODY:
        return False
    try:
        _compiled(next(iter(body)))(obj)
        return True
    except (fastjsonschema.JsonSchemaException, ValueError):
        return False


def schema_errors(obj, *, format_checking: bool = True, fast: bool = True) -> list[tuple[str, str]]:
    """(path, message) leaf errors of the schema; empty if ``obj`` validates. A snapshot with one body
    key is first checked by the compiled validator; the errors always come from jsonschema."""
    if fast and format_checking and _fast_valid(obj):
        return []

    def walk(e):
        if e.context:
            for c in e.context:
                yield from walk(c)
        elif not (list(e.absolute_path) == ["body"] and e.validator == "required"):
            yield _path(e), _message(e)

    top = list(validator(format_checking).iter_errors(obj))
    leaves = sorted({x for e in top for x in walk(e)})
    return leaves or sorted({(_path(e), _message(e)) for e in top})


# ---------------------------------------------------------------- the checks the schema cannot make


def _resolve_ref(node: dict) -> dict:
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        return schema()["definitions"][name]
    return node


def _properties(node: dict) -> dict | None:
    """Properties a schema node defines for an object (oneOf alternatives merged); None: any."""
    node = _resolve_ref(node)
    if node.get("type") == "array":
        node = _resolve_ref(node.get("items", {}))
    props = dict(node.get("properties") or {})
    for alt in node.get("oneOf", []):
        props.update(alt.get("properties") or {})
    if not props and node.get("type") not in ("object", None):
        return None
    return props if props or node.get("type") == "object" else None


def unknown_keys(value, node: dict, path: str = "") -> list[tuple[str, str]]:
    """Keys of ``value`` the model does not define under ``node`` (a misspelt key passes the schema)."""
    out = []
    node = _resolve_ref(node)
    if isinstance(value, list):
        items = node.get("items") if node.get("type") == "array" else None
        if items is not None:
            for i, v in enumerate(value):
                out += unknown_keys(v, items, f"{path}/{i}")
        return out
    if not isinstance(value, dict):
        return out
    props = _properties(node)
    if props is None or (not props and node.get("type") == "object" and "properties" not in node
                         and not node.get("oneOf")):
        return out  # an object the model leaves open (infodisclosure items)
    for key, v in value.items():
        if key not in props:
            out.append((f"{path}/{key}", f"'{key}' is not a key of the model"))
        else:
            out += unknown_keys(v, props[key], f"{path}/{key}")
    return out


def _get(obj, path: tuple):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def references(value, path: str = "") -> list[tuple[str, str]]:
    """(path, reference) of every ``…_ref`` string in ``value``."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k.endswith("_ref") and isinstance(v, str):
                out.append((f"{path}/{k}", v))
            else:
                out += references(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += references(v, f"{path}/{i}")
    return out


def own_errors(obj, *, resolves: Callable[[str, int], bool] | None = None,
               latest_version: Callable[[str], int | None] | None = None,
               keys_checked: bool = False, message: bytes | None = None) -> list[tuple[str, str]]:
    """The spec's own checks (§1.4 item 2). ``resolves(object_id, version)`` says whether a
    referenced snapshot is stored (or written earlier in the same step); ``latest_version(object_id)``
    gives the newest stored version (None: the object is new). Without them those checks are skipped.
    ``message`` (``obj``'s canonical bytes, without ``resolves``): the references' form is read from
    them, and the body is walked only to name the path of a malformed one."""
    errors: list[tuple[str, str]] = []
    if not isinstance(obj, dict):
        return [("/", "a snapshot is a JSON object")]
    content = _get(obj, ("header", "content")) or {}
    typ, op = content.get("type"), content.get("operation")
    object_id, version, ts = content.get("object_id"), content.get("version"), content.get("timestamp")
    header = obj.get("header") or {}
    if not keys_checked:
        errors += unknown_keys({k: v for k, v in header.items() if k not in HEADER_EXTRAS},
                               schema()["properties"]["header"], "/header")
        errors += unknown_keys({k: v for k, v in obj.items() if k != "header"}, schema())
    if isinstance(ts, int) and not 0 <= ts < 10**10:
        errors.append(("/header/content/timestamp", f"{ts} is not a Unix time in seconds"))
    if isinstance(object_id, str) and ("/" in object_id or not object_id.isascii()):
        errors.append(("/header/content/object_id", f"'{object_id}' must be ASCII without '/'"))
    if isinstance(version, int) and version < 0:
        errors.append(("/header/content/version", f"{version} is negative"))
    if op == "create" and version != 0:
        errors.append(("/header/content/version", f"a create is version 0, not {version}"))
    if op in ("update", "delete") and version == 0:
        errors.append(("/header/content/version", f"an {op} cannot be version 0"))
    errors += _version_gap(object_id, version, latest_version)
    if op == "delete":
        if "body" in obj:
            errors.append(("/body", "a delete snapshot has no body"))
        return errors
    body = obj.get("body")
    if not isinstance(body, dict):
        errors.append(("/body", "a create or update snapshot has a body"))
        return errors
    keys = list(body)
    if len(keys) != 1:
        errors.append(("/body", f"exactly one body key, not {len(keys)} ({', '.join(keys)})"))
    if typ in BODY_KEY and BODY_KEY[typ] not in body:
        errors.append(("/body", f"header.content.type '{typ}' needs body key '{BODY_KEY[typ]}'"))
        return errors
    inner = body.get(BODY_KEY.get(typ, ""), {})
    base = f"/body/{BODY_KEY.get(typ)}"
    wanted = list(ALWAYS.get(typ, []))
    if typ == "registration":
        kind = _get(inner, ("register_basic_information", "register_object_type"))
        wanted += RIGHTS_ALWAYS if kind == 1 else ROSTER_ALWAYS if kind == 2 else []
        if "registration_rights" in inner and "roll_records" in inner:
            errors.append((base, "a registration carries either registration_rights or roll_records"))
    for path in wanted:
        if not isinstance(_get(inner, path), dict):
            errors.append((base + "/" + "/".join(path), "container regchain always fills is missing"))
    if typ == "subject":
        parts = [p for p in SUBJECT_PARTS if p in inner]
        if len(parts) != 1:
            errors.append((base, f"a subject has exactly one of {' / '.join(SUBJECT_PARTS)} (has {len(parts)})"))
    if resolves is None and message is not None and all(
            REF.fullmatch(_ref_text(raw)) for raw in _REF_MEMBER.findall(message)):
        return errors  # every reference well-formed (the pattern finds the walk's, and any in the header)
    for path, ref in references(body, "/body"):
        m = REF.fullmatch(ref)
        if m is None:
            errors.append((path, f"'{ref}' is not <object_id>/<version>"))
        else:
            errors += _unresolved(path, ref, m, resolves)
    return errors


def _version_gap(object_id, version, latest_version) -> list[tuple[str, str]]:
    if latest_version is None or not isinstance(object_id, str) or not isinstance(version, int):
        return []
    latest = latest_version(object_id)
    expected = 0 if latest is None else latest + 1
    if version != expected and not (latest is not None and version <= latest):
        return [("/header/content/version", f"version {version} of {object_id} leaves a gap (newest stored: {latest})")]
    return []


def _unresolved(path: str, ref: str, m, resolves) -> list[tuple[str, str]]:
    if resolves is not None and not resolves(m.group("id"), int(m.group("version"))):
        return [(path, f"'{ref}' does not resolve to a stored snapshot")]
    return []


# a member whose key ends in _ref and whose value is a string, in canonical JSON bytes: inside a string
# a quote is escaped, so `_ref":"` is a key's end (any key with that suffix: the walk's set of values)
_REF_MEMBER = re.compile(rb'_ref":"((?:[^"\\]|\\.)*)"')


def _ref_text(raw: bytes) -> str:
    """A string member's value as ``_REF_MEMBER`` finds it (JSON-escaped bytes) as text."""
    return json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode()


def state_errors(obj: dict, *, resolves: Callable[[str, int], bool],
                 latest_version: Callable[[str], int | None], body_bytes: bytes | None = None) -> list[tuple[str, str]]:
    """The checks that need the store's state (versions without gaps, references that resolve), for
    a snapshot whose ``content_errors`` are checked elsewhere: the generator makes these in its own
    process and the rest in the sealing workers (``seal.Sealer``); together they are ``errors``.
    ``body_bytes`` (the body's canonical bytes): its references are read from them, and the body is
    walked only to name the path of one that does not resolve."""
    content = _get(obj, ("header", "content")) or {}
    errors = _version_gap(content.get("object_id"), content.get("version"), latest_version)
    if body_bytes is not None:
        for raw in _REF_MEMBER.findall(body_bytes):
            m = REF.fullmatch(_ref_text(raw))
            if m is not None and not resolves(m.group("id"), int(m.group("version"))):
                break
        else:
            return errors
    body = obj.get("body")
    if content.get("operation") != "delete" and isinstance(body, dict):
        for path, ref in references(body, "/body"):
            m = REF.fullmatch(ref)
            if m is not None:
                errors += _unresolved(path, ref, m, resolves)
    return errors


def errors(obj, **kwargs) -> list[tuple[str, str]]:
    """Schema errors, then the spec's own checks; empty if the snapshot may be stored."""
    if _fast_valid(obj):  # the closed schema holds: no schema errors and no unknown keys
        return own_errors(obj, keys_checked=True, **kwargs)
    return schema_errors(obj, fast=False) + own_errors(obj, **kwargs)


def content_errors(obj, message: bytes | None = None) -> list[tuple[str, str]]:
    """``errors`` without the checks that need the store's state (see ``state_errors``);
    ``message``: ``obj``'s canonical bytes (see ``own_errors``)."""
    return errors(obj, message=message)


def describe(errs: list[tuple[str, str]], limit: int = 3) -> str:
    """One line naming the first errors."""
    text = "; ".join(f"{p}: {m}" for p, m in errs[:limit])
    return text + (f" (+{len(errs) - limit} more)" if len(errs) > limit else "")
