"""Acceptance 4: hostile uploads (XXE, "billion laughs", zip tricks) are refused fast with a
clear message, and the versions in use are unchanged."""
from __future__ import annotations

import time

import pytest

from api_helpers import DATA, make_zip, start_data

V1 = (DATA / "v1" / "svc_demo.bpmn").read_text(encoding="utf-8")
HEAD, BODY = V1.split("\n", 1)

XXE = HEAD + '\n<!DOCTYPE bpmn:definitions [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n' + \
    BODY.replace('name="Register"', 'name="&xxe;"')
LAUGHS = HEAD + "\n<!DOCTYPE lolz [\n" + '<!ENTITY lol "lol">\n' + "".join(
    f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">\n' for i in range(1, 10)) + \
    "]>\n" + BODY.replace('name="Register"', 'name="&lol9;"')
# The same without an XML declaration, and with the DOCTYPE hidden after a long comment.
HIDDEN = "<!--" + "x" * 10000 + "-->\n" + '<!DOCTYPE d [ <!ENTITY e SYSTEM "http://example.invalid/">]>\n' + BODY


def _versions(api) -> list[tuple[int, bool]]:
    r = api.get("/api/v1/processes/svc_demo/versions")
    return [(v["version"], v["starts_new_instances"]) for v in r.json["items"]]


@pytest.mark.parametrize("payload", [XXE, LAUGHS, HIDDEN], ids=["xxe", "billion-laughs", "hidden-doctype"])
@pytest.mark.parametrize("as_zip", [False, True], ids=["files", "zip"])
def test_entity_attacks_are_refused_fast(api, payload, as_zip):
    assert api.upload_folder("v1").status_code == 201
    running = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1)}, who="service").json
    files = {"svc_demo.bpmn": payload, "start.schema.json": (DATA / "v1" / "start.schema.json").read_text(),
             "review.schema.json": (DATA / "v1" / "review.schema.json").read_text()}
    if as_zip:
        files = {"evil.zip": make_zip(files)}
    began = time.perf_counter()
    r = api.upload(files)
    elapsed = time.perf_counter() - began
    assert elapsed < 1.0
    assert r.status_code == 422
    err = r.json["error"]
    assert err["code"] == "deploy_rejected"
    assert "DOCTYPE / ENTITY declarations are not allowed" in err["message"]
    assert err["fields"]["problems"][0]["file"] == "svc_demo.bpmn"
    assert "passwd" not in r.get_data(as_text=True)
    # Nothing changed: still one version, new and running instances on it.
    assert _versions(api) == [(1, True)]
    assert api.get(f"/api/v1/instances/{running['id']}").json["version"] == 1
    assert api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(2)},
                    who="service").json["version"] == 1


@pytest.mark.parametrize("entries, message", [
    ({"../svc_demo.bpmn": V1}, "unsafe path"),
    ({"/etc/svc_demo.bpmn": V1}, "unsafe path"),
    ({"a\\..\\svc_demo.bpmn": V1}, "unsafe path"),
    ({"a/b/svc_demo.bpmn": V1}, "no sub-folders"),
    ({"a/svc_demo.bpmn": V1, "b/start.schema.json": "{}"}, "no sub-folders"),
    ({"svc_demo.bpmn": V1, "run.sh": "echo hi"}, "only .bpmn, .dmn and .json"),
    ({"inner.zip": b"PK"}, "only .bpmn, .dmn and .json"),
], ids=["dotdot", "absolute", "backslash", "deep", "two-folders", "script", "nested-zip"])
def test_zip_tricks_are_refused(api, entries, message):
    r = api.upload({"bundle.zip": make_zip(entries)})
    assert r.status_code == 422, r.json
    assert message in r.json["error"]["message"]
    assert api.get("/api/v1/processes").json["items"] == []


def test_zip_bomb_and_size_limits(api, monkeypatch):
    from caseflow import uploads

    bomb = make_zip({"svc_demo.bpmn": "<a>" + " " * (30 * 1024 * 1024) + "</a>"})
    assert len(bomb) < 100_000
    r = api.upload({"bomb.zip": bomb})
    assert r.status_code == 422 and "unpacks to more than" in r.json["error"]["message"]
    monkeypatch.setattr(uploads, "MAX_ZIP_ENTRIES", 3)
    r = api.upload({"many.zip": make_zip({f"f{i}.json": "{}" for i in range(5)})})
    assert r.status_code == 422 and "more than 3 entries" in r.json["error"]["message"]
    r = api.upload({"junk.zip": b"this is not a zip"})
    assert r.status_code == 422 and "not a readable zip" in r.json["error"]["message"]


def test_upload_needs_files_multipart_and_admin(api):
    assert api.upload_folder("v1", who="quality").status_code == 403
    r = api.post("/api/v1/processes", {"files": []})
    assert r.status_code == 415
    r = api.client.post("/api/v1/processes", data={}, content_type="multipart/form-data",
                        headers={"Authorization": f"Bearer {api.tokens['admin']}"})
    assert r.status_code == 422 and "no file uploaded" in r.json["error"]["message"]


def test_invalid_bundle_gives_the_deploy_report(api):
    broken = V1.replace('id="working_days_deadline"', 'id="no_such_operator"').replace(
        '<bpmn:endEvent id="end" name="Done" />', '<bpmn:endEvent id="end" name="Done">')
    r = api.upload({"svc_demo.bpmn": broken})
    assert r.status_code == 422
    (problem,) = r.json["error"]["fields"]["problems"]
    assert problem["file"] == "svc_demo.bpmn" and problem["line"] and "not well-formed" in problem["message"]
    r = api.upload({"svc_demo.bpmn": V1.replace('id="working_days_deadline"', 'id="no_such_operator"')})
    problems = r.json["error"]["fields"]["problems"]
    assert any(p["element"] == "deadline" and "no_such_operator" in p["message"] and p["line"] for p in problems)
    assert any("start.schema.json" in p["message"] for p in problems)  # the forms are missing too
