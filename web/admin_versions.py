"""``/admin/processes``: process versions for administrators.

Processes with their versions (deployed by whom and when, content hash, instances per
version), upload of a bundle (files or a zip) -> the validation report of ``caseflow
deploy`` -> deploy, a version's diagram (bpmn-js), a readable diff of two versions, pin /
unpin, and the migration of running instances with a dry run. Thin over the engine; the
upload checks and the deployment are caseflow/uploads.py's, as for the API. Templates:
web/admin_versions_templates/.
"""
from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, BinaryIO, cast

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

import engine
from caseflow import bundles, store, uploads
from caseflow.config import MAX_DB_ID
from web import get_db, rollback_request
from web.labels import engine_message
from web.templating import process_label
from web.views.common import actor, admin_required

bp = Blueprint("admin_versions", __name__, url_prefix="/admin/processes", template_folder="admin_versions_templates")

STASH_TTL_S = 24 * 3600
_STASH_ID = re.compile(r"^[0-9a-f]{32}$")


@bp.before_request
@admin_required
def _admins_only() -> None:
    """Every page here is for the ``admin`` role only."""


# --- an uploaded bundle waits here between its validation report and "Deploy" ---


def _stash_dir() -> Path:
    path = Path(current_app.instance_path) / "bundle_uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stash(files: dict[str, str]) -> str:
    now = time.time()
    for old in _stash_dir().glob("*.json"):
        if now - old.stat().st_mtime > STASH_TTL_S:
            old.unlink(missing_ok=True)
    stash_id = uuid.uuid4().hex
    fd = os.open(_stash_dir() / f"{stash_id}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"files": files, "by": actor()}, fh)
    return stash_id


def _stash_path(stash_id: str) -> Path:
    if not _STASH_ID.match(stash_id):
        abort(404)
    path = _stash_dir() / f"{stash_id}.json"
    if not path.exists():
        abort(404)
    return path


# --- pages ---


@bp.route("/")
def index() -> Any:
    """Every process: latest version, where new instances start, running instances; upload form."""
    session = get_db()
    processes = engine.list_processes(session)
    running = {p["key"]: sum(v["running_instances"] for v in engine.list_versions(session, p["key"]))
               for p in processes}
    return render_template("admin_versions/index.html", processes=processes, running=running)


@bp.route("/upload", methods=["POST"])
def upload_bundle() -> Any:
    """Validate an uploaded bundle and show the report (the same as `caseflow deploy`'s)."""
    # FileStorage.stream is typed IO[bytes]; uploads only read()s it, so BinaryIO is safe
    items = [(f.filename or "", cast(BinaryIO, f.stream)) for f in request.files.getlist("files") if f.filename]
    session = get_db()
    completions: list[uploads.Completion] = []
    try:
        # Files the upload lacks come from the latest version (only the edited diagram may be uploaded).
        bundle, completions = uploads.complete_from_current(session, uploads.bundle_from_files(items))
        report = uploads.deploy_bundle(session, bundle, actor(), validate_only=True)
    except (uploads.UploadRejected, engine.DeployRejected) as err:
        rollback_request()
        return render_template("admin_versions/report.html", problems=err.problems, report=None,
                               stash_id=None, completions=completions), 422
    stash_id = _stash(bundle.files) if any(p["status"] == "valid" for p in report["processes"]) else None
    return render_template("admin_versions/report.html", problems=[], report=report, stash_id=stash_id,
                           completions=completions)


@bp.route("/upload/<stash_id>/deploy", methods=["POST"])
def deploy_stashed(stash_id: str) -> Any:
    """Deploy a bundle that passed validation."""
    path = _stash_path(stash_id)
    files = json.loads(path.read_text(encoding="utf-8"))["files"]
    session = get_db()
    try:
        report = uploads.deploy_bundle(session, bundles.Bundle(source="upload", files=files), actor())
    except engine.DeployRejected as err:  # e.g. a callee changed since the report
        rollback_request()
        return render_template("admin_versions/report.html", problems=err.problems, report=None,
                               stash_id=None), 422
    path.unlink(missing_ok=True)
    for p in report["processes"]:
        flash(_("%(key)s: version %(version)s %(status)s.", key=process_label(p["key"]), version=p["version"],
                status=_("deployed") if p["status"] == "deployed" else _("unchanged")), "success")
    first = report["processes"][0]["key"] if report["processes"] else None
    return redirect(url_for(".versions", key=first) if first else url_for(".index"))


@bp.route("/<key>")
def versions(key: str) -> Any:
    """The versions of one process with instance counts, pin/unpin, compare and migrate."""
    rows = engine.list_versions(get_db(), key)
    return render_template("admin_versions/versions.html", key=key, versions=rows,
                           name=rows[0]["name"] if rows else None)


@bp.route("/<key>/pin", methods=["POST"])
def pin(key: str) -> Any:
    version = request.form.get("version", type=_db_int)
    if version is None:
        abort(400)
    engine.pin(get_db(), key, version, actor())
    flash(_("New %(key)s cases now start on version %(version)s.", key=process_label(key), version=version),
          "success")
    return redirect(url_for(".versions", key=key))


@bp.route("/<key>/unpin", methods=["POST"])
def unpin(key: str) -> Any:
    out = engine.unpin(get_db(), key, actor())
    flash(_("New %(key)s cases start on the latest version (%(version)s) again.", key=process_label(key),
            version=out["start_version"]), "success")
    return redirect(url_for(".versions", key=key))


@bp.route("/<key>/v<int:version>")
def show_version(key: str, version: int) -> Any:
    """A version's diagram (bpmn-js) and its files."""
    session = get_db()
    definition = engine.find_definition(session, key, version)
    info = engine.version_info(session, definition.id)
    others = {n: t for n, t in definition.files.items() if not n.endswith(".bpmn")}
    return render_template("admin_versions/version.html", key=key, v=info, others=others)


@bp.route("/<key>/v<int:version>/diagram.bpmn")
def diagram_xml(key: str, version: int) -> Any:
    """The BPMN XML of the version (for bpmn-js)."""
    session = get_db()
    definition = engine.find_definition(session, key, version)
    response = Response(engine.diagram_xml(session, definition.id), mimetype="application/xml")
    response.headers["Cache-Control"] = "private, max-age=86400"  # a deployed version never changes
    return response


@bp.route("/<key>/diff")
def diff(key: str) -> Any:
    """A readable diff between two versions (default: the latest and the one before)."""
    session = get_db()
    rows = engine.list_versions(session, key)
    newest = rows[0]["version"]
    given = {name: request.args.get(name, "").strip() for name in ("from", "to")}
    bad = [name for name, text in given.items() if text and not _is_db_int(text)]
    if bad:
        abort(400, description=_("%(names)s: a version number, e.g. 2", names=", ".join(bad)))
    to_v = int(given["to"]) if given["to"] else newest
    from_v = int(given["from"]) if given["from"] else max(1, to_v - 1)
    a = engine.find_definition(session, key, from_v)
    b = engine.find_definition(session, key, to_v)
    result = engine.diff_versions(session, a.id, b.id)
    return render_template("admin_versions/diff.html", key=key, d=result, versions=rows,
                           from_v=from_v, to_v=to_v)


def _is_db_int(text: str) -> bool:
    try:
        _db_int(text)
    except ValueError:
        return False
    return True


def _db_int(text: str) -> int:
    """A version or id argument: a whole number the database can hold (else ValueError)."""
    if not text.isdigit() or len(text) > 10 or not 0 < int(text) <= MAX_DB_ID:
        raise ValueError(text)
    return int(text)


_CASE_NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9-]{1,90}$")  # CP-2026-000001, RMA-2026-000007


