"""Comments on the case page and the task page: writing (with files), editing and deleting one's own,
and the case history with the comments in their place (``collab_timeline``, used by ``case.html``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

import engine
from caseflow import comments, limits, store
from web import attachments, get_db, labels, rollback_request, templating
from web.forms.submission import UploadRejected

bp = Blueprint("comments", __name__)


def rejection_messages(codes: dict[str, str]) -> dict[str, str]:
    """The translated text of each field's rejection code (:data:`caseflow.comments.MESSAGES`)."""
    texts = {
        "empty": _("Write a comment."),
        "too_long": _("A comment has at most %(n)s characters.", n=limits.MAX_COMMENT_CHARS),
        "bad_text": _("The comment contains a control character."),
        "task": _("That task is not a task of this case."),
        "files": _("At most %(n)s files, uploaded by you to this case.", n=limits.MAX_COMMENT_FILES),
    }
    return {k: texts.get(v, v) for k, v in codes.items()}


def error_message(err: engine.EngineError) -> str:
    """A refused comment action in the user's language."""
    code = err.message_code
    if code == "comment_not_own":
        return _("Only its author may change a comment.")
    if code == "comment_window_over":
        return _("A comment can be changed only within %(n)s minutes of writing it.", n=err.message_args["minutes"])
    if code == "comment_deleted":
        return _("This comment was deleted.")
    if code == "comment_not_found":
        return _("No such comment.")
    return labels.engine_message(err)


def _back(instance_id: int) -> Any:
    target = request.form.get("next", "")
    if target.startswith("/tasks/") and "//" not in target:  # back to the task page it came from
        return redirect(target + "#comments")
    return redirect(url_for("cases.show", instance_id=instance_id) + "#comments")


@bp.post("/cases/<int:instance_id>/comments")
def add(instance_id: int) -> Any:
    """Add a comment (text, optionally a task of the case and files) to the case."""
    session = get_db()
    engine.show(session, instance_id, audit=False)  # 404 for an unknown case
    uploads = [f for f in request.files.getlist("files") if f and f.filename]
    batch = attachments.UploadBatch(session, current_user.username, instance_id)
    try:
        if len(uploads) > limits.MAX_COMMENT_FILES:
            raise comments.CommentRejected({"files": "files"})
        refs = [batch.store(upload, "files") for upload in uploads]
        ids = [i for i in (attachments.parse_reference(r) for r in refs) if i is not None]
        comments.create(session, instance_id, current_user.username, request.form.get("text", ""),
                        task_id=request.form.get("task_id") or None, attachment_ids=ids)
    except UploadRejected as err:
        batch.discard()
        rollback_request()
        flash(str(err), "error")
        return _back(instance_id)
    except comments.CommentRejected as err:
        batch.discard()
        rollback_request()
        flash(" ".join(rejection_messages(err.codes).values()), "error")
        return _back(instance_id)
    flash(_("Comment added."), "success")
    return _back(instance_id)


@bp.post("/comments/<int:comment_id>/edit")
def edit(comment_id: int) -> Any:
    """Change the text of one's own comment (within the edit window)."""
    session = get_db()
    comment = _comment(comment_id)
    try:
        comments.edit(session, comment_id, current_user.username, request.form.get("text", ""))
    except comments.CommentRejected as err:
        rollback_request()
        flash(" ".join(rejection_messages(err.codes).values()), "error")
        return _back(comment.instance_id)
    except (engine.Forbidden, engine.Conflict) as err:
        rollback_request()
        flash(error_message(err), "error")
        return _back(comment.instance_id)
    flash(_("Comment changed."), "success")
    return _back(comment.instance_id)


@bp.post("/comments/<int:comment_id>/delete")
def delete(comment_id: int) -> Any:
    """Delete one's own comment (within the edit window)."""
    comment = _comment(comment_id)
    try:
        comments.delete(get_db(), comment_id, current_user.username)
    except (engine.Forbidden, engine.Conflict) as err:
        rollback_request()
        flash(error_message(err), "error")
        return _back(comment.instance_id)
    flash(_("Comment deleted."), "success")
    return _back(comment.instance_id)


