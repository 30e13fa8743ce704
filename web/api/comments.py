"""Comments on an instance (list, create, edit, delete) and handing a task on (delegation)."""
from __future__ import annotations

import engine
from caseflow import comments
from schema import comments as s
from schema import tasks as st
from web import get_db
from web.api.core import actor, engine_actor, operation

TAGS = ["collaboration"]


@operation("/instances/<int:instance_id>/comments", "GET", summary="Comments of an instance", tags=TAGS,
           response=s.CommentListSchema, errors=(404,))
def list_comments(instance_id: int) -> dict:
    """The instance's comments (on it and on its tasks), oldest first; deleted ones have no text."""
    session = get_db()
    engine.show(session, instance_id, audit=False)  # 404 for an unknown instance
    return {"instance_id": instance_id,
            "items": [comments.as_dict(c, actor()) for c in comments.for_case(session, instance_id)]}


@operation("/instances/<int:instance_id>/comments", "POST", summary="Comment on an instance or its task",
           tags=TAGS, body=s.CommentCreateSchema, response=s.CommentSchema, status=201, errors=(404, 415, 422))
def create_comment(instance_id: int, body: dict) -> dict:
    """Add a comment (on the instance, or on its task `task_id`). Each `@username` of an active
    user notifies them in-app and by e-mail as they chose (their substitute while they are away);
    audited as `comment_added`."""
    comment = comments.create(get_db(), instance_id, actor(), body["text"], task_id=body.get("task_id"))
    return comments.as_dict(comment, actor())


@operation("/instances/<int:instance_id>/comments/<int:comment_id>", "PATCH", summary="Edit my comment",
           tags=TAGS, body=s.CommentEditSchema, response=s.CommentSchema, errors=(403, 404, 409, 415, 422))
def edit_comment(instance_id: int, comment_id: int, body: dict) -> dict:
    """Replace the text of the caller's own comment, within `CASEFLOW_COMMENT_EDIT_MINUTES` (default
    15) of writing it (403 otherwise); audited as `comment_edited` with the old text."""
    comment = comments.edit(get_db(), comment_id, actor(), body["text"], instance_id=instance_id)
    return comments.as_dict(comment, actor())


@operation("/instances/<int:instance_id>/comments/<int:comment_id>", "DELETE", summary="Delete my comment",
           tags=TAGS, response=s.CommentSchema, errors=(403, 404, 409))
def delete_comment(instance_id: int, comment_id: int) -> dict:
    """Delete the caller's own comment within the edit window (403 otherwise): its text is
    blanked, the old text is in the audit event `comment_deleted`."""
    comment = comments.delete(get_db(), comment_id, actor(), instance_id=instance_id)
    return comments.as_dict(comment, actor())


@operation("/tasks/<task_id>/delegate", "POST", summary="Hand a task on", tags=["tasks", *TAGS],
           body=s.DelegateRequestSchema, response=st.TaskSchema, errors=(403, 404, 409, 415, 422))
def delegate(task_id: str, body: dict) -> engine.TaskRecord:
    """Give the ready task to `to`, an active user of its role (their substitute while they are
    away), with a `reason`. Allowed to its holder, the holder's substitute during an absence,
    managers (`manager`, `general_manager`) and admins (403 otherwise); audited as
    `task_delegated`, the new holder is notified. 409 when the task changed meanwhile."""
    return engine.delegate(get_db(), task_id, body["to"], body["reason"], engine_actor())
