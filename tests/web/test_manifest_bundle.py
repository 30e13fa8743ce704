"""Process knowledge as data: a bundle's ``manifest.json`` (caseflow/manifest.py).

A process that no Caseflow code knows (tests/web/bundles/sitevisit) is uploaded by an admin
with its own manifest; its case page shows its key fields and its deadlines (met / overdue
per bound task), its start roles and search fields apply — with no code change. Plus the
validation of manifests: a bad one refuses the deployment, naming manifest.json.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

import engine
from caseflow import bundles, manifest

BUNDLES = Path(__file__).resolve().parent / "bundles"
SITEVISIT = BUNDLES / "sitevisit"
ROOT = Path(__file__).resolve().parents[2]


def bundle_files(folder: Path = SITEVISIT, **changes: str | None) -> dict[str, str]:
    """The text files of a bundle folder; ``changes`` replace (or, when None, drop) files by name
    (``manifest_json`` stands for ``manifest.json``)."""
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.iterdir()) if p.is_file()}
    for name, text in changes.items():
        name = name.replace("_json", ".json")
        if text is None:
            files.pop(name, None)
        else:
            files[name] = text
    return files


def with_manifest(**entries) -> dict[str, str]:
    """The site-visit bundle with its manifest changed: ``entries`` replace keys (None drops one)."""
    doc = json.loads((SITEVISIT / manifest.MANIFEST_FILE).read_text(encoding="utf-8"))
    for key, value in entries.items():
        if value is None:
            doc.pop(key, None)
        else:
            doc[key] = value
    return bundle_files(manifest_json=json.dumps(doc))


def section(html: str, testid_or_heading: str, end: str) -> str:
    return html.split(testid_or_heading, 1)[1].split(end, 1)[0]


def deadline_states(html: str) -> dict[str, str]:
    table = section(html, 'data-testid="deadlines"', "</table>")
    return {label.strip(): state for label, state in re.findall(r"<th>([^<]+)</th>.*?badge-([a-z_]+)", table, re.S)}


def key_data(html: str) -> list[tuple[str, str, str]]:
    """(data key, label, text) of the case page's key data, in page order."""
    dl = section(html, '<dl class="facts', "</dl>")
    return [(k, label.strip(), text.strip()) for k, label, text in
            re.findall(r'data-key="([^"]+)">\s*<dt>([^<]*)</dt>\s*<dd>([^<]*)</dd>', dl)]


# --- an admin uploads a process with its own manifest ----------------------------------------


def upload_and_deploy(browser) -> None:
    admin = browser("admin")
    admin.page_token("/admin/processes/")
    report = admin.post("/admin/processes/upload",
                        {"files": [(io.BytesIO(p.read_bytes()), p.name) for p in sorted(SITEVISIT.iterdir())]},
                        content_type="multipart/form-data")
    html = report.get_data(as_text=True)
    assert report.status_code == 200, html
    stash = re.search(r"/admin/processes/upload/([0-9a-f]{32})/deploy", html).group(1)
    done = admin.post(f"/admin/processes/upload/{stash}/deploy")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/processes/site_visit")


@pytest.fixture
def visit(database, browser, frozen_clock) -> int:
    """A site visit started by a quality user (a start role of the manifest) on Monday 09:00."""
    upload_and_deploy(browser)
    quality = browser("quality")
    started = quality.post("/start/site_visit", {"site": "Plant 7, Suzhou", "contact": "Ms Wang",
                                                 "visit_by": "2026-03-03T14:00", "urgent": "on",
                                                 "internal_memo": "not a key field"})
    assert started.status_code == 302, started.get_data(as_text=True)
    return int(re.search(r"/cases/(\d+)", started.headers["Location"]).group(1))


