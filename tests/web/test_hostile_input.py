"""Hostile input never gives a 5xx and never changes what is stored (issue 11, part C).

Each finding of the hostile test has its own test; ``test_fuzz_every_form_and_api_operation``
then posts every web form of both shipped processes (the start forms and each task form on the
way through a complaint and a repair) and every operation of the OpenAPI document with
hostile values. Everything runs on SQLite and on the throwaway PostgreSQL server.
"""
from __future__ import annotations

import io
import json
import math
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from story_time import on_the_day
from test_case_flows import COMPLAINT_ANSWERS, REGISTRATION, REPAIR_ANSWERS, REPAIR_APPLICATION, ROLE_USER

import engine
from caseflow import accounts, store
from web.forms.schema_form import widget_for

HUGE = "x" * (10 * 1024 * 1024)
NUMBERS = ["1e5000", "1e400", "NaN", "-Infinity", "1e1000000", "9" * 5000, "9223372036854775808"]
CONTROL = ["a\x00b", "\x1b[2J", "tab\tand\x07bell"]
DATES = ["9999-12-31T23:59", "0001-01-01", "9999-12-31"]
# The complaint's answers of test_case_flows, with the 2D/3D review where that list lacks it.
COMPLAINT_TASKS = {"review_d2_d3": {"d2_d3_review_decision": "approve"}, **COMPLAINT_ANSWERS}
IDS = [2**31, 2**63, -1, 0]


@pytest.fixture
def database(any_database):
    """Every test of this module on SQLite and on PostgreSQL."""
    return any_database


@pytest.fixture
def token(database) -> str:
    with database.session() as s:
        _row, plain = accounts.create_token(s, "admin", "hostile input")
    return plain


class Api:
    def __init__(self, app: Any, token: str):
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: str | bytes | None = None, **kwargs: Any) -> Any:
        return self.client.open(path, method=method, data=body, headers=self.headers,
                                content_type="application/json" if body is not None else None, **kwargs)


@pytest.fixture
def api(app, token) -> Api:
    return Api(app, token)


def strict_json(text: str) -> Any:
    """JSON as a strict client reads it (no NaN or Infinity)."""
    return json.loads(text, parse_constant=lambda name: pytest.fail(f"invalid JSON constant {name}"))


def state(database, app) -> dict:
    """Everything a refused request must leave as it was."""
    with database.session() as s:
        instances = {i.id: (i.status, json.dumps(i.data, sort_keys=True), i.business_key, i.row_version)
                     for i in s.scalars(select(store.ProcessInstance))}
        tasks = {t.id: (t.state, t.assignee) for t in s.scalars(select(store.HumanTask))}
        attachments = s.scalar(select(func.count()).select_from(store.Attachment))
        events = s.scalar(select(func.count()).select_from(store.AuditEvent))
    folder = Path(app.config["CASEFLOW_SETTINGS"].attachment_dir)
    files = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    return {"instances": instances, "tasks": tasks, "attachments": attachments, "events": events, "files": files}


def refused(response: Any, what: str) -> None:
    assert 400 <= response.status_code < 500, f"{what}: {response.status_code} {response.get_data(as_text=True)[:300]}"


def form_refused(b: Any, response: Any, url: str, what: str) -> None:
    """A form post refused: 4xx, or (post/redirect/get) 303 back to the form, which shows the errors."""
    if response.status_code != 303:
        refused(response, what)
        return
    location = response.headers["Location"]
    assert location.split("?")[0].endswith(url), f"{what}: redirected to {location}"
    page = b.get(location)
    assert page.status_code == 200 and 'data-testid="form-errors"' in page.get_data(as_text=True), \
        f"{what}: the form page after the redirect shows no errors"


def new_case(response: Any) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return int(re.search(r"/cases/(\d+)", response.headers["Location"]).group(1))


def ready_task(database, instance_id: int) -> store.HumanTask | None:
    with database.session() as s:
        return s.scalars(select(store.HumanTask).where(store.HumanTask.instance_id == instance_id,
                                                       store.HumanTask.state == "ready")
                         .order_by(store.HumanTask.created_at)).first()


