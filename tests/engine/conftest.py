"""Engine-layer fixtures."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import engine
from caseflow import cli, store

TWO_TASKS = Path(__file__).parent / "data"  # the two_tasks diagram and its forms


@pytest.fixture
def db(any_database: store.Database) -> store.Database:
    """``any_database`` (SQLite, then PostgreSQL) with the two_tasks diagram deployed."""
    with any_database.session() as s:
        engine.deploy(s, [TWO_TASKS], actor="admin")
    return any_database


@pytest.fixture
def caseflow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Run `caseflow ARGS...` against a fresh SQLite database; returns (exit code, output, stderr).

    With ``--json`` and a JSON answer the output is parsed.
    """
    monkeypatch.setenv("CASEFLOW_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.sqlite3'}")
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str) -> tuple[int, object, str]:
        result = runner.invoke(cli.main, list(args), catch_exceptions=False)
        out = result.stdout
        parsed = json.loads(out) if "--json" in args and out.strip().startswith(("{", "[")) else out
        return result.exit_code, parsed, result.stderr

    return run