def test_the_case_page_of_an_uploaded_process_follows_its_manifest(database, browser, frozen_clock, visit):
    quality = browser("quality")
    html = quality.get(f"/cases/{visit}").get_data(as_text=True)
    # Key fields in the manifest's order, labelled by the start form or the manifest's output labels;
    # a start-form field the manifest leaves out (internal_memo) is not key data, nor is an empty one.
    assert key_data(html) == [("site", "Site", "Plant 7, Suzhou"), ("contact", "Site contact", "Ms Wang"),
                              ("priority_score", "Priority score", "3"),
                              ("visit_by", "Visit by", "2026-03-03 14:00")]
    assert deadline_states(html) == {"Visit by": "open", "Report due by": "open"}

    with database.session() as s:
        [task] = engine.list_tasks(s, instance_id=visit)
    assert task["name"] == "visit_site"
    done = quality.post(f"/tasks/{task['id']}", {"findings": "Two damaged pallets."})
    assert done.status_code == 302
    frozen_clock.advance(dt.timedelta(days=4))  # Friday: past report_by (visit_by + 2 days)
    html = quality.get(f"/cases/{visit}").get_data(as_text=True)
    assert deadline_states(html) == {"Visit by": "met", "Report due by": "overdue"}
    assert ("findings", "Findings", "Two damaged pallets.") in key_data(html)

    zh = browser("quality", language="zh").get(f"/cases/{visit}").get_data(as_text=True)
    assert deadline_states(zh) == {"走访期限": "met", "报告期限": "overdue"}
    assert ("priority_score", "优先级分值", "3") in key_data(zh)


def test_start_roles_search_and_summary_fields_come_from_the_manifest(browser, visit):
    assert "/start/site_visit" in browser("quality").get("/start/").get_data(as_text=True)
    service = browser("service")  # customer service may start complaints, not site visits
    assert "/start/site_visit" not in service.get("/start/").get_data(as_text=True)
    assert service.get("/start/site_visit").status_code == 403

    cases = browser("manager")
    found = cases.get("/cases?q=Suzhou").get_data(as_text=True)
    assert f'href="/cases/{visit}"' in found and "<td>Ms Wang</td>" in found  # summary: contact first
    assert f'href="/cases/{visit}"' in cases.get("/cases?q=wang&process=site_visit").get_data(as_text=True)
    assert f'href="/cases/{visit}"' not in cases.get("/cases?q=not+a+key").get_data(as_text=True)  # memo


def test_the_start_roles_setting_overrides_the_manifest_per_process(app, browser, visit):
    app.config["CASEFLOW_START_ROLES"] = {"site_visit": {"customer_service"}}
    assert browser("service").get("/start/site_visit").status_code == 200
    assert browser("quality").get("/start/site_visit").status_code == 403
    # a process the setting does not name keeps its manifest's roles
    assert browser("repair").get("/start/").status_code == 200


def test_the_real_processes_keep_their_start_roles(deployed, browser):
    assert browser("service").get("/start/complaint").status_code == 200
    assert browser("repair").get("/start/repair").status_code == 200
    assert browser("repair").get("/start/complaint").status_code == 403
    assert browser("quality").get("/start/formdemo").status_code == 403  # no manifest: admins only
    assert browser("admin").get("/start/formdemo").status_code == 200


def test_a_bad_manifest_refuses_the_upload_naming_manifest_json(database, browser):
    admin = browser("admin")
    admin.page_token("/admin/processes/")
    files = with_manifest(key_feilds=["site"])
    r = admin.post("/admin/processes/upload",
                   {"files": [(io.BytesIO(text.encode()), name) for name, text in files.items()]},
                   content_type="multipart/form-data")
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "manifest.json" in html and "key_feilds" in html
    with database.session() as s:
        assert engine.list_processes(s) == []


# --- validation at deploy ---------------------------------------------------------------------


def deploy_problems(session, files: dict[str, str]) -> list[bundles.Problem]:
    with pytest.raises(engine.DeployRejected) as err:
        engine.deploy_bundles(session, [bundles.Bundle(source="upload", files=files)], actor="admin")
    return err.value.problems


def test_unknown_keys_are_refused_at_deploy(session):
    problems = deploy_problems(session, with_manifest(key_feilds=["site"]))
    assert [(p.file, p.element) for p in problems] == [("manifest.json", "/")]
    assert "'key_feilds' was unexpected" in problems[0].message and "key_fields" in problems[0].message
    problems = deploy_problems(session, with_manifest(deadlines=[{"key": "visit_by", "task": ["visit_site"]}]))
    assert [(p.file, p.element) for p in problems] == [("manifest.json", "/deadlines/0")]


