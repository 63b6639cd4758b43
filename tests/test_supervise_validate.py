"""The model's schema and regchain's own checks against the field reference's examples (§5.2, §5.3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from regchain.supervise import validate

EXAMPLES = json.loads((Path(__file__).parent / "data" / "supervise_examples.json").read_text("utf-8"))
BODY = "/body/"


def ex(name: str) -> dict:
    return copy.deepcopy(EXAMPLES[name])


def inner(obj: dict) -> dict:
    return next(iter(obj["body"].values()))


def paths(errs) -> set[tuple[str, str]]:
    return {(p.rsplit("/", 1)[-1], m) for p, m in errs}


# ---------------------------------------------------------------- §5.2: every valid example


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_schema_errors__spec_example__none(name):
    assert validate.schema_errors(ex(name)) == []
    assert validate.schema_errors(ex(name), format_checking=False) == []


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_own_errors__spec_example__none(name):
    assert validate.own_errors(ex(name)) == []


def test_examples__count__fifteen_objects_and_a_delete():
    assert len(EXAMPLES) == 16 and "envelope-delete" in EXAMPLES


# ---------------------------------------------------------------- §5.3: the objects that must fail


def account_bad():
    o = ex("account-minimal")
    b = o["body"]["account_information"]["basic_account_information"]
    b["account_purpose"], b["account_status"] = 1, 0
    return o


def product_bad():
    o = ex("product-minimal")
    b = o["body"]["product_information"]["essential_information"]["basic_product_information"]
    b["product_scale_currency"] = 156
    del b["product_issuer_name"]
    return o


def registration_bad():
    o = ex("registration-minimal")
    d = o["body"]["registration_information"]["registration_rights"]["basic_information_rights"][
        "basic_information_description"]
    del d["register_asset_currency"]
    d["register_subject_type"] = 0
    return o


def registration_badformat():
    o = ex("registration-minimal")
    o["body"]["registration_information"]["registration_rights"]["basic_information_rights"][
        "basic_information_description"]["register_time"] = "2024-06-03 09:45:00"
    return o


def transactionreport_bad():
    o = ex("transactionreport-rich")
    t = o["body"]["transaction_report_information"]
    t["transaction_information"]["transaction_content_information"]["transaction_settlement_quantity"] = 250000.5
    del t["basic_transaction_information"]["basic_information_remark"]["transaction_method"]
    return o


def settlement_bad():
    o = ex("settlement-minimal")
    b = o["body"]["capital_settlement_information"]["basic_information_capital_settlement"]
    b["settlement_currency"], b["settlement_value"] = "CNY", "400000.00"
    return o


def subject_bad():
    o = ex("subject-person-minimal")
    o["body"]["subject_information"]["organization_subject_information"] = {
        "basic_information_of_enterprise": {"basic_information_description": {"subject_company_name": "张三"}}}
    return o


FAILING = {
    "account-bad": (account_bad, {
        ("account_purpose", "1 is not of type 'array'"),
        ("account_status", "0 is not one of [1, 2, 3, 4]")}),
    "product-bad": (product_bad, {
        ("basic_product_information", "'product_issuer_name' is a required property"),
        ("product_scale_currency", "156 is not of type 'string'"),
        ("product_scale_currency", "156 is not one of ['156', '840', '036', '978', '276', '344']")}),
    "registration-bad": (registration_bad, {
        ("basic_information_description", "'register_asset_currency' is a required property"),
        ("register_subject_type", "0 is not one of [1, 2]")}),
    "transactionreport-bad": (transactionreport_bad, {
        ("basic_information_remark", "'transaction_method' is a required property"),
        ("transaction_settlement_quantity", "250000.5 is not of type 'integer'")}),
    "settlement-bad": (settlement_bad, {
        ("settlement_currency", "'CNY' is not one of ['156', '840', '036', '978', '276', '344']"),
        ("settlement_value", "'400000.00' is not of type 'number'")}),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_schema_errors__spec_failing_case__names_the_leaves(case):
    build, expected = FAILING[case]
    errs = validate.schema_errors(build())
    assert paths(errs) == expected
    assert all(p.startswith(BODY) for p, _ in errs)
    assert validate.schema_errors(build(), format_checking=False)  # fails both ways


def test_schema_errors__registration_badformat__fails_only_with_format_checking():
    obj = registration_badformat()
    assert validate.schema_errors(obj, format_checking=False) == []
    assert paths(validate.schema_errors(obj)) == {("register_time", "'2024-06-03 09:45:00' is not a 'date-time'")}


def test_schema_errors__subject_with_two_valid_parts__more_than_one_alternative():
    errs = validate.schema_errors(subject_bad())
    assert errs == [("/body/subject_information", "valid under more than one alternative")]


def test_quirk_subject_one_part_invalid__passes_schema__own_check_refuses():
    obj = subject_bad()
    del obj["body"]["subject_information"]["personal_subject_information"]["personal_subject_basic_information"][
        "subject_id_number"]
    assert validate.schema_errors(obj) == []
    assert ("/body/subject_information",
            "a subject has exactly one of organization_subject_information / personal_subject_information (has 2)") \
        in validate.own_errors(obj)


def test_envelope_empty_body__delete_with_body__matches_no_alternative():
    obj = ex("envelope-delete")
    obj["body"] = {}
    errs = validate.schema_errors(obj)
    assert errs == [("/body", "matches no alternative")]
    assert ("/body", "a delete snapshot has no body") in validate.own_errors(obj)


def test_envelope_null_body__fails():
    obj = ex("envelope-delete")
    obj["body"] = None
    assert validate.schema_errors(obj) == [("/body", "None is not of type 'object'")]


def test_envelope_overwrite__fails():
    obj = ex("account-minimal")
    obj["header"]["content"]["operation"] = "overwrite"
    assert validate.schema_errors(obj) == [
        ("/header/content/operation", "'overwrite' is not one of ['create', 'update', 'delete']")]


def test_envelope_two_bodies__fails_schema_and_own_check():
    obj = ex("account-minimal")
    obj["body"].update(ex("settlement-minimal")["body"])
    errs = validate.schema_errors(obj)
    assert errs == [("/body", "valid under more than one alternative")]
    assert ("/body", "exactly one body key, not 2 (account_information, capital_settlement_information)") \
        in validate.own_errors(obj)


def test_envelope_schema_minimum__passes_schema__own_check_refuses():
    obj = ex("account-minimal")
    obj["body"] = {"account_information": {}}
    assert validate.schema_errors(obj) == []
    assert validate.own_errors(obj) == [
        ("/body/account_information/basic_account_information", "container regchain always fills is missing")]


def test_quirk_body_second_key_invalid__passes_schema__own_check_refuses():
    # product_type where the model defines it (under basic_product_information): that branch is invalid,
    # so oneOf sees one valid alternative and the second key is ignored
    obj = ex("account-minimal")
    obj["body"]["product_information"] = {"essential_information": {"basic_product_information": {"product_type": "x"}}}
    assert validate.schema_errors(obj) == []
    assert ("/body", "exactly one body key, not 2 (account_information, product_information)") \
        in validate.own_errors(obj)


def test_envelope_seal__header_seal_and_remark__pass_both():
    obj = ex("account-minimal")
    obj["header"]["seal"] = {"pub_key": {"type": "SM2", "value": "04" + "ab" * 64}, "digest_algo": "SM3",
                             "signature": "cd" * 64}
    obj["header"]["remark"] = "更正 v3"
    assert validate.schema_errors(obj) == []
    assert validate.own_errors(obj) == []


# ---------------------------------------------------------------- the own checks one by one


def test_own_errors__type_not_matching_body__refused():
    obj = ex("subject-org-minimal")
    obj["header"]["content"]["type"] = "account"
    assert validate.schema_errors(obj) == []  # the schema does not tie them
    assert ("/body", "header.content.type 'account' needs body key 'account_information'") in validate.own_errors(obj)


def test_own_errors__misspelt_key__named():
    obj = ex("registration-minimal")
    reg = obj["body"]["registration_information"]
    reg["register_basic_infomation"] = reg["register_basic_information"]
    assert validate.schema_errors(obj) == []
    assert ("/body/registration_information/register_basic_infomation",
            "'register_basic_infomation' is not a key of the model") in validate.own_errors(obj)


def test_own_errors__document_url_for_uri__named():
    obj = ex("transactionreport-rich")
    doc = obj["body"]["transaction_report_information"]["transaction_information"][
        "transaction_verification_information"]["transaction_verification_doc"][0]
    doc["url"] = doc.pop("uri")
    assert any(p.endswith("/transaction_verification_doc/0/url") for p, _ in validate.own_errors(obj))


def test_own_errors__timestamp_in_milliseconds__refused():
    obj = ex("account-minimal")
    obj["header"]["content"]["timestamp"] = 1717379100000
    assert validate.own_errors(obj) == [
        ("/header/content/timestamp", "1717379100000 is not a Unix time in seconds")]


def test_own_errors__reference_not_stored__refused():
    obj = ex("account-minimal")
    stored = {("rc-20241:subject:org:91310000MA1K30XK55", 0)}
    errs = validate.own_errors(obj, resolves=lambda i, v: (i, v) in stored)
    assert errs == [("/body/account_information/basic_account_information/account_subject_ref",
                     "'rc-20241:subject:inv:5f1e0c3a9b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f1a3c5e7b9d0f/0' "
                     "does not resolve to a stored snapshot")]


def test_own_errors__malformed_reference__refused():
    obj = ex("account-minimal")
    obj["body"]["account_information"]["basic_account_information"]["account_depository_ref"] = "operator"
    assert validate.own_errors(obj) == [("/body/account_information/basic_account_information/account_depository_ref",
                                         "'operator' is not <object_id>/<version>")]


def test_own_errors__version_gap__refused():
    obj = ex("account-rich")  # version 2
    assert validate.own_errors(obj, latest_version=lambda i: 1) == []
    assert validate.own_errors(obj, latest_version=lambda i: 0) == [
        ("/header/content/version",
         "version 2 of rc-20241:account:3c44cdddb6a900fa2b585dd299e03d12fa4293bc leaves a gap (newest stored: 0)")]


def test_own_errors__create_not_version_zero__refused():
    obj = ex("account-minimal")
    obj["header"]["content"]["version"] = 1
    assert ("/header/content/version", "a create is version 0, not 1") in validate.own_errors(obj)


def test_own_errors__registration_without_rights_description__refused():
    obj = ex("registration-minimal")
    del obj["body"]["registration_information"]["registration_rights"]["basic_information_rights"][
        "description_status_information"]
    assert validate.own_errors(obj) == [(
        "/body/registration_information/registration_rights/basic_information_rights/description_status_information",
        "container regchain always fills is missing")]


# ---------------------------------------------------------------- the compiled fast path agrees with jsonschema


def _all_cases():
    cases = {name: ex(name) for name in EXAMPLES}
    cases.update({name: build() for name, (build, _) in FAILING.items()})
    cases["registration-badformat"] = registration_badformat()
    cases["subject-bad"] = subject_bad()
    bool_code = ex("account-minimal")
    bool_code["body"]["account_information"]["basic_account_information"]["account_type"] = True
    cases["bool-for-integer-code"] = bool_code
    bad_date = ex("account-rich")
    bad_date["body"]["account_information"]["account_cycle_information"]["account_opening_information"][
        "account_establish_date"] = "2024-02-30"
    cases["impossible-date"] = bad_date
    # inside a definition the compiled validator inlines (Document): a wrong type, an impossible date
    for name, key, value in (("document-hash-not-string", "hash", 5),
                             ("document-impossible-validity-date", "term_of_validity", "2024-02-30")):
        obj = ex("transactionreport-rich")
        obj["body"]["transaction_report_information"]["transaction_information"][
            "transaction_verification_information"]["transaction_verification_doc"][0][key] = value
        cases[name] = obj
    return cases


def _misspelt():
    obj = ex("registration-minimal")
    reg = obj["body"]["registration_information"]
    reg["register_basic_infomation"] = reg["register_basic_information"]
    doc = ex("transactionreport-rich")
    d = doc["body"]["transaction_report_information"]["transaction_information"][
        "transaction_verification_information"]["transaction_verification_doc"][0]
    d["url"] = d.pop("uri")
    sealed = ex("account-minimal")
    sealed["header"]["seal"] = {"pub_key": {"type": "SM2", "value": "04"}, "digest_algo": "SM3", "signature": "x"}
    sealed["header"]["remark"] = "更正 v1"
    sealed["header"]["metadata"] = {"anything": [1, {"goes": True}]}
    return {"misspelt-container": obj, "url-for-uri": doc, "sealed-with-remark": sealed}


@pytest.mark.parametrize("name", sorted(_all_cases()) + sorted(_misspelt()))
def test_fast_path__same_verdict_as_jsonschema_and_key_check(name):
    obj = {**_all_cases(), **_misspelt()}[name]
    full = not list(validate.validator(True).iter_errors(obj))
    keys_ok = not validate.unknown_keys(
        {k: v for k, v in obj["header"].items() if k not in validate.HEADER_EXTRAS},
        validate.schema()["properties"]["header"]) and not validate.unknown_keys(
        {k: v for k, v in obj.items() if k != "header"}, validate.schema())
    body = obj.get("body")
    if isinstance(body, dict) and len(body) == 1:
        assert validate._fast_valid(obj) == (full and keys_ok)
    assert (validate.schema_errors(obj, fast=False) == []) == full
    slow = validate.schema_errors(obj, fast=False) + validate.own_errors(obj)
    assert validate.errors(obj) == slow


@pytest.mark.parametrize("name", sorted(k for k, v in EXAMPLES.items() if isinstance(v, dict) and "body" in v))
def test_state_errors__with_body_bytes__equal_the_walk_and_complete_errors(name):
    """The generator's split (state checks from the body's canonical bytes, the rest in the workers)
    finds what ``errors`` finds: every reference resolving, none resolving, one missing."""
    from regchain.supervise.seal import canonical

    obj = EXAMPLES[name]
    refs = [r for _, r in validate.references(obj["body"])]
    missing = refs[len(refs) // 2] if refs else None
    for resolves in (lambda o, v: True, lambda o, v: False, lambda o, v: f"{o}/{v}" != missing):
        latest = lambda o: None  # noqa: E731
        walk = validate.state_errors(obj, resolves=resolves, latest_version=latest)
        fast = validate.state_errors(obj, resolves=resolves, latest_version=latest, body_bytes=canonical(obj["body"]))
        assert fast == walk
        assert sorted(validate.content_errors(obj) + walk) == \
            sorted(validate.errors(obj, resolves=resolves, latest_version=latest))


def _malformed_refs():
    out = {}
    for name in sorted(k for k, v in EXAMPLES.items() if isinstance(v, dict) and "body" in v):
        obj = copy.deepcopy(EXAMPLES[name])
        paths = [p for p, _ in validate.references(obj["body"], "/body")]
        if not paths:
            continue
        node = obj
        keys = paths[-1].split("/")[1:]
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        node[keys[-1]] = 'x/"1"\\/y'  # not <object_id>/<version>, with characters JSON escapes
        out[name] = obj
    return out


@pytest.mark.parametrize("name", sorted(_all_cases()) + sorted(_misspelt())
                         + [f"malformed-ref:{n}" for n in sorted(_malformed_refs())])
def test_content_errors__with_message__equal_the_walk(name):
    """The workers' reference check reads the snapshot's canonical bytes: the same errors as the
    walk on every example, every failing case and a malformed reference in each example."""
    from regchain.supervise.seal import canonical

    obj = {**_all_cases(), **_misspelt(), **{f"malformed-ref:{n}": o for n, o in _malformed_refs().items()}}[name]
    assert validate.content_errors(obj, canonical(obj)) == validate.content_errors(obj)
    if name.startswith("malformed-ref:"):
        assert """'x/"1"\\/y' is not <object_id>/<version>""" in [m for _, m in validate.content_errors(obj, canonical(obj))]