def _parse_ids(session: Any, text: str) -> list[int]:
    """Instance ids from a list of ids and case numbers (``12, CP-2026-000001``), in order, once each."""
    ids: list[int] = []
    for part in re.split(r"[\s,;，、]+", text.strip()):
        if not part:
            continue
        if part.isdigit() and len(part) <= 10 and 0 < int(part) <= MAX_DB_ID:
            ids.append(int(part))
            continue
        found = session.scalars(select(store.ProcessInstance.id)
                                .where(store.ProcessInstance.business_key == part.upper())).all() \
            if _CASE_NUMBER.match(part) else []
        if not found:
            raise engine.InvalidData({"instance_ids": _("neither an instance id nor a case number: %(value)s",
                                                        value=part)})
        ids.extend(found)
    return list(dict.fromkeys(ids))


@bp.route("/<key>/migrate", methods=["GET", "POST"])
def migrate(key: str) -> Any:
    """Choose instances and a target version; a dry run reports per instance, then migrate."""
    session = get_db()
    rows = engine.list_versions(session, key)
    form = request.form if request.method == "POST" else request.args
    target_v = form.get("to", type=_db_int) or rows[0]["version"]
    selection = form.get("select", "all")
    report = None
    status = 200
    if request.method == "POST":
        target = engine.find_definition(session, key, target_v)
        try:
            if selection == "ids":
                ids = _parse_ids(session, form.get("instance_ids", ""))
            elif selection == "version":
                ids = engine.migration_candidates(session, key=key, version=form.get("from", type=_db_int) or 0)
            else:
                ids = engine.migration_candidates(session, key=key, exclude_definition_id=target.id)
        except engine.InvalidData as err:
            rollback_request()
            flash(" ".join(str(text) for text in err.fields.values()) or engine_message(err), "error")
            return render_template("admin_versions/migrate.html", key=key, versions=rows, target_v=target_v,
                                   form=form, report=None), 422
        dry_run = form.get("action") != "migrate"
        report = engine.migrate(session, ids, target.id, actor(), dry_run=dry_run)
        if not dry_run:
            flash(_("%(done)s of %(total)s instance(s) moved to version %(version)s.", done=report["migrated"],
                    total=report["requested"], version=target_v),
                  "success" if report["migrated"] == report["requested"] else "warning")
    return render_template("admin_versions/migrate.html", key=key, versions=rows, target_v=target_v,
                           form=form, report=report), status
