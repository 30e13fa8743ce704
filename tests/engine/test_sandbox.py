"""The script sandbox rules, and the environment SpiffWorkflow runs scripts in."""
from __future__ import annotations

import time

import pytest

from caseflow._engine import sandbox, scripting


@pytest.mark.parametrize("source, mode, problem", [
    ("import os", "exec", "imports are not allowed"),
    ("from os import path", "exec", "imports are not allowed"),
    ("__import__('os')", "eval", '"__import__" is an invalid variable name'),
    ("().__class__.__mro__", "eval", '"__mro__" is an invalid attribute name'),
    ("x._private", "eval", '"_private" is an invalid attribute name'),
    ("def _hidden(): pass", "exec", '"_hidden" is an invalid variable name'),
    ("global y", "exec", "global statements are not allowed"),
    ("'{0.x}'.format(1)", "eval", "the attribute 'format' is not allowed"),
    ("(x for x in []).gi_frame", "eval", '"gi_frame" is a restricted name'),
    ("type(1)", "eval", "type() is not allowed"),
    ("class A:\n    pass", "exec", "class definitions are not allowed"),
    ("x = 1 +", "exec", "SyntaxError"),
])
def test_escapes_are_rejected_with_a_clear_message(source, mode, problem):
    with pytest.raises(sandbox.ScriptRejected) as err:
        sandbox.compile_checked(source, mode)
    assert problem in str(err.value) and "line 1" in str(err.value)


def test_compiled_code_is_cached():
    assert sandbox.compile_checked("a + 1", "eval") is sandbox.compile_checked("a + 1", "eval")


def test_scripts_see_data_safe_builtins_and_date_helpers(frozen_clock):
    env = scripting.RestrictedEnvironment()
    data = {"amount": 3, "items": [1, 2]}
    env.execute("total = amount * sum(items)\nstamp = now().isoformat()\n"
                "late = now() > parse_datetime('2020-01-01T00:00:00+00:00')", data)
    assert data["total"] == 9 and data["late"] is True and data["stamp"].startswith("2026-03-02T01:00")
    assert "now" not in data and "__builtins__" not in data and "_getattr_" not in data  # nothing leaks
    assert env.evaluate("len(items) == 2 and max(items) == 2", data) is True
    with pytest.raises(NameError):
        env.execute("o = open", data)  # not among the builtins
    with pytest.raises(sandbox.ScriptRejected):
        env.evaluate("open('/etc/passwd')", data)  # refused before it runs


def test_guarded_builtins_still_work_as_types():
    env = scripting.RestrictedEnvironment()
    assert env.evaluate("isinstance(x, list) and isinstance(y, (dict, tuple)) and not isinstance(x, dict)",
                        {"x": [1], "y": {"a": 1}}) is True
    assert env.evaluate("list(range(3)) + list((1, 2)) + sorted({3, 1})", {}) == [0, 1, 2, 1, 2, 1, 3]
    assert env.evaluate("dict.fromkeys(['a'], 0)", {}) == {"a": 0}
    assert env.evaluate("str.join('-', ['a', 'b'])", {}) == "a-b"


def test_task_data_cannot_stand_in_for_the_guards():
    env = scripting.RestrictedEnvironment()
    assert env.evaluate("word.upper()", {"word": "ok", "_getattr_": "not a guard", "_binop_": None}) == "OK"


@pytest.mark.parametrize("source", [
    "while True: pass",
    "for a in range(10**6):\n    for b in range(10**6):\n        pass",
    "x = [1 for a in range(5000) for b in range(5000)]",
    "x = sum(1 for a in range(5000) for b in range(5000))",
    "f = lambda n: n if n < 1 else f(n - 1) + f(n - 1)\nx = f(60)",
    "def f(n):\n    return n if n < 1 else f(n - 1) + f(n - 1)\nx = f(60)",
    "x = max(range(6000000), key=lambda v: -v)",
    "while True:\n    try:\n        while True: pass\n    except Exception:\n        pass",
    "while True:\n    try:\n        while True: pass\n    finally:\n        continue",
])
def test_every_place_a_script_spends_time_in_checks_the_budget(source):
    sandbox.set_budget(sandbox.Budget(0.2, 50_000_000))
    began = time.perf_counter()
    try:
        with pytest.raises(sandbox.ScriptBudgetExceeded, match="time budget of 0.2 s"):
            scripting.RestrictedEnvironment().execute(source, {})
    finally:
        sandbox.set_budget(None)
    assert time.perf_counter() - began < 1.2


def test_a_stopped_script_leaves_no_half_built_values():
    env = scripting.RestrictedEnvironment()
    data = {"a": 1}
    sandbox.set_budget(sandbox.Budget(0.2, 50_000_000))
    try:
        with pytest.raises(sandbox.ScriptBudgetExceeded):
            env.execute("b = 2\nwhile True: pass", data)
    finally:
        sandbox.set_budget(None)
    assert data == {"a": 1}


def test_the_budget_comes_from_the_settings(monkeypatch):
    monkeypatch.setenv("CASEFLOW_SCRIPT_TIMEOUT_S", "2.5")
    monkeypatch.setenv("CASEFLOW_SCRIPT_MAX_BYTES", "1000")
    previous = sandbox.set_budget(None)
    try:
        assert sandbox.budget() == sandbox.Budget(2.5, 1000)
        with pytest.raises(sandbox.ScriptBudgetExceeded, match="at most 1.0 kB"):
            scripting.RestrictedEnvironment().evaluate("'a' * 2000", {})
    finally:
        sandbox.set_budget(previous)


def test_runtime_refusals_of_what_only_shows_when_it_runs():
    env = scripting.RestrictedEnvironment()
    with pytest.raises(sandbox.ScriptRejected, match="'\\*' widths"):
        env.evaluate("'%*d' % (5, 1)", {})
    with pytest.raises(sandbox.ScriptRejected, match="sum\\(\\) adds numbers only"):
        env.evaluate("sum([[1]], [])", {})
    with pytest.raises(TypeError):
        env.execute("now.x = 1", {})  # writes only to dicts and lists
