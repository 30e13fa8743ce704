"""Comments on a case or on one of its tasks, with @mentions that notify; the one writer of ``comment``.

- **Text**: 1 to :data:`caseflow.limits.MAX_COMMENT_CHARS` characters, no control characters;
  up to :data:`caseflow.limits.MAX_COMMENT_FILES` files (``attachment`` rows of the same case,
  uploaded by the author, stored like form uploads).
- **Mentions**: ``@username`` (never a display name: those are neither unique nor free of spaces).
  The ``@`` stands at the start of the text or after a space or punctuation (so an e-mail address
  is no mention); the mention is the longest username of an active user that the text after it
  starts with, ending at a space, at punctuation or CJK text (``@li.wang,`` and ``@张三请看`` work),
  never inside a Latin name (``@li`` is not found in ``@lisa``). A mention counts when that user
  may see the case: every active staff user sees every case in Caseflow (as the case list does).
  The author is never notified of their own mention. Each mentioned user hears of it
  in-app and by e-mail per their choice (their substitute while they are absent), through the
  outbox in the same transaction (``caseflow.notify.personal``).
- **Edit and delete**: only the author, within ``CASEFLOW_COMMENT_EDIT_MINUTES`` (default 15)
  of writing it. Every change is audited on the case (``comment_added``, ``comment_edited`` and
  ``comment_deleted``, the last two with the old text); a deleted comment keeps its place in the
  history, its text blanked. An edit notifies only users newly mentioned.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import engine
from caseflow import clock, config, limits, store
from caseflow.notify import personal

C = store.Comment
_MENTION = re.compile(r"(?:^|(?<=[\s(\[{,.;:!?，。；：！？、（]))@(\S+)")
_NAME_MAX = 100  # a username's longest length
MAX_MENTIONS = 50  # "@" read per comment
EXCERPT_CHARS = 300

#: Rejection codes and their English text (the API's; the web UI translates the codes).
MESSAGES = {
    "empty": "write a comment",
    "too_long": f"at most {limits.MAX_COMMENT_CHARS} characters",
    "bad_text": "contains a control character",
    "task": "not a task of this case",
    "files": f"at most {limits.MAX_COMMENT_FILES} files, uploaded by you to this case",
}


class CommentRejected(engine.InvalidData):
    """A comment's input breaks a rule: ``codes`` maps each field to a code of :data:`MESSAGES`."""

    def __init__(self, codes: dict[str, str]):
        super().__init__({k: MESSAGES[v] for k, v in codes.items()}, "the comment is not valid")
        self.codes = codes


def edit_window() -> dt.timedelta:
    """How long the author may edit or delete a comment (``CASEFLOW_COMMENT_EDIT_MINUTES``)."""
    return dt.timedelta(minutes=config.load().comment_edit_minutes)


def _tokens(text: str) -> list[str]:
    """The text after each ``@`` that may start a mention, up to the next space (at most 100 characters)."""
    return [m.group(1)[:_NAME_MAX] for m in _MENTION.finditer(text or "")][:MAX_MENTIONS]


def _ends_name(token: str, length: int) -> bool:
    """Whether a name of ``length`` characters may end there: at the token's end, or before a character
    that cannot continue a Latin name (so ``@li`` is not found in ``@lisa``; ``@张三请看`` finds ``张三``)."""
    return length == len(token) or not (token[length].isascii() and (token[length].isalnum() or token[length] in "_-"))


def mentioned_names(text: str) -> list[str]:
    """Every name a mention in ``text`` could mean (each prefix of each ``@`` token that may end a name)."""
    found = [t[:k] for t in _tokens(text) for k in range(len(t), 0, -1) if _ends_name(t, k)]
    return list(dict.fromkeys(found))


def resolve_mentions(session: Session, text: str) -> list[str]:
    """The active users ``text`` mentions, in order of first mention: for each ``@``, the longest active
    username the text after it starts with (see :func:`_ends_name`)."""
    candidates = mentioned_names(text)
    if not candidates:
        return []
    active = set(session.scalars(select(store.User.username).where(store.User.username.in_(candidates),
                                                                   store.User.active.is_(True))))
    out: list[str] = []
    for token in _tokens(text):
        name = next((token[:k] for k in range(len(token), 0, -1) if _ends_name(token, k) and token[:k] in active),
                    None)
        if name is not None and name not in out:
            out.append(name)
    return out


def _case(session: Session, instance_id: int) -> Any:
    row = session.execute(select(store.ProcessInstance.id, store.ProcessInstance.business_key,
                                 store.ProcessInstance.process_key)
                          .where(store.ProcessInstance.id == instance_id)).first()
    if row is None:
        raise engine.NotFound(f"no instance {instance_id}")
    return row


def _text_code(text: str) -> str | None:
    if not text.strip():
        return "empty"
    if len(text) > limits.MAX_COMMENT_CHARS:
        return "too_long"
    return "bad_text" if limits.text_problem(text, None) else None


def _task_title(session: Session, instance_id: int, task_id: str | None) -> str | None:
    if task_id is None:
        return None
    title = session.scalar(select(store.HumanTask.title).where(store.HumanTask.id == task_id,
                                                               store.HumanTask.instance_id == instance_id))
    if title is None:
        raise CommentRejected({"task_id": "task"})
    return str(title)


def _check_files(session: Session, instance_id: int, author: str, ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(int(i) for i in ids))
    if not wanted:
        return []
    if len(wanted) > limits.MAX_COMMENT_FILES:
        raise CommentRejected({"files": "files"})
    found = set(session.scalars(select(store.Attachment.id).where(
        store.Attachment.id.in_(wanted), store.Attachment.instance_id == instance_id,
        store.Attachment.uploaded_by == author)))
    if found != set(wanted):
        raise CommentRejected({"files": "files"})
    return wanted


