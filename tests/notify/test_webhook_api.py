"""The webhook REST API (/api/v1/webhooks, admin only) and the event kinds a webhook gets.

Registered through the API, a webhook for every kind receives them all from a real repair case
(started, tasks created and completed, an escalation, an error, completed) at a local receiver
that checks the signatures; the delivery log of the API lists what was delivered.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest
from notify_helpers import SHIPPED
from test_webhooks import SECRET, Receiver

import engine
from caseflow import accounts, clock, config, store
from caseflow.notify.sender import Sender

APPLICATION = {
    "customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei", "phone": "+86 25 8888 0000", "product_model": "NLS-HR200", "serial_no": "SN-1",
    "purchase_date": "2025-06-01", "warranty_claim": "in", "fault_description": "Does not power on.",
}
ALL_KINDS = ["instance_started", "instance_completed", "instance_error", "task_created", "task_completed",
             "escalation"]


class Api:
    def __init__(self, client: Any, tokens: dict[str, str]):
        self.client, self.tokens = client, tokens

    def call(self, method: str, path: str, who: str = "admin", **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return getattr(self.client, method)("/api/v1" + path, headers=headers, **kw)


@pytest.fixture
def api(app, database) -> Api:
    tokens = {}
    with database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        for name, roles in (("admin", ["admin"]), ("quality", ["quality"])):
            user = store.User(username=name, password_hash="!", active=True)
            user.roles = [store.UserRole(role=r) for r in roles]
            s.add(user)
            s.flush()
            tokens[name] = accounts.create_token(s, name, "tests")[1]
    return Api(app.test_client(), tokens)


def test_admins_register_list_change_and_remove_webhooks(api):
    created = api.call("post", "/webhooks", json={"url": "https://erp.example/hook", "secret": SECRET,
                                                   "kinds": ["task_created", "escalation"]})
    assert created.status_code == 201, created.get_json()
    hook = created.get_json()
    assert hook["url"] == "https://erp.example/hook" and hook["kinds"] == ["escalation", "task_created"]
    assert "secret" not in hook and hook["created_by"] == "admin"
    assert api.call("get", "/webhooks").get_json()["items"] == [hook]
    assert api.call("get", f"/webhooks/{hook['id']}").get_json() == hook

    changed = api.call("patch", f"/webhooks/{hook['id']}", json={"kinds": ["instance_completed"]})
    assert changed.status_code == 200 and changed.get_json()["kinds"] == ["instance_completed"]
    assert changed.get_json()["url"] == "https://erp.example/hook"
    assert api.call("patch", f"/webhooks/{hook['id']}", json={"secret": "another-secret-of-16+"}).status_code == 200

    assert api.call("delete", f"/webhooks/{hook['id']}").status_code == 204
    assert api.call("get", "/webhooks").get_json()["items"] == []
    for method, kw in (("get", {}), ("patch", {"json": {"kinds": ["escalation"]}}), ("delete", {})):
        assert api.call(method, f"/webhooks/{hook['id']}", **kw).status_code == 404
    assert api.call("get", f"/webhooks/{hook['id']}/deliveries").status_code == 200  # the log stays
    assert api.call("get", "/webhooks/999/deliveries").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"url": "ftp://erp.example/hook", "secret": SECRET, "kinds": ["task_created"]}, "url"),
    ({"url": "https://", "secret": SECRET, "kinds": ["task_created"]}, "url"),
    ({"url": "https://erp.example/hook", "secret": "short", "kinds": ["task_created"]}, "secret"),
    ({"url": "https://erp.example/hook", "secret": SECRET, "kinds": []}, "kinds"),
    ({"url": "https://erp.example/hook", "secret": SECRET, "kinds": ["task_deleted"]}, "kinds.0"),
    ({"url": "https://erp.example/hook", "secret": SECRET}, "kinds"),
    ({"url": "https://erp.example/hook", "secret": SECRET, "kinds": ["escalation"], "active": False}, "active"),
    ({"url": 7, "secret": SECRET, "kinds": ["escalation"]}, "url"),
])
def test_a_bad_registration_is_a_422_naming_the_field(api, body, field):
    answer = api.call("post", "/webhooks", json=body)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["error"]["fields"]
    assert api.call("get", "/webhooks").get_json()["items"] == []


def test_a_bad_change_is_a_422_and_changes_nothing(api):
    hook = api.call("post", "/webhooks", json={"url": "https://erp.example/hook", "secret": SECRET,
                                                "kinds": ["escalation"]}).get_json()
    for body, field in (({}, "_body"), ({"url": "mailto:x@y.example"}, "url"), ({"kinds": []}, "kinds")):
        answer = api.call("patch", f"/webhooks/{hook['id']}", json=body)
        assert answer.status_code == 422 and field in answer.get_json()["error"]["fields"], answer.get_json()
    assert api.call("get", f"/webhooks/{hook['id']}").get_json() == hook


def test_only_admins_may_use_it_and_it_is_in_the_openapi_document(api):
    assert api.call("get", "/webhooks", who="quality").status_code == 403
    assert api.call("post", "/webhooks", who="quality", json={"url": "https://erp.example/hook", "secret": SECRET,
                                                              "kinds": ["escalation"]}).status_code == 403
    assert api.client.get("/api/v1/webhooks").status_code == 401
    paths = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/webhooks"]) == {"get", "post"}
    assert set(paths["/api/v1/webhooks/{webhook_id}"]) == {"get", "patch", "delete"}
    assert "get" in paths["/api/v1/webhooks/{webhook_id}/deliveries"]


def test_a_webhook_for_every_kind_gets_each_of_them_from_a_real_case(api, database, frozen_clock):
    receiver = Receiver()
    try:
        hook = api.call("post", "/webhooks", json={"url": receiver.url, "secret": SECRET, "kinds": ALL_KINDS})
        hook_id = hook.get_json()["id"]
        actor = engine.Actor.tool("svc1")
        with database.session() as s:
            done = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
            broken = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
        clock.set(dt.datetime(2026, 3, 3, 10, 1, tzinfo=dt.UTC))  # the reply deadline passed: escalation
        with database.session() as s:
            engine.fire_due_timers(s)
        with database.session() as s:  # one case ends by remote guidance ...
            review, = [t for t in engine.list_tasks(s, instance_id=done) if t["name"] == "review_application"]
            engine.complete(s, review["id"], {"review_opinion": "Reset it.", "remote_fixable": True}, actor=actor)
            guide, = [t for t in engine.list_tasks(s, instance_id=done) if t["name"] == "remote_guidance"]
            engine.complete(s, guide["id"], {"remote_guidance": "Hold the trigger.",
                                             "remote_guidance_channel": "phone"}, actor=actor)
            follow_up, = [t for t in engine.list_tasks(s, instance_id=done) if t["name"] == "followup_review_overdue"]
            assert engine.complete(s, follow_up["id"], {"review_escalation_action": "Done."},
                                   actor=actor)["status"] == "completed"
        with database.session() as s:  # ... the other stops with an error: a purchase after the receipt,
            # made so by a data correction after the receipt form took the date (the warranty rule refuses it)
            for name, values in (("review_application", {"review_opinion": "Mail-in.", "remote_fixable": False}),
                                 ("send_shipping_instructions", {"ship_to_address": "Fuzhou",
                                                                 "shipping_method": "express",
                                                                 "instructions_sent_via": "email"}),
                                 ("receive_device", {"received_date": "2026-03-01"}),
                                 ("diagnose_device", {"fault_cause": "quality", "diagnosis": "Board.",
                                                      "estimated_fee": 0})):
                if name == "diagnose_device":
                    engine.update_data(s, broken, {"purchase_date": "2026-03-02"}, actor="admin", reason="test")
                task, = [t for t in engine.list_tasks(s, instance_id=broken) if t["name"] == name]
                view = engine.complete(s, task["id"], values, actor=actor)
        assert view["status"] == "error", view["status"]
        Sender(database, dataclasses.replace(config.load(), smtp=None)).run_once()

        got = {e["event"] for e in receiver.accepted}
        assert got == set(ALL_KINDS) and receiver.bad_signatures == 0
        error, = [e for e in receiver.accepted if e["event"] == "instance_error"]
        assert error["instance"]["id"] == broken and error["message"]
        completed, = [e for e in receiver.accepted if e["event"] == "instance_completed"]
        assert completed["instance"] == {"id": done, "process_key": "repair", "business_key": None,
                                         "status": "completed"}
        assert {e["instance"]["id"] for e in receiver.accepted if e["event"] == "escalation"} == {done, broken}

        log = api.call("get", f"/webhooks/{hook_id}/deliveries?limit=500").get_json()
        assert len(log["items"]) == len(receiver.accepted)
        assert {d["status"] for d in log["items"]} == {"sent"} and {d["kind"] for d in log["items"]} == set(ALL_KINDS)
        first = log["items"][-1]
        assert first["kind"] == "instance_started" and first["url"] == receiver.url and first["attempts"] == 1
        assert first["event"]["instance"]["process_key"] == "repair"
    finally:
        receiver.close()
