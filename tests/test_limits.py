"""Pure checks of caseflow.limits (the input limits shared by engine, web and CLI)."""
from __future__ import annotations

from caseflow import limits


def test_text_problem_refuses_what_is_not_text_instead_of_crashing():
    assert limits.text_problem(None) == "is not readable text"  # type: ignore[arg-type]
    assert limits.text_problem("ok") is None
    assert "control character" in (limits.text_problem("a\x00b") or "")


def test_clean_text_of_what_is_not_text_is_empty():
    assert limits.clean_text(None) == ""  # type: ignore[arg-type]
    assert limits.clean_text("a\x00b") == "ab"