def show(database, instance_id: int) -> engine.CaseRecord:
    with database.session() as s:
        return engine.show(s, instance_id)


def task_form(database, task_id: str) -> engine.TaskForm:
    with database.session() as s:
        return engine.task_form(s, task_id)


def start_form(database, key: str) -> dict | None:
    with database.session() as s:
        return engine.start_form(s, key)


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"d": value}
    return value


# --- the findings, one test each -----------------------------------------------------------------


def test_number_fields_refuse_huge_and_non_finite_numbers(app, database, deployed, browser, frozen_clock):
    service = browser("service")
    before = state(database, app)
    for text in NUMBERS:
        started = time.monotonic()
        response = service.post("/start/complaint", {**REGISTRATION, "ship_qty": text, "claim_amount": text},
                                follow_redirects=True)
        assert [r.status_code for r in response.history] == [303], text  # the form again (post/redirect/get)
        assert time.monotonic() - started < 2, f"{text[:20]} took {time.monotonic() - started:.1f} s"
        page = response.get_data(as_text=True)
        assert "Enter a whole number." in page or "The number is too large." in page
    assert state(database, app) == before


def test_api_refuses_non_finite_numbers_and_deep_json(app, database, deployed, api):
    before = state(database, app)
    for number in ("NaN", "Infinity", "-Infinity", "1e400", "1e5000", "1" + "0" * 5000):
        body = f'{{"process": "complaint", "data": {{"customer_name": "ACME", "claim_amount": {number}}}}}'
        response = api.call("POST", "/api/v1/instances", body)
        assert response.status_code == 422, (number, response.json)
        assert response.json["error"]["code"] == "invalid_data"
    for number in ("1e300", "1e20", "9007199254740994.0"):  # no fraction, but beyond what readers hold exactly
        body = (f'{{"process": "complaint", "data": {{"channel": "phone", "complaint_type": "quality", '
                f'"functional_defect_qty": {number}}}}}')
        response = api.call("POST", "/api/v1/instances", body)
        assert response.status_code == 422, (number, response.json)
        assert "functional_defect_qty" in response.json["error"]["fields"], response.json
    for levels in (33, 450, 600, 100_000):
        body = '{"process": "complaint", "data": {"customer_name": "ACME", "x": ' + "[" * levels + "]" * levels + "}}"
        response = api.call("POST", "/api/v1/instances", body)
        assert response.status_code == 422, levels
        assert "nested too deeply" in response.json["error"]["message"]
    assert state(database, app) == before


def test_engine_refuses_deep_huge_and_non_finite_data_from_every_caller(database, deployed):
    """The engine's one check covers start, complete and the admin's data correction (CLI too)."""
    with database.session() as s:
        view = engine.start(s, "complaint", {k: v for k, v in REGISTRATION.items() if k in ("channel", "customer_name",
                                              "description", "complaint_type")}, actor="service")
    for bad in ({"x": deep(450)}, {"x": math.nan}, {"x": math.inf}, {"x": 2**64}, {"x": "a\x00b"}, {"x": "\ud800"}):
        with database.session() as s, pytest.raises(engine.InvalidData):
            engine.update_data(s, view["id"], bad, actor="admin")
        with database.session() as s, pytest.raises(engine.InvalidData) as err:
            engine.start(s, "complaint", {"customer_name": "ACME", "description": bad["x"]}, actor="service")
        assert err.value.fields
    with database.session() as s, pytest.raises(engine.InvalidData) as err:
        engine.update_data(s, view["id"], {"big": HUGE}, actor="admin")
    assert engine.describe_error(err.value).http_status == 413 and "big" in err.value.fields
    with database.session() as s, pytest.raises(engine.InvalidData) as err:
        engine.update_data(s, view["id"], {"now": "x"}, actor="admin")
    assert "now" in err.value.fields
    with database.session() as s:
        assert s.scalar(select(func.count()).select_from(store.ProcessInstance)) == 1


