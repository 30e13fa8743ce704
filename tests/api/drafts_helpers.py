"""Fixtures and helpers of the drafts API tests: a process owner with a token, the shipped processes
deployed, and uploading files into a draft."""
from __future__ import annotations

import io
from pathlib import Path

import pytest

import engine
from caseflow import accounts, store

ROOT = Path(__file__).resolve().parents[2]
#: The grading threshold of major functional defects in the shipped complaint diagram.
THRESHOLD = 'id="q_major_functional" type="int" value="15"'


@pytest.fixture(name="owner")
def owner_fixture(database, tokens) -> str:
    """A process owner with an API token (added to the ``tokens`` of the ``api`` client as "owner")."""
    with database.session() as s:
        user = store.User(username="owner", password_hash="!", active=True)
        user.roles = [store.UserRole(role="process_owner")]
        s.add(user)
        s.flush()
        _row, plain = accounts.create_token(s, "owner", "tests")
    tokens["owner"] = plain
    return "owner"


@pytest.fixture(name="deployed")
def deployed_fixture(database) -> None:
    with database.session() as s:
        engine.deploy(s, [ROOT / "processes"], actor="tests")


def put_files(api, draft_id: int, files: dict[str, str], who: str = "owner", row_version: int | None = None):
    """``PUT /api/v1/drafts/<id>/files`` with ``files`` (name -> text) as a multipart upload."""
    data = {"files": [(io.BytesIO(text.encode()), name) for name, text in files.items()]}
    query = f"?row_version={row_version}" if row_version is not None else ""
    return api.client.put(f"/api/v1/drafts/{draft_id}/files{query}", data=data, content_type="multipart/form-data",
                          headers={"Authorization": f"Bearer {api.tokens[who]}"})
