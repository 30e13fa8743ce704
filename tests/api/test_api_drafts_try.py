"""``POST /api/v1/drafts/<id>/try``: a draft's process run on sample data in a sandbox that is thrown
away. No row is left in any table (every table counted before and after), no sequence moves, no
mail is queued; the answer shows the path, the operators' outputs and each human task's form."""
from __future__ import annotations

import re

import pytest
from drafts_helpers import THRESHOLD, deployed_fixture, owner_fixture, put_files  # noqa: F401  (fixtures)
from scenarios.complaint_helpers import quality_registration
from sqlalchemy import func, select

import engine
from caseflow import store


def _rows(database) -> dict[str, int]:
    with database.session() as s:
        return {t.name: int(s.scalar(select(func.count()).select_from(t)) or 0)
                for t in store.Base.metadata.sorted_tables}


def _sequences(database) -> list[tuple[str, int, int]]:
    with database.session() as s:
        return [tuple(r) for r in s.execute(select(store.Sequence.name, store.Sequence.year, store.Sequence.value)
                                            .order_by(store.Sequence.name, store.Sequence.year))]


def _draft_at_20(api, owner) -> dict:
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    bpmn = draft["files"]["complaint.bpmn"]
    assert bpmn.count(THRESHOLD) == 1
    r = put_files(api, draft["id"], {"complaint.bpmn": bpmn.replace(THRESHOLD, THRESHOLD.replace("15", "20"))})
    assert r.status_code == 200, r.json
    return r.json


CONFIRM = {"complaint_valid": True, "override_grade": False}


def test_try_grades_16_defects_general_at_threshold_20_and_leaves_no_row(api, owner, deployed, database):
    # a running case first: the tables and the complaint sequence are not empty
    with database.session() as s:
        running = engine.start(s, "complaint", quality_registration(functional_defect_qty=16), actor="cs1")
    assert running["data"]["kpi_class"] == "major"
    draft = _draft_at_20(api, owner)
    rows_before, sequences_before = _rows(database), _sequences(database)
    assert rows_before["process_instance"] == 1 and rows_before["human_task"] >= 1
    assert rows_before["notification"] >= 1  # the acknowledgement of the running case is queued

    r = api.post(f"/api/v1/drafts/{draft['id']}/try", {"data": quality_registration(functional_defect_qty=16),
                                                       "answers": [{"data": CONFIRM}]}, who=owner)
    assert r.status_code == 200, r.json
    result = r.json
    assert result["error"] is None, result["error"]
    assert result["data"]["kpi_class"] == "general"  # 16 < 20 functional defects
    grade = next(o for o in result["outputs"] if o["element"] == "propose_grade")
    assert grade["operator"] == "grade_complaint" and grade["values"]["kpi_class"] == "general"
    assert result["path"][0] == "start_register" and "propose_grade" in result["path"]
    assert result["path"].index("issue_complaint_no") < result["path"].index("propose_grade")
    assert "flow_graded" in result["flows"]
    # the number it would issue is the sequence's next one, but the sequence does not move
    number = next(o for o in result["outputs"] if o["element"] == "issue_complaint_no")["values"]["complaint_no"]
    assert re.fullmatch(r"CP-\d{4}-000002", number), number
    confirm, after = result["tasks"][0], result["tasks"][1:]
    assert (confirm["element"], confirm["role"], confirm["form"]) == (
        "confirm_grade", "quality", "complaint_confirm.schema.json")
    assert "complaint_valid" in confirm["schema"]["properties"] and confirm["answer"]["complaint_valid"] is True
    assert after and after[-1]["answer"] is None and result["status"] == "needs_answer"
    assert after[-1]["schema"] is not None
    assert result["timers"] and all(t["due_at"] for t in result["timers"])
    assert any(e["kind"] == "notice" for e in result["events"])  # the e-mail it would send, not sent

    assert _rows(database) == rows_before  # every table: no instance, task, timer, audit, outbox, fact...
    assert _sequences(database) == sequences_before
    with database.session() as s:  # and the real next case takes the next number
        nxt = engine.start(s, "complaint", quality_registration(functional_defect_qty=16), actor="cs1")
    assert nxt["data"]["complaint_no"] == number