@pytest.mark.parametrize("text", ['{"a": NaN}', '{"a": 1e400}', '{"a": 1' + "0" * 5000 + "}",
                                  '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", '{"a": "\\u0000"}'])
def test_cli_data_argument_refuses_what_the_api_refuses(text):
    from caseflow.cli.common import json_arg

    with pytest.raises(SystemExit) as err:
        json_arg(text, "--data")
    assert err.value.code == 2


def test_nul_and_control_characters_are_refused_in_every_text_input(app, database, deployed, browser):
    anonymous = browser()
    anonymous.page_token("/login")
    response = anonymous.post("/login", {"username": "admin\x00", "password": "x"})
    assert response.status_code == 400 and "not allowed" in response.get_data(as_text=True)
    service = browser("service")
    for url in ("/cases?q=a%00b", "/cases?process=a%00b", "/cases?status=%1b", "/?process=%00",
                "/tasks/a%00b", "/complaints?customer=%00"):
        assert service.get(url).status_code == 400, url
    response = service.post("/start/complaint", {**REGISTRATION, "description": "line one\r\nline\ttwo"})
    assert response.status_code == 302  # tab, CR and LF are text
    for url in ("/api/v1/instances?business_key=a%00b", "/api/v1/instances?process=a%00b",
                "/api/v1/tasks?process=%00"):
        response = app.test_client().get(url)
        assert response.status_code == 422 and response.json["error"]["code"] == "invalid_data", url
    assert app.test_client().get("/api/v1/tasks/a%00b").status_code == 404


def test_attachment_names_are_cleaned_and_no_file_outlives_a_failed_row(app, database, deployed, browser,
                                                                       monkeypatch):
    service = browser("admin")
    response = service.post("/start/formdemo", {"title": "Broken", "kind": "goods",
                                                "evidence": (io.BytesIO(b"data"), "a\x00b\x1b.txt")},
                            content_type="multipart/form-data")
    instance_id = new_case(response)
    with database.session() as s:
        row = s.scalars(select(store.Attachment).where(store.Attachment.instance_id == instance_id)).one()
        assert row.filename == "ab.txt"
        attachment_id = row.id
    download = service.get(f"/attachments/{attachment_id}")
    assert download.status_code == 200 and download.data == b"data"

    folder = Path(app.config["CASEFLOW_SETTINGS"].attachment_dir)
    files = sorted(folder.iterdir())
    from sqlalchemy.orm import Session

    flush = Session.flush

    def failing_flush(self: Session, *args: Any) -> None:
        if any(isinstance(row, store.Attachment) for row in self.new):
            raise RuntimeError("the attachment row could not be written")
        flush(self, *args)

    monkeypatch.setattr(Session, "flush", failing_flush)
    with pytest.raises(RuntimeError, match="attachment row"):  # the simulated database failure itself
        service.post("/start/formdemo", {"title": "Again", "kind": "goods", "evidence": (io.BytesIO(b"more"), "b.txt")},
                     content_type="multipart/form-data")
    assert sorted(folder.iterdir()) == files  # but no orphan file


def test_ids_beyond_the_database_range_are_not_found(app, database, deployed, api, browser):
    service = browser("admin")
    for ident in IDS:
        for url in (f"/cases/{ident}", f"/cases/{ident}/diagram.bpmn", f"/attachments/{ident}"):
            assert service.get(url).status_code == 404, url
        for url in (f"/api/v1/instances/{ident}", f"/api/v1/instances/{ident}/audit"):
            assert api.call("GET", url).status_code == 404, url
        response = api.call("GET", f"/api/v1/tasks?instance={ident}")
        assert response.status_code == 422 and "instance" in response.json["error"]["fields"]
        response = api.call("GET", f"/api/v1/instances?version={ident}&process=complaint")
        assert response.status_code == 422
        for url in (f"/admin/processes/complaint/diff?to={ident}&from={ident}",
                    f"/admin/processes/complaint/migrate?to={ident}&from={ident}"):
            assert service.get(url).status_code < 500, url
        response = service.post("/admin/processes/complaint/migrate",
                                {"to": str(ident), "from": str(ident), "instance_ids": str(ident)})
        assert response.status_code < 500


def test_dates_out_of_range_are_refused_at_the_form_and_by_the_engine(app, database, deployed, browser, api,
                                                                     frozen_clock):
    service = browser("service")
    before = state(database, app)
    for text in ("9999-12-31T23:59", "0001-01-01T00:00", "1899-12-31T23:59"):
        response = service.post("/start/complaint", {**REGISTRATION, "received_at": text}, follow_redirects=True)
        assert [r.status_code for r in response.history] == [303] and \
            "Enter a date between the years 1900 and 2200." in response.get_data(as_text=True)
    response = service.post("/start/complaint", {**REGISTRATION, "ship_date": "0001-01-01"})
    assert response.status_code == 303  # the form again (post/redirect/get)
    for value in ("9999-12-31T23:59:00+08:00", "0001-01-01T00:00:00Z"):
        body = json.dumps({"process": "complaint", "data": {"customer_name": "ACME", "received_at": value}})
        response = api.call("POST", "/api/v1/instances", body)
        assert response.status_code == 422 and "received_at" in response.json["error"]["fields"]
    assert state(database, app) == before
    response = service.post("/start/complaint", {**REGISTRATION, "received_at": "2026-03-02T08:00"})
    view = show(database, new_case(response))
    assert view["status"] == "running"


def test_a_form_takes_only_its_own_fields_and_never_an_engine_owned_key(app, database, deployed, api, browser,
                                                                       frozen_clock):
    service = browser("service")
    for junk in ({"now": "x"}, {"repair_number": "RMA-2026-000001"}, {"kpi_class": "other"}, {"bogus": "1"},
                 {"j" * 150: "x"}):
        body = json.dumps({"process": "complaint", "data": {**REGISTRATION_TYPED, **junk}})
        response = api.call("POST", "/api/v1/instances", body)
        assert response.status_code == 422, junk
        assert set(junk) <= set(response.json["error"]["fields"]), response.json
    response = api.call("POST", "/api/v1/instances", json.dumps({"process": "complaint",
                                                                  "data": {**REGISTRATION_TYPED, "k" * 10**7: 1}}))
    assert response.status_code == 413
    # the web form reads its own fields only: extra posted fields never reach the data
    instance_id = new_case(service.post("/start/complaint", {**REGISTRATION, "now": "x", "complaint_no": "CP-1"}))
    view = show(database, instance_id)
    assert view["status"] == "running" and "now" not in view["data"]
    assert view["data"]["complaint_no"] != "CP-1"

    # a repair task completed through the API with another case's repair number is refused
    repair_id = new_case(service.post("/start/repair", REPAIR_APPLICATION))
    task = ready_task(database, repair_id)
    other = "RMA-2026-000099"
    body = json.dumps({"data": {"review_opinion": "Send it in", "remote_fixable": False, "repair_number": other}})
    before = state(database, app)
    response = api.call("POST", f"/api/v1/tasks/{task.id}/complete", body)
    assert response.status_code == 422 and "repair_number" in response.json["error"]["fields"]
    assert state(database, app) == before


REGISTRATION_TYPED = {"channel": "phone", "customer_name": "Huaxin Electronics", "description": "Scratches",
                      "complaint_type": "quality"}


def test_shipped_forms_declare_every_field_they_submit(app, database, deployed, browser, frozen_clock):
    """The stricter engine check still lets the shipped processes run through the UI."""
    from test_case_flows import work_through

    service = browser("service")
    complaint = new_case(service.post("/start/complaint", REGISTRATION))
    assert work_through(database, browser, complaint, COMPLAINT_TASKS)[-1] == "close_summary"
    repair = new_case(service.post("/start/repair", REPAIR_APPLICATION))
    assert "notify_customer_shipped" in work_through(database, browser, repair, REPAIR_ANSWERS)


# --- the fuzz -------------------------------------------------------------------------------------


def hostile_values(widget: str, node: dict) -> list[str]:
    """Values the field must refuse (4xx), by widget."""
    values = list(CONTROL)
    if widget in ("number", "integer"):
        values += NUMBERS
    elif widget in ("date", "datetime"):
        values += DATES
    elif widget in ("select", "radio", "yesno", "multichoice"):
        values += NUMBERS[:2]
    elif isinstance(node.get("maxLength"), int):
        values.append("x" * (node["maxLength"] + 1))
    return values


def form_fields(schema: dict, prefix: str = "") -> Iterator[tuple[str, str, dict]]:
    """(form field name, widget, schema node) of every input, table fields with row 0."""
    required = set(schema.get("required") or [])
    for key, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict) or node.get("readOnly"):
            continue
        widget = widget_for(node, {}, key in required)
        if widget == "object":
            yield from form_fields(node, f"{prefix}{key}.")
        elif widget == "rows":
            yield from form_fields(node.get("items") or {}, f"{prefix}{key}.0.")
        elif widget not in ("checkbox", "file", "hidden"):
            yield f"{prefix}{key}", widget, node


def fuzz_form(b: Any, url: str, schema: dict, answers: dict, database: Any, app: Any) -> int:
    """Post ``answers`` with one field hostile at a time (and once 10 MB): all refused, nothing stored.

    Each field gets three of its widget's hostile values, in turn (the next field the next three),
    which keeps the time bounded while a form's fields together get all of them."""
    before = state(database, app)
    posts = 0
    for index, (name, widget, node) in enumerate(form_fields(schema)):
        values = hostile_values(widget, node)
        for value in (values[(index * 3 + k) % len(values)] for k in range(min(3, len(values)))):
            response = b.post(url, {**answers, name: value})
            form_refused(b, response, url, f"{url} {name}={value[:30]!r}")
            posts += 1
    form_refused(b, b.post(url, {**answers, "description": HUGE}), url, f"{url} 10 MB")
    assert state(database, app) == before, f"a refused post to {url} changed what is stored"
    return posts + 1


HOSTILE_BODIES = [
    "{" * 3 + '"a": NaN' + "}" * 3, '{"data": {"x": NaN}}', '{"data": {"x": -Infinity}}', '{"data": {"x": 1e400}}',
    '{"data": {"x": 1e5000}}', '{"data": {"x": ' + "9" * 5000 + "}}", '{"data": {"x": "a\\u0000b"}}',
    '{"data": {"x": "\\ud800"}}', '{"reason": "a\\u0000b"}', '{"data": {"x": "' + "x" * (10 * 1024 * 1024) + '"}}',
    '{"data": ' + "[" * 600 + "]" * 600 + "}", '{"data": ' + '{"d":' * 450 + "1" + "}" * 450 + "}",
    '{"bogus": 1}', '{"data": {"now": "x"}}', '{"data": {"repair_number": "RMA-2026-000001"}}',
    '{"process": "complaint\\u0000", "data": {}}', '{"to_version": 2147483648, "dry_run": true}',
    '{"process": "complaint", "instance_ids": [9223372036854775808], "to_version": 1}', "[" * 100_000, "\xff",
]
HOSTILE_QUERY = [str(2**31), str(2**63), "-1", "a\x00b", "1e5000", "NaN", "9999-12-31T23:59", "0001-01-01",
                 "x" * 70_000]


def fuzz_api(api: Api, app: Any, database: Any, instance_id: int, task_id: str) -> int:
    """Every operation of the OpenAPI document with hostile path ids, query values and bodies."""
    document = strict_json(app.test_client().get("/api/v1/openapi.json").get_data(as_text=True))
    calls = 0
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            method = method.upper()
            params = [p for p in op.get("parameters", []) if p["in"] == "query"]
            path_params = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]

            def url(ident: Any, path: str = path, path_params: list[str] = path_params) -> str:
                out = path
                for name in path_params:
                    out = out.replace("{" + name + "}", str(ident))
                return "/api/v1" + out.removeprefix("/api/v1")

            before = state(database, app)
            targets = [*IDS, "a%00b", "x" * 300] if path_params else [None]
            for ident in targets:
                response = api.call(method, url(ident), "{}" if method != "GET" else None)
                assert response.status_code < 500, (method, url(ident), response.status_code)
                calls += 1
            real = url(task_id if "task" in "".join(path_params) else instance_id)
            for param in params:
                for value in HOSTILE_QUERY:
                    response = api.call(method, real, None if method == "GET" else "{}",
                                        query_string={param["name"]: value})
                    assert response.status_code < 500, (method, real, param["name"], value[:20], response.json)
                    calls += 1
            if "requestBody" in op:  # (operations without a body never read one)
                for body in HOSTILE_BODIES:
                    response = api.call(method, real, body)
                    refused(response, f"{method} {real} {body[:40]!r}")
                    if response.status_code != 404 and response.content_type == "application/json":
                        assert strict_json(response.get_data(as_text=True))["error"]["message"]
                    calls += 1
                assert state(database, app) == before, f"a refused {method} {path} changed what is stored"
    return calls


