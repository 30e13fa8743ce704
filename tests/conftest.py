"""Shared fixtures: a fresh database per test, a controllable clock, the conformance corpus."""
from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
# Every shortcut of the engine (SpiffWorkflow's task-tree walks, the data replayed from the last
# save) is checked against what it stands for, also in the servers the browser tests start.
os.environ.setdefault("CASEFLOW_VERIFY_SHORTCUTS", "1")
os.environ.setdefault("CASEFLOW_VERIFY_STATE_ROWS", "1")  # each save's task rows against a whole serialization

import engine  # noqa: E402  (after the sys.path set-up above)
from caseflow import clock, store  # noqa: E402

# The Flask `app` fixture of tests/web and tests/api (and the fixtures that tune it).
pytest_plugins = ["app_fixtures"]

CONFORMANCE = Path(__file__).resolve().parent / "data" / "conformance"  # see its README.md
PROCESSES = ROOT / "processes"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the whole test session (a real server, not a mock)."""
    from pg_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


_db_counter = iter(range(1, 1_000_000))


def _make_database(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> store.Database:
    if kind == "postgres":
        server = request.getfixturevalue("postgres_server")
        url = server.create_database(f"t{os.getpid()}_{next(_db_counter)}")
    else:
        url = f"sqlite:///{tmp_path / 'test.sqlite3'}"
    db = store.Database(url)
    db.upgrade()
    return db


@pytest.fixture
def database(tmp_path: Path, request: pytest.FixtureRequest):
    """A migrated SQLite database in a temporary folder."""
    db = _make_database("sqlite", tmp_path, request)
    yield db
    db.dispose()
    engine.clear_caches()


@pytest.fixture
def postgres_database(tmp_path: Path, request: pytest.FixtureRequest):
    """A migrated database on the throwaway PostgreSQL server (for PostgreSQL-only features)."""
    db = _make_database("postgres", tmp_path, request)
    yield db
    db.dispose()
    engine.clear_caches()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_database(tmp_path: Path, request: pytest.FixtureRequest):
    """The same test on SQLite and on the throwaway PostgreSQL server."""
    db = _make_database(request.param, tmp_path, request)
    yield db
    db.dispose()
    engine.clear_caches()


@pytest.fixture
def session(database: store.Database):
    """A session on a fresh database; committed at the end of the test if still open."""
    with database.session() as s:
        yield s


@pytest.fixture
def frozen_clock():
    """Freeze Caseflow's clock at Monday 2026-03-02 09:00 Asia/Shanghai."""
    clock.set(dt.datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    yield clock
    clock.reset()


@pytest.fixture
def conformance() -> Path:
    """The folder of BPMN files written by other tools (tests/data/conformance, the tests' own copy)."""
    assert CONFORMANCE.is_dir(), f"conformance corpus missing at {CONFORMANCE}"
    return CONFORMANCE