def test_a_deadline_binding_an_unknown_task_is_refused_at_deploy(session):
    problems = deploy_problems(session, with_manifest(deadlines=[{"key": "visit_by", "tasks": ["visit_sight"]}]))
    assert [(p.file, p.element) for p in problems] == [("manifest.json", "/deadlines/0/tasks/0")]
    assert "'visit_sight' is not a user or manual task" in problems[0].message
    assert str(problems[0]).startswith("manifest.json [/deadlines/0/tasks/0]: ")
    problems = deploy_problems(session, with_manifest(deadlines=[{"key": "visit_by", "tasks": ["plan_visit"]}]))
    assert "'plan_visit' is a scriptTask, not a user or manual task" in problems[0].message
    problems = deploy_problems(session, with_manifest(
        deadlines=[{"key": "visit_by", "tasks": ["repair:review_application"]}]))  # no call activity calls repair
    assert "process 'repair' is neither in the bundle nor called" in problems[0].message


def test_a_good_manifest_deploys_and_the_engine_serves_it(session):
    [result] = engine.deploy_bundles(session, [bundles.Bundle("upload", bundle_files())], actor="admin")
    served = engine.process_manifest(session, result.definition_id)
    assert served.present and served.key_fields[:2] == ("site", "contact")
    assert [(d.key, d.tasks) for d in served.deadlines] == [("visit_by", ("visit_site",)),
                                                            ("report_by", ("write_report",))]


def test_a_deadline_given_as_a_bare_date_ends_that_day_in_the_business_time_zone(session, monkeypatch):
    """A due key holding a date (a form's ``format: date`` field) is due at 23:59:59 of that day in
    ``CASEFLOW_TIMEZONE``, not at its midnight (what ``datetime.fromisoformat`` would make of it)."""
    monkeypatch.setenv("CASEFLOW_TIMEZONE", "Asia/Shanghai")
    schema = json.loads((SITEVISIT / "request.schema.json").read_text(encoding="utf-8"))
    schema["properties"]["visit_by"]["format"] = "date"
    files = {**bundle_files(), "request.schema.json": json.dumps(schema)}
    engine.deploy_bundles(session, [bundles.Bundle("upload", files)], actor="admin")
    case = engine.start(session, "site_visit", {"site": "Plant 7", "visit_by": "2026-03-03", "urgent": False},
                        actor="quality")
    [task] = [t for t in engine.list_tasks(session, instance_id=case["id"]) if t["name"] == "visit_site"]
    due = dt.datetime.fromisoformat(task["due_at"])
    assert due == dt.datetime(2026, 3, 3, 15, 59, 59, tzinfo=dt.UTC)  # 23:59:59 in Shanghai


# --- the checks themselves (no database) -----------------------------------------------------


@pytest.mark.parametrize("entries, element, words", [
    ({"key_fields": "site"}, "/key_fields", "is not of type 'array'"),
    ({"key_fields": ["site", "site"]}, "/key_fields", "non-unique"),
    ({"key_fields": ["drop table"]}, "/key_fields/0", "not a valid name"),
    ({"key_fields": []}, "/key_fields", "should be non-empty"),
    ({"start_roles": ["Quality Dept"]}, "/start_roles/0", "not a valid name"),
    ({"output_labels": {"priority_score": {}}}, "/output_labels/priority_score", "should be non-empty"),
    ({"output_labels": {"priority_score": {"en": "P", "fr": "P"}}}, "/output_labels/priority_score", "'fr'"),
    ({"output_labels": {"priority_score": "Priority"}}, "/output_labels/priority_score", "not of type 'object'"),
    ({"deadlines": [{"tasks": ["visit_site"]}]}, "/deadlines/0", "'key' is a required property"),
    ({"deadlines": [{"key": "visit_by"}, {"key": "visit_by"}]}, "/deadlines/1/key", "listed twice"),
    ({"deadlines": [{"key": "priority_score", "label": {"en": "P"}}]}, "/deadlines/0/label", "give it once"),
    ({"deadlines": [{"key": "visit_by", "tasks": ["other:visit_site"]}]}, "/deadlines/0/tasks/0",
     "neither in the bundle nor called"),
    ({"deadlines": [{"key": "visit_by", "tasks": ["site_visit:write_reprt"]}]}, "/deadlines/0/tasks/0",
     "not a user or manual task of process 'site_visit'"),
    ({"search_fields": ["site"] * 2}, "/search_fields", "non-unique"),
])
def test_problems_name_manifest_json_and_the_offending_place(entries, element, words):
    found = manifest.problems(with_manifest(**entries))
    assert found, entries
    assert all(p.file == "manifest.json" for p in found)
    assert any(p.element == element and words in p.message for p in found), [str(p) for p in found]


