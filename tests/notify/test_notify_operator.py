"""The ``notify`` operator: a pure notice request from the diagram's parameters and the case data."""
from __future__ import annotations

import datetime as dt

import pytest

from service_tasks import registry
from service_tasks.registry import OperatorError

NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def run(data: dict, **params: object) -> dict:
    return registry.get("notify").run(data, {"template": "complaint_acknowledgement", **params}, {"now": NOW})


def test_it_asks_for_the_template_to_the_address_in_the_data_key():
    assert run({"customer_email": " a@b.example "}) == {"last_notice": {
        "template": "complaint_acknowledgement", "to": "a@b.example", "language": "zh", "at": NOW.isoformat()}}
    assert run({"email": "x@y.example"}, recipient_key="email", language="en")["last_notice"]["to"] == "x@y.example"


def test_the_language_comes_from_a_data_key_when_the_case_has_one():
    notice = run({"customer_email": "a@b.example", "lang": "en_GB"}, language="zh", language_key="lang")
    assert notice["last_notice"]["language"] == "en"
    assert run({"customer_email": "a@b.example"}, language_key="lang")["last_notice"]["language"] == "zh"


@pytest.mark.parametrize("address", [None, "", "   ", "no-at-sign", "two@@example.com", "a@b",
                                     "x" * 250 + "@b.example"])
def test_no_usable_address_sends_nothing_and_the_case_goes_on(address):
    assert run({"customer_email": address})["last_notice"]["to"] is None


@pytest.mark.parametrize("params, field", [
    ({"template": "../etc/passwd"}, "template"), ({"template": "Ack"}, "template"),
    ({"language": "fr"}, "language"), ({"surprise": 1}, None)])
def test_bad_parameters_are_refused_with_the_field(params, field):
    with pytest.raises(OperatorError) as err:
        run({"customer_email": "a@b.example"}, **params)
    assert err.value.field == field


def test_it_is_audited_as_a_notice():
    assert registry.get("notify").audit == "notice"


def test_it_carries_the_named_fields_lists_included_and_names_the_attachment():
    data = {"email": "x@y.example", "fee_amount": 450, "parts": [{"part_name": "Housing", "quantity": 1}],
            "secret_note": "internal"}
    notice = run(data, template="repair_fee_notice", recipient_key="email", fields=["fee_amount", "parts", "absent"],
                 attachment="F14")["last_notice"]
    assert notice["args"] == {"fee_amount": 450, "parts": [{"part_name": "Housing", "quantity": 1}]}
    assert notice["attachment"] == "f14"
    assert "args" not in run(data, fields=["absent"])["last_notice"]


@pytest.mark.parametrize("params, field", [
    ({"attachment": "f99"}, "attachment"), ({"fields": "fee_amount"}, "fields"), ({"fields": [""]}, "fields"),
    ({"fields": [f"k{i}" for i in range(61)]}, "fields"), ({"fields": ["big"]}, "fields")])
def test_bad_fields_or_attachments_are_refused(params, field):
    with pytest.raises(OperatorError) as err:
        run({"customer_email": "a@b.example", "big": "x" * 70_000}, **params)
    assert err.value.field == field


def test_the_attachments_it_accepts_are_the_printouts_there_are():
    from caseflow.notify import documents
    from service_tasks import notify

    assert set(notify.ATTACHMENTS) == set(documents.LAYOUTS)