def drive(b_for: Any, database: Any, app: Any, api: Api, instance_id: int, answers: dict) -> int:
    """Complete the case's tasks with ``answers``, fuzzing each task form first (web and API)."""
    posts = 0
    for _round in range(25):
        task = ready_task(database, instance_id)
        if task is None:
            return posts
        b = b_for(ROLE_USER[task.role])
        url = f"/tasks/{task.id}"
        assert b.get(url).status_code == 200
        schema = task_form(database, task.id)["schema"] or {}
        posts += fuzz_form(b, url, schema, answers[task.name], database, app)
        before = state(database, app)
        for junk in ({"now": "x"}, {"repair_number": "RMA-2026-000777"}, {"complaint_no": "CP-1"}, {"zz": 1}):
            response = api.call("POST", f"/api/v1/tasks/{task.id}/complete", json.dumps({"data": junk}))
            assert response.status_code == 422 and set(junk) <= set(response.json["error"]["fields"]), junk
            posts += 1
        assert state(database, app) == before
        on_the_day(answers[task.name])
        response = b.post(url, answers[task.name])
        assert response.status_code == 302, (task.name, response.get_data(as_text=True)[:300])
    raise AssertionError(f"case {instance_id} did not finish")


def test_fuzz_every_form_and_api_operation(app, database, deployed, browser, api, frozen_clock):
    started = time.monotonic()
    users: dict[str, Any] = {}

    def b_for(user: str) -> Any:
        if user not in users:
            users[user] = browser(user)
        return users[user]

    service = b_for("service")
    posts = 0
    for key, answers in (("complaint", REGISTRATION), ("repair", REPAIR_APPLICATION)):
        schema = start_form(database, key) or {}
        posts += fuzz_form(service, f"/start/{key}", schema, answers, database, app)
        # unknown and engine-owned fields in a web post are never read
        instance_id = new_case(service.post(f"/start/{key}", {**answers, "now": "x", "routing_rule": "RT-X",
                                                               "repair_number": "RMA-1", "j" * 150: "x"}))
        data = show(database, instance_id)["data"]
        assert not {"now", "j" * 150} & set(data)
        assert data.get("repair_number") != "RMA-1" and data.get("routing_rule") != "RT-X"
    complaint = new_case(service.post("/start/complaint", REGISTRATION))
    posts += drive(b_for, database, app, api, complaint, COMPLAINT_TASKS)
    repair = new_case(service.post("/start/repair", REPAIR_APPLICATION))
    with database.session() as s:
        open_task = s.scalars(select(store.HumanTask.id).where(store.HumanTask.instance_id == repair)).first()
    posts += fuzz_api(api, app, database, repair, open_task)
    posts += drive(b_for, database, app, api, repair, REPAIR_ANSWERS)

    with database.session() as s:
        ids = list(s.scalars(select(store.ProcessInstance.id)))
    for instance_id in ids:
        assert service.get(f"/cases/{instance_id}").status_code == 200
        strict_json(api.call("GET", f"/api/v1/instances/{instance_id}").get_data(as_text=True))
    for q in ("x", "CP", "1e400", "Infinity"):
        assert service.get(f"/cases?q={q}").status_code == 200
    elapsed = time.monotonic() - started
    print(f"hostile fuzz: {posts} requests in {elapsed:.1f} s")
    assert elapsed < 120
