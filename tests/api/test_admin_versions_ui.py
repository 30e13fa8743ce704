"""The admin pages under /admin/processes: versions, upload -> report -> deploy, diagram,
diff, pin/unpin and migration with a dry run (server-rendered; bpmn-js draws in a browser)."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from caseflow import accounts, store

from api_helpers import DATA, make_zip, start_data

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Admin:
    def __init__(self, app, database, username: str = "admin"):
        self.client = app.test_client()
        with database.session() as s:
            user = s.scalars(select(store.User).where(store.User.username == username)).one()
            ident = f"{user.id}:{accounts.session_tag(user)}"
        with self.client.session_transaction() as sess:
            sess["_user_id"] = ident
            sess["_fresh"] = True
        self.token = None

    def get(self, url: str):
        r = self.client.get(url)
        match = TOKEN.search(r.get_data(as_text=True))
        if match:
            self.token = match.group(1)
        return r

    def post(self, url: str, data: dict | None = None, **kw):
        if self.token is None:
            self.get("/admin/processes/")
        payload = {"csrf_token": self.token, **(data or {})}
        return self.client.post(url, data=payload, **kw)

    def upload(self, files: dict[str, bytes]):
        return self.post("/admin/processes/upload", {"files": [(io.BytesIO(c), n) for n, c in files.items()]},
                         content_type="multipart/form-data")


@pytest.fixture
def admin(app, database, tokens):
    return Admin(app, database)


def _folder(name: str) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (DATA / name).iterdir() if p.is_file()}


def test_only_admins(app, database, tokens):
    quality = Admin(app, database, "quality")
    assert quality.get("/admin/processes/").status_code == 403
    assert app.test_client().get("/admin/processes/").status_code in (302, 401)


def test_upload_report_then_deploy(admin, api):
    page = admin.get("/admin/processes/")
    assert page.status_code == 200 and b"Deploy a new version" in page.data
    report = admin.upload(_folder("v1"))
    html = report.get_data(as_text=True)
    assert report.status_code == 200 and "becomes version 1" in html
    assert api.get("/api/v1/processes").json["items"] == []  # nothing stored before "Deploy"
    stash = re.search(r'/admin/processes/upload/([0-9a-f]{32})/deploy', html).group(1)
    done = admin.post(f"/admin/processes/upload/{stash}/deploy")
    assert done.status_code == 302 and done.headers["Location"].endswith("/admin/processes/svc_demo")
    assert api.get("/api/v1/processes").json["items"][0]["latest_version"] == 1
    assert admin.post(f"/admin/processes/upload/{stash}/deploy").status_code == 404  # used up
    again = admin.upload({"bundle.zip": make_zip(_folder("v1"))})
    assert "unchanged" in again.get_data(as_text=True) and b"data-testid=\"deploy\"" not in again.data


def test_refused_upload_shows_the_problems(admin, api):
    evil = (DATA / "v1" / "svc_demo.bpmn").read_text().replace(
        "<bpmn:definitions", '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>\n<bpmn:definitions', 1)
    r = admin.upload({"svc_demo.bpmn": evil.encode()})
    html = r.get_data(as_text=True)
    assert r.status_code == 422 and "nothing was stored" in html and "DOCTYPE / ENTITY" in html
    r = admin.upload({"svc_demo.bpmn": (DATA / "v1" / "svc_demo.bpmn").read_bytes()})
    assert r.status_code == 422 and "start.schema.json" in r.get_data(as_text=True)  # forms missing
    assert api.get("/api/v1/processes").json["items"] == []


def test_versions_diagram_diff_pin_and_migrate(admin, api, frozen_clock):
    api.upload_folder("v1")
    first = api.post("/api/v1/instances", {"process": "svc_demo", "data": start_data(1)}, who="service").json
    api.upload_folder("v2")
    api.upload_folder("v3_unsafe")

    page = admin.get("/admin/processes/svc_demo").get_data(as_text=True)
    assert 'data-version="3"' in page and "1</strong> running" in page
    diagram = admin.get("/admin/processes/svc_demo/v1")
    assert diagram.status_code == 200 and b'data-url="/admin/processes/svc_demo/v1/diagram.bpmn"' in diagram.data
    xml = admin.get("/admin/processes/svc_demo/v1/diagram.bpmn")
    assert xml.mimetype == "application/xml" and b'<bpmn:process id="svc_demo"' in xml.data
    diff = admin.get("/admin/processes/svc_demo/diff?from=1&to=2").get_data(as_text=True)
    assert "parameter days" in diff and "approve" in diff and "review.schema.json" in diff
    for query in ("from=abc&to=2", "from=1&to=-2", "to=99999999999"):  # never a silently different diff
        assert admin.get(f"/admin/processes/svc_demo/diff?{query}").status_code == 400, query

    assert admin.post("/admin/processes/svc_demo/pin", {"version": "1"}).status_code == 302
    assert api.get("/api/v1/processes").json["items"][0]["start_version"] == 1
    assert admin.post("/admin/processes/svc_demo/unpin").status_code == 302
    assert api.get("/api/v1/processes").json["items"][0]["start_version"] == 3

    dry = admin.post("/admin/processes/svc_demo/migrate", {"to": "3", "select": "all", "action": "dry_run"})
    html = dry.get_data(as_text=True)
    assert "Dry run: 0 of 1" in html and "refused" in html
    assert "does not exist in version 3" in html or "in its place" in html
    run = admin.post("/admin/processes/svc_demo/migrate",
                     {"to": "2", "select": "ids", "instance_ids": str(first["id"]), "action": "migrate"})
    assert "1 of 1 instance(s) moved to v2" in run.get_data(as_text=True)
    assert api.get(f"/api/v1/instances/{first['id']}").json["version"] == 2
    bad = admin.post("/admin/processes/svc_demo/migrate", {"to": "2", "select": "ids", "instance_ids": "x1"})
    assert bad.status_code == 422
