"""Files uploaded on forms: bytes under ``settings.attachment_dir`` (outside the web root),
one ``Attachment`` row each; the form data holds the reference ``attachment:<id>``.
"""
from __future__ import annotations

import re
import uuid
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from caseflow import limits, store
from web.forms.submission import UploadRejected

REFERENCE = re.compile(r"^attachment:(\d+)$")
CHUNK = 64 * 1024


def reference(attachment: store.Attachment) -> str:
    return f"attachment:{attachment.id}"


def parse_reference(value: object) -> int | None:
    match = REFERENCE.match(value) if isinstance(value, str) else None
    return int(match.group(1)) if match else None


def safe_filename(name: str | None) -> str:
    """The last part of an uploaded file's name, without control characters, at most 300 characters."""
    base = Path(limits.clean_text(name or "").replace("\\", "/")).name.strip()
    return base[:300] or "file"


def storage_dir() -> Path:
    return Path(current_app.config["CASEFLOW_SETTINGS"].attachment_dir)


def max_bytes() -> int:
    return int(current_app.config["CASEFLOW_SETTINGS"].max_attachment_bytes)


def path_of(attachment: store.Attachment) -> Path:
    return storage_dir() / attachment.storage_name


class UploadBatch:
    """The uploads of one form post: saved as they are read, removed again if the post fails."""

    def __init__(self, session: Session, actor: str, instance_id: int | None):
        self.session = session
        self.actor = actor
        self.instance_id = instance_id
        self.saved: list[store.Attachment] = []

    def store(self, upload: FileStorage, _field: str) -> str:
        """Save one upload (size-limited) and return its reference; raises UploadRejected."""
        limit = max_bytes()
        folder = storage_dir()
        folder.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        target = folder / name
        size = 0
        with open(target, "wb") as out:
            while chunk := upload.stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    out.close()
                    target.unlink(missing_ok=True)
                    raise UploadRejected(_("The file is larger than %(mb)s MB.", mb=round(limit / 1048576, 1)))
                out.write(chunk)
        row = store.Attachment(instance_id=self.instance_id, filename=safe_filename(upload.filename),
                               content_type=limits.clean_text(upload.mimetype)[:200] or "application/octet-stream",
                               size=size, storage_name=name, uploaded_by=self.actor)
        try:
            self.session.add(row)
            self.session.flush()
        except BaseException:
            target.unlink(missing_ok=True)  # no file without its row
            raise
        self.saved.append(row)
        return reference(row)

    def may_keep(self, value: str) -> bool:
        """A reference already in the form may stay if it is an attachment of this case."""
        ident = parse_reference(value)
        if ident is None:
            return False
        row = self.session.get(store.Attachment, ident)
        return row is not None and row.instance_id is not None and row.instance_id == self.instance_id

    def adopt(self, instance_id: int) -> None:
        """Give uploads made before the case existed (start form) their case."""
        for row in self.saved:
            row.instance_id = instance_id

    def discard(self) -> None:
        """Delete the saved files (the rows go with the rolled-back transaction)."""
        for row in self.saved:
            (storage_dir() / row.storage_name).unlink(missing_ok=True)
        self.saved.clear()


def for_instance(session: Session, instance_id: int) -> list[store.Attachment]:
    return list(session.scalars(select(store.Attachment).where(store.Attachment.instance_id == instance_id)
                                .order_by(store.Attachment.id)))
