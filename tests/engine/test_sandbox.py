"""The script sandbox rules, and the environment SpiffWorkflow runs scripts in."""
from __future__ import annotations

import pytest

from caseflow._engine import sandbox, scripting


@pytest.mark.parametrize("source, mode", [
    ("import os", "exec"),
    ("from os import path", "exec"),
    ("__import__('os')", "eval"),
    ("().__class__.__mro__", "eval"),
    ("x._private", "eval"),
    ("def _hidden(): pass", "exec"),
    ("global y", "exec"),
])
def test_escapes_are_rejected_with_a_clear_message(source, mode):
    with pytest.raises(sandbox.ScriptRejected) as err:
        sandbox.compile_checked(source, mode)
    assert "not allowed" in str(err.value)


def test_scripts_see_data_safe_builtins_and_date_helpers(frozen_clock):
    env = scripting.RestrictedEnvironment()
    data = {"amount": 3, "items": [1, 2]}
    env.execute("total = amount * sum(items)\nstamp = now().isoformat()\n"
                "late = now() > parse_datetime('2020-01-01T00:00:00+00:00')", data)
    assert data["total"] == 9 and data["late"] is True and data["stamp"].startswith("2026-03-02T01:00")
    assert "now" not in data and "__builtins__" not in data  # helpers do not leak into the data
    assert env.evaluate("len(items) == 2 and max(items) == 2", data) is True
    with pytest.raises(NameError):
        env.evaluate("open('/etc/passwd')", data)  # not among the builtins