def test_syntax_duplicates_and_size_are_refused():
    [p] = manifest.problems(bundle_files(manifest_json='{"key_fields": ["site"],\n}'))
    assert p.file == "manifest.json" and "not valid JSON" in p.message and p.line == 2
    [p] = manifest.problems(bundle_files(manifest_json='{"start_roles": [], "start_roles": ["quality"]}'))
    assert "'start_roles' is given twice" in p.message
    [p] = manifest.problems(bundle_files(manifest_json=json.dumps({"$comment": "x" * 70_000})))
    assert "larger than 64 KiB" in p.message
    [p] = manifest.problems(bundle_files(manifest_json="[]"))
    assert p.element == "/" and "not of type 'object'" in p.message


def test_the_real_manifests_are_valid_and_qualified_refs_need_a_call_activity():
    for key in ("complaint", "repair"):
        assert manifest.problems(bundle_files(ROOT / "processes" / key)) == []
    complaint = manifest.load(bundle_files(ROOT / "processes" / "complaint"))
    assert complaint.deadline("review_due").tasks == ("repair:review_application",)  # the called repair
    assert complaint.deadline("review_due").binds("review_application")
    assert not complaint.deadline("react_by").binds("d2_contain")


def test_without_a_manifest_the_start_form_and_due_keys_make_the_case_page():
    m = manifest.load(bundle_files(manifest_json=None))
    assert not m.present
    assert m.key_fields == ("site", "contact", "visit_by", "urgent", "internal_memo")  # the start form
    assert [(d.key, d.label, d.tasks) for d in m.deadlines] == [("visit_by", None, ("visit_site",)),
                                                                ("report_by", None, ("write_report",))]
    assert (m.start_roles, m.search_fields, m.summary_fields, dict(m.output_labels)) == (frozenset(), (), (), {})
    formdemo = manifest.load(bundle_files(BUNDLES / "formdemo"))
    assert formdemo.key_fields[0] == "title"  # the business key field first
    no_start_form = bundle_files(**{"sitevisit.bpmn": (SITEVISIT / "sitevisit.bpmn").read_text().replace(
        'name="formJsonSchemaFilename" value="request.schema.json"', 'name="other" value="x"')},
        manifest_json=None)
    assert manifest.load(no_start_form).key_fields is None  # every scalar value is shown


def test_omitted_keys_take_their_defaults_and_the_manifest_is_read_only():
    m = manifest.load(with_manifest(key_fields=None, deadlines=None))
    assert m.present and m.key_fields[0] == "site" and [d.key for d in m.deadlines] == ["visit_by", "report_by"]
    assert m.start_roles == {"quality"} and m.label("priority_score") == manifest.Label("Priority score", "优先级分值")
    assert m.summary_key({"site": "A", "contact": ""}) == "site" and m.summary_key({}) is None
    with pytest.raises(AttributeError):
        m.key_fields = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        m.output_labels["x"] = manifest.Label("x")  # type: ignore[index]


def test_a_deployed_manifest_that_no_longer_passes_falls_back_to_the_defaults(caplog):
    m = manifest.load(with_manifest(start_roles="quality"))
    assert m.present and m.start_roles == frozenset() and m.key_fields[0] == "site"
    assert "ignoring the invalid manifest.json" in caplog.text


def test_a_page_looks_the_manifest_up_once(browser, visit, monkeypatch):
    calls: list[int] = []
    real = engine.process_manifest

    def counted(session, definition_id):
        calls.append(definition_id)
        return real(session, definition_id)

    monkeypatch.setattr(engine, "process_manifest", counted)
    quality = browser("quality")
    assert quality.get(f"/cases/{visit}").status_code == 200
    assert len(calls) == 1
    calls.clear()
    assert quality.get("/cases?q=Plant").status_code == 200
    assert len(calls) == len(set(calls))  # once per process shown, never per row
