"""In a real browser against ``caseflow serve``: the KPI dashboard in Chinese and in English, its
charts drawn by ECharts beside their tables, and the "where cases wait" diagram drawn by bpmn-js
with the figures on its elements and flows. Screenshots go to test-artifacts/: dashboard-zh.png,
dashboard-en.png and waiting-diagram.png.

The served database gets seeded complaints and repairs first (bench/seed.py through the engine,
registered over the last three months), so every chart has data.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from bench import seed
from caseflow import clock, store

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="module")
def dashboard_server(own_server: Any) -> Any:
    """A server of this module's own: the seeded cases must not show on other tests' pages."""
    with own_server("e2e-dashboard") as found:
        yield found


@pytest.fixture(scope="module")
def server(dashboard_server: tuple[str, Path]) -> str:
    """This module's tests sign in to its own server (overrides the shared one)."""
    return dashboard_server[0]


@pytest.fixture(scope="module")
def seeded(dashboard_server: tuple[str, Path]) -> str:
    """The server's database with 24 complaints and 4 repairs of the last three months."""
    server, instance = dashboard_server
    db = store.Database(f"sqlite:///{instance / 'e2e.sqlite3'}")
    try:
        start = dt.datetime.now(seed.TZ).replace(hour=9, minute=0, second=0, microsecond=0) - dt.timedelta(days=95)
        seed.seed(db.session, complaints=24, repairs=4, months=3, rng_seed=5, start=start)
    finally:
        clock.reset()
        db.dispose()
    return server


def _charts_drawn(page: Any) -> None:
    page.wait_for_selector("[data-chart='kpi_by_month'] svg")
    page.wait_for_function("document.querySelectorAll('[data-chart] svg').length >= 8")


@pytest.mark.parametrize("language, locale, words", [
    ("zh", "zh-CN", ("KPI 看板", "每月客诉考核数", "投诉比率", "当前超期", "维修")),
    ("en", "en-US", ("KPI dashboard", "KPI complaint count per month", "Complaint ratio", "Late now", "Repairs")),
])
def test_the_dashboard_in_each_language(seeded, staff, language, locale, words):
    manager = staff("manager", locale)
    page = manager.page
    page.goto(seeded + "/reports")
    _charts_drawn(page)
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    for word in words:
        assert word in text, word
    total = int(page.locator("[data-testid=card-complaints] .figure").inner_text())
    assert total >= 24  # other browser tests of the session may add theirs
    months = page.locator("[data-testid=table-kpi_by_month] tbody tr")
    assert months.count() >= 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{language}.png"), full_page=True)

    # A bar of the monthly chart opens the register with the cases behind it.
    first = page.locator("[data-testid=table-kpi_by_month] tbody tr").first.locator("a").first
    expected = first.inner_text()
    with page.expect_navigation():
        first.click()
    assert "/complaints?" in page.url and expected


def test_the_waiting_diagram(seeded, staff):
    manager = staff("manager", "en-US")
    page = manager.page
    page.goto(seeded + "/reports")
    with page.expect_navigation():
        page.click("[data-testid=waiting-link]")
    page.wait_for_selector("#heat-diagram[data-drawn='true']")
    assert page.locator("#heat-diagram .heat-badge").count() > 5
    assert page.locator("#heat-diagram .heat-flow").count() > 5
    assert page.locator("#heat-diagram .djs-element[class*='heat-']").count() > 0
    rows = page.locator("[data-testid=table-waiting] tbody tr")
    assert rows.count() > 5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "waiting-diagram.png"), full_page=True)
