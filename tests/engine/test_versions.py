"""Versions of a process: listing with instance counts, pin/unpin (audited), readable diffs."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select

import engine
from caseflow import store

DATA = Path(__file__).resolve().parents[1] / "api" / "data"


def _deploy(session, folder: str) -> int:
    return engine.deploy(session, [DATA / folder], actor="admin")[0].definition_id


def _start(session, i: int) -> dict:
    return engine.start(session, "svc_demo", {"ref": f"CP-{i}", "customer_name": "ACME"}, actor="alice")


def test_versions_with_counts_from_one_grouped_query(session, frozen_clock):
    _deploy(session, "v1")
    a, b = _start(session, 1), _start(session, 2)
    engine.cancel(session, b["id"], actor="admin")
    _deploy(session, "v2")
    _start(session, 3)

    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        versions = engine.list_versions(session, "svc_demo")
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert len(statements) <= 2  # the definitions, and one GROUP BY for every count
    assert [(v["version"], v["running_instances"], v["instances"]["cancelled"]) for v in versions] == [
        (2, 1, 0), (1, 1, 1)]
    v2, v1 = versions
    assert v2["latest"] and v2["starts_new_instances"] and not v1["starts_new_instances"]
    assert v1["deployed_by"] == "admin" and v1["deployed_at"].startswith("2026-03-02T01:00")
    assert v1["content_hash"] != v2["content_hash"]
    assert engine.show(session, a["id"])["version"] == 1
    with pytest.raises(engine.NotFound):
        engine.list_versions(session, "nope")


def test_pin_and_unpin_choose_where_new_instances_start_and_are_audited(session, frozen_clock):
    _deploy(session, "v1")
    _deploy(session, "v2")
    assert engine.startable_definition(session, "svc_demo").version == 2
    info = engine.pin(session, "svc_demo", 1, actor="root")
    assert info["pinned"] and info["starts_new_instances"] and info["files"]
    assert _start(session, 1)["version"] == 1
    engine.pin(session, "svc_demo", 2, actor="root")  # re-pinning moves the pin
    assert [d.version for d in session.scalars(select(store.ProcessDefinition).where(
        store.ProcessDefinition.pinned))] == [2]
    out = engine.unpin(session, "svc_demo", actor="root")
    assert out == {"key": "svc_demo", "start_version": 2, "definition_id": out["definition_id"],
                   "previously_pinned": [2]}
    kinds = [(e.kind, e.actor, e.payload.get("version")) for e in session.scalars(
        select(store.AuditEvent).where(store.AuditEvent.instance_id.is_(None),
                                       store.AuditEvent.kind.in_(["pinned", "unpinned"]))
        .order_by(store.AuditEvent.id))]
    assert kinds == [("pinned", "root", 1), ("pinned", "root", 2), ("unpinned", "root", None)]
    with pytest.raises(engine.NotFound):
        engine.pin(session, "svc_demo", 5, actor="root")
    with pytest.raises(engine.NotFound):
        engine.unpin(session, "nope", actor="root")


def test_diff_names_added_removed_and_changed_elements_and_properties(session):
    v1, v2, v3 = _deploy(session, "v1"), _deploy(session, "v2"), _deploy(session, "v3_unsafe")
    d = engine.diff_versions(session, v1, v2)
    added = {(e["type"], e["id"]) for e in d["elements"]["added"]}
    assert added == {("userTask", "approve"), ("sequenceFlow", "Flow_review_approve"),
                     ("sequenceFlow", "Flow_approve_end")}
    approve = next(e for e in d["elements"]["added"] if e["id"] == "approve")
    assert approve["properties"]["property formJsonSchemaFilename"] == "approve.schema.json"
    assert [(e["type"], e["id"]) for e in d["elements"]["removed"]] == [("sequenceFlow", "Flow_review_end")]
    changed = {e["id"]: e["changes"] for e in d["elements"]["changed"]}
    # The threshold of the service task: a changed parameter value.
    assert changed["deadline"] == [{"property": "parameter days", "old": "2", "new": "3"}]
    assert changed["Lane_manager"] == [{"property": "flowNodeRef", "old": "end", "new": "approve, end"}]
    assert d["files"]["added"] == ["approve.schema.json"] and d["files"]["removed"] == []
    (review_form,) = d["files"]["changed"]
    assert review_form["file"] == "review.schema.json" and '+      "maxLength": 500,' in review_form["diff"]
    assert d["layout_changed"] and not d["identical"]
    text = "\n".join(engine.diff_lines(d))
    assert "~ serviceTask deadline (Compute review deadline)" in text and "parameter days: '2' -> '3'" in text

    back = engine.diff_versions(session, v2, v3)
    assert ("userTask", "review") in {(e["type"], e["id"]) for e in back["elements"]["removed"]}
    assert back["files"]["removed"] == ["review.schema.json"]

    same = engine.diff_versions(session, v1, v1)
    assert same["identical"] and not same["elements"]["changed"] and engine.diff_lines(same)[-1] == "(no differences)"
    with pytest.raises(engine.NotFound):
        engine.diff_versions(session, v1, 999)


def test_diff_sees_extension_scripts_conditions_and_timers(session):
    from test_versions_xml import changed_pair

    old, new = changed_pair()
    files_a = {"p.bpmn": old}
    files_b = {"p.bpmn": new}
    a = store.ProcessDefinition(key="p", version=1, content_hash="a", files=files_a, dependencies={},
                                deployed_by="t")
    b = store.ProcessDefinition(key="p", version=2, content_hash="b", files=files_b, dependencies={},
                                deployed_by="t")
    session.add_all([a, b])
    session.flush()
    changes = {e["id"]: {c["property"]: (c["old"], c["new"]) for c in e["changes"]}
               for e in engine.diff_versions(session, a.id, b.id)["elements"]["changed"]}
    assert changes["script"]["script"] == ("x = 1", "x = 2")
    assert changes["flow_yes"]["conditionExpression"] == ("amount > 100", "amount > 500")
    # The timer's new random id is no change; its duration is.
    assert changes["wait"] == {"timerEventDefinition timeDuration": ('"PT24H"', '"PT48H"')}
    assert changes["task"]["property roleFromData"] == (None, "dept")
    assert changes["task"]["name"] == ("Check", "Check twice")


def test_a_deployment_that_loses_the_race_for_a_version_number_is_a_conflict(session, monkeypatch):
    """Two deployments of one process at once both read version 1 as the latest: the second to
    store version 2 gets a clear conflict (409 / exit 5), not a database error."""
    from caseflow._engine import definitions

    _deploy(session, "v1")
    monkeypatch.setattr(definitions, "latest_definition", lambda s, key: None)  # what the loser read
    with pytest.raises(engine.Conflict, match="another deployment stored version 1 of svc_demo"):
        _deploy(session, "v2")
    session.rollback()  # as the request or the command does on an error