def _comment(comment_id: int) -> store.Comment:
    comment = get_db().get(store.Comment, comment_id)
    if comment is None:
        abort(404)
    return comment


# --- what the pages show ------------------------------------------------------------------------------


@dataclass
class CommentView:
    """A comment as a page shows it."""

    id: int
    at: str
    author: str
    actor: str  # the author's display name
    text: str
    task_title: str | None
    deleted: bool
    edited_at: str | None
    editable: bool
    files: list[tuple[int, str]] = field(default_factory=list)
    kind: str = "comment"


@dataclass
class Entry:
    """One line of the merged history: an audit entry of ``casefile.timeline`` or a comment."""

    at: str
    actor: str
    kind: str
    text: str
    details: list[Any] = field(default_factory=list)
    comment: CommentView | None = None


def comment_views(instance_id: int, task_id: str | None = None) -> list[CommentView]:
    """The comments of a case (of one task), oldest first, as the pages show them."""
    session = get_db()
    rows = comments.for_case(session, instance_id, task_id)
    if not rows:
        return []
    people = dict(session.execute(select(store.User.username, store.User.display_name)
                                  .where(store.User.username.in_({r.author for r in rows}))).all())
    titles = {r.id: templating.task_title({"instance_id": instance_id, "form": r.form, "title": r.title})
              for r in session.execute(select(store.HumanTask.id, store.HumanTask.title, store.HumanTask.form)
                                       .where(store.HumanTask.instance_id == instance_id,
                                              store.HumanTask.id.in_({r.task_id for r in rows if r.task_id})))}
    files = {a.id: a.filename for a in attachments.for_instance(session, instance_id)}
    me = current_user.username
    return [CommentView(r.id, r.created_at.isoformat(), r.author, people.get(r.author) or r.author, r.body,
                        titles.get(r.task_id) if r.task_id else None, r.deleted_at is not None,
                        r.edited_at.isoformat() if r.edited_at else None, comments.may_change(r, me),
                        [(i, files.get(i, "?")) for i in (r.attachment_ids or []) if r.deleted_at is None])
            for r in rows]


def _describe(kind: str, payload: dict[str, Any]) -> str | None:
    """Texts of the collaboration events of the history (None: keep the entry's own)."""
    if kind == "comment_edited":
        return _("Edited a comment")
    if kind == "comment_deleted":
        return _("Deleted a comment")
    return None


def _moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def collab_timeline(timeline: list[Any], instance_id: int, audit: list[Any]) -> list[Entry]:
    """``timeline`` (``casefile.timeline``: ``audit`` newest first, one entry per event) with the case's
    comments in their place; ``comment_added`` entries are the comments themselves."""
    payloads = ([e.get("payload") or {} for e in reversed(audit)] if len(audit) == len(timeline)
                else [{}] * len(timeline))
    events = [Entry(e.at, e.actor, e.kind, _describe(e.kind, p) or e.text, list(e.details))
              for e, p in zip(timeline, payloads, strict=True) if e.kind != "comment_added"]
    # Oldest first by time; at the same instant the history's own order, then the comments in theirs.
    keyed = [((_moment(e.at), 0, -i), e) for i, e in enumerate(events)]
    keyed += [((_moment(c.at), 1, i), Entry(c.at, c.actor, "comment", c.text, comment=c))
              for i, c in enumerate(comment_views(instance_id))]
    keyed.sort(key=lambda pair: pair[0])
    return [entry for _key, entry in reversed(keyed)]


@bp.app_template_global()
def case_comments(instance_id: int, task_id: str | None = None) -> list[CommentView]:
    """The comments of the case (of one task) for a template."""
    return comment_views(instance_id, task_id)


bp.add_app_template_global(collab_timeline, "collab_timeline")


@bp.app_context_processor
def _limits() -> dict[str, Any]:
    return {"comment_max_chars": limits.MAX_COMMENT_CHARS}