def _notify(session: Session, comment: store.Comment, case: Any, names: Iterable[str], title: str | None) -> None:
    author_name = session.scalar(select(store.User.display_name).where(store.User.username == comment.author))
    excerpt = comment.body if len(comment.body) <= EXCERPT_CHARS else comment.body[:EXCERPT_CHARS] + "…"
    for name in names:
        if name != comment.author:
            personal.notify(session, name, "comment_mention", {
                "comment_id": comment.id, "author": comment.author, "author_name": author_name,
                "excerpt": excerpt, "instance_id": case.id, "business_key": case.business_key,
                "process_key": case.process_key, "task_id": comment.task_id, "task_title": title}, case.id)


def create(session: Session, instance_id: int, author: str, text: str, task_id: str | None = None,
           attachment_ids: Sequence[int] = ()) -> store.Comment:
    """Add ``author``'s comment to the case (or its task ``task_id``); audited, mentions notified."""
    case = _case(session, instance_id)
    text = (text or "").strip()
    code = _text_code(text)
    if code:
        raise CommentRejected({"text": code})
    title = _task_title(session, instance_id, task_id or None)
    files = _check_files(session, instance_id, author, attachment_ids)
    mentions = resolve_mentions(session, text)
    comment = C(instance_id=instance_id, task_id=task_id or None, author=author, body=text, mentions=mentions,
                attachment_ids=files, created_at=clock.now())
    session.add(comment)
    session.flush()
    engine.record_event(session, instance_id, author, "comment_added", _task_name(session, comment.task_id),
                        {"comment": comment.id, "mentions": mentions, "attachments": files})
    _notify(session, comment, case, mentions, title)
    return comment


def _task_name(session: Session, task_id: str | None) -> str | None:
    if task_id is None:
        return None
    return session.scalar(select(store.HumanTask.name).where(store.HumanTask.id == task_id))


def get(session: Session, comment_id: int, instance_id: int | None = None) -> store.Comment:
    """The comment ``comment_id`` (of case ``instance_id`` when given); NotFound otherwise."""
    comment = session.get(C, comment_id)
    if comment is None or (instance_id is not None and comment.instance_id != instance_id):
        raise engine.NotFound(f"no comment {comment_id}", message_code="comment_not_found")
    return comment


def may_change(comment: store.Comment, username: str, now: dt.datetime | None = None) -> bool:
    """Whether ``username`` may still edit or delete ``comment`` (its author, within the window)."""
    now = now or clock.now()
    return comment.deleted_at is None and comment.author == username and now - comment.created_at <= edit_window()


def _check_change(comment: store.Comment, username: str) -> None:
    if comment.deleted_at is not None:
        raise engine.Conflict(f"comment {comment.id} is deleted", message_code="comment_deleted")
    if comment.author != username:
        raise engine.Forbidden("only its author may change a comment", message_code="comment_not_own")
    if not may_change(comment, username):
        minutes = config.load().comment_edit_minutes
        raise engine.Forbidden(f"a comment may be changed only within {minutes} minutes of writing it",
                               message_code="comment_window_over", minutes=minutes)


def edit(session: Session, comment_id: int, username: str, text: str, instance_id: int | None = None) -> store.Comment:
    """Replace the text of ``username``'s own comment (within the window); audited with the old text."""
    comment = get(session, comment_id, instance_id)
    _check_change(comment, username)
    text = (text or "").strip()
    code = _text_code(text)
    if code:
        raise CommentRejected({"text": code})
    old, before = comment.body, list(comment.mentions or [])
    mentions = resolve_mentions(session, text)
    comment.body, comment.mentions, comment.edited_at = text, mentions, clock.now()
    session.flush()
    engine.record_event(session, comment.instance_id, username, "comment_edited", _task_name(session, comment.task_id),
                        {"comment": comment.id, "old_text": old, "text": text})
    case = _case(session, comment.instance_id)
    _notify(session, comment, case, [m for m in mentions if m not in before],
            _task_title(session, comment.instance_id, comment.task_id))
    return comment


def delete(session: Session, comment_id: int, username: str, instance_id: int | None = None) -> store.Comment:
    """Delete ``username``'s own comment (within the window): its text is blanked, the old text audited."""
    comment = get(session, comment_id, instance_id)
    _check_change(comment, username)
    old = comment.body
    comment.body, comment.deleted_at = "", clock.now()
    session.flush()
    engine.record_event(session, comment.instance_id, username, "comment_deleted",
                        _task_name(session, comment.task_id), {"comment": comment.id, "old_text": old})
    return comment


def for_case(session: Session, instance_id: int, task_id: str | None = None) -> list[store.Comment]:
    """The case's comments (of one task when given), oldest first; deleted ones included (blank)."""
    stmt = select(C).where(C.instance_id == instance_id).order_by(C.id)
    if task_id is not None:
        stmt = stmt.where(C.task_id == task_id)
    return list(session.scalars(stmt))


def as_dict(comment: store.Comment, username: str | None = None) -> dict[str, Any]:
    """A comment as the API and pages show it (``editable``: ``username`` may still change it)."""
    return {"id": comment.id, "instance_id": comment.instance_id, "task_id": comment.task_id,
            "author": comment.author, "text": comment.body, "mentions": list(comment.mentions or []),
            "attachment_ids": list(comment.attachment_ids or []), "created_at": comment.created_at.isoformat(),
            "edited_at": comment.edited_at.isoformat() if comment.edited_at else None,
            "deleted": comment.deleted_at is not None,
            "editable": bool(username) and may_change(comment, username or "")}