def test_try_bad_input_is_a_4xx_with_field_messages(api, owner, deployed):
    draft = _draft_at_20(api, owner)
    url = f"/api/v1/drafts/{draft['id']}/try"
    data = quality_registration(functional_defect_qty=16)
    for body, field in [({"data": data, "answers": "default"}, "answers"),
                        ({"data": data, "answers": ["sometimes"]}, "answers.0"),
                        ({"data": data, "answers": [{"data": 3}]}, "answers.0.data"),
                        ({"data": data, "answers": [{"dta": {}}]}, "answers.0"),
                        ({"data": [1]}, "data"),
                        ({"data": data, "other": 1}, "other"),
                        ({"data": {**data, "functional_defect_qty": "many"}}, "data.functional_defect_qty"),
                        ({"data": data, "answers": [{"data": {**CONFIRM, "confirmed_dept": "x"}}]},
                         "answers.0.confirmed_dept"),
                        ({"data": data, "answers": [{"data": {**CONFIRM, "nope": 1}}]}, "answers.0.nope"),
                        ({"data": data, "answers": [{"task": "d2_contain", "data": CONFIRM}]}, "answers.0.task"),
                        ({"data": data, "answers": ["default"]}, "answers.0.complaint_valid"),
                        ({"data": data, "answers": [{"data": {**CONFIRM, "kpi_class": "general"}}]},
                         "answers.0.kpi_class")]:  # the process's own output: never submitted
        r = api.post(url, body, who=owner)
        assert r.status_code == 422, (body, r.json)
        assert field in r.json["error"]["fields"], (field, r.json)
    assert api.post(url, {"data": data}, who="quality").status_code == 403
    assert api.post("/api/v1/drafts/999/try", {"data": data}, who=owner).status_code == 404


@pytest.mark.parametrize("breakage, element", [
    (lambda x: x.replace('serviceTaskOperator id="grade_complaint"', 'serviceTaskOperator id="grade_complain"'),
     "propose_grade"),
    (lambda x: re.sub(r'(<bpmn:scriptTask id="open_clock"[^>]*>.*?<bpmn:script>)', r"\1import os\n", x,
                      count=1, flags=re.S), "open_clock"),
])
def test_a_draft_that_would_not_deploy_is_not_tried(api, owner, deployed, database, breakage, element):
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    broken = breakage(draft["files"]["complaint.bpmn"])
    assert put_files(api, draft["id"], {"complaint.bpmn": broken}).status_code == 200
    before = _rows(database)
    r = api.post(f"/api/v1/drafts/{draft['id']}/try", {"data": quality_registration()}, who=owner)
    assert r.status_code == 422, r.json
    assert any(p["element"] == element for p in r.json["error"]["fields"]["problems"]), r.json
    assert _rows(database) == before


def test_a_script_failing_on_the_data_is_the_error_with_its_element(api, owner, deployed, database):
    draft = api.post("/api/v1/drafts", {"key": "complaint"}, who=owner).json
    broken = re.sub(r'(<bpmn:scriptTask id="open_clock"[^>]*>.*?<bpmn:script>)', r"\1oops = 1 / 0\n",
                    draft["files"]["complaint.bpmn"], count=1, flags=re.S)
    assert put_files(api, draft["id"], {"complaint.bpmn": broken}).status_code == 200
    before = _rows(database)
    r = api.post(f"/api/v1/drafts/{draft['id']}/try", {"data": quality_registration()}, who=owner)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "error" and r.json["error"]["element"] == "open_clock", r.json["error"]
    assert "division by zero" in r.json["error"]["message"]
    assert "open_clock" not in r.json["path"] and "issue_complaint_no" in r.json["path"]
    assert _rows(database) == before
