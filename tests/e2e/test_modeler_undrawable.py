"""In a real browser: a deployed diagram the modeler cannot draw in full (one exported by another tool
with parts bpmn-js does not read, one written by hand without a layout) opens with saving, checking
and downloading off and a message saying why, so a save from the modeler cannot strip what it did
not draw (every lane's tasks, for one)."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

import engine
from caseflow import store

pytestmark = pytest.mark.browser

TESTS = Path(__file__).resolve().parents[1]
APPROVALS = TESTS / "data" / "conformance" / "Approvals.bpmn"  # exported by BonitaSoft (origin in its folder)


@pytest.fixture(scope="module")
def undrawable_server(own_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A server of this module's own with Approvals and a diagram without layout deployed."""
    sys.path.insert(0, str(TESTS / "engine"))
    import sandbox_diagrams as sd

    folder = tmp_path_factory.mktemp("no-layout")
    no_layout = sd.write_bundle(folder / "bundle", "no_layout", sd.chain("no_layout", sd.user("check")))
    with own_server("e2e-undrawable") as (base, instance):
        db = store.Database(f"sqlite:///{instance / 'e2e.sqlite3'}")
        try:
            with db.session() as s:
                engine.deploy(s, [APPROVALS, no_layout], actor="admin")
        finally:
            db.dispose()
        yield base


@pytest.fixture(scope="module")
def server(undrawable_server: str) -> str:
    """This module's tests sign in to its own server (overrides the shared one)."""
    return undrawable_server


@pytest.mark.parametrize("key", ["Approvals", "no_layout"])
def test_a_diagram_the_modeler_cannot_draw_is_not_saved_from_it(staff, key):
    owner = staff("owner")
    page = owner.page
    page.goto(owner.base + f"/admin/processes/{key}/modeler")
    page.wait_for_selector("body[data-modeler-ready='1']")
    assert page.evaluate("document.body.dataset.modelerIncomplete") == "1"
    status = page.locator("[data-testid=modeler-status]").inner_text()
    assert "Saving from the modeler is off" in status and "upload it on the Processes page" in status
    for button in ("modeler-save", "modeler-check", "modeler-download"):
        assert page.locator(f"#{button}").is_disabled(), button
