"""In a real browser against ``caseflow serve``: a comment with an @mention reaches the mentioned
user's bell and notification inbox; a task is handed on with a reason; an absence refuses a
substitute without the role, and a task handed to someone away goes to their substitute.
Screenshots go to test-artifacts/."""
from __future__ import annotations

import datetime as dt
import re
import secrets
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import DEMO_PASSWORDS
from test_browser_cases import REGISTRATION, case_url_of

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.browser


def add_quality_user(admin, name: str) -> None:
    """The admin adds a quality user ``name`` (its password is remembered for signing in)."""
    password = secrets.token_urlsafe(12)
    admin.page.goto(admin.base + "/admin/users")
    admin.page.fill("#username", name)
    admin.page.fill("#display_name", name.upper())
    admin.page.fill("#password", password)
    admin.page.check("input[name=roles][value=quality]")
    with admin.page.expect_navigation():
        admin.page.click("form button.primary")
    DEMO_PASSWORDS[name] = password


def test_mentions_reach_the_bell_and_tasks_are_handed_on_to_substitutes(staff, server, tmp_path):
    suffix = secrets.token_hex(3)
    qa_b, qa_c = f"qab{suffix}", f"qac{suffix}"
    admin = staff("admin")
    add_quality_user(admin, qa_b)
    add_quality_user(admin, qa_c)

    service = staff("service")
    service.page.click("nav.mainnav >> text=New case")
    service.page.click("[data-process=complaint]")
    service.fill(REGISTRATION)
    service.submit()
    case_url = case_url_of(service.page)

    colleague = staff(qa_b)
    before = colleague.page.locator("[data-testid=nav-unread]")
    unread = int(before.inner_text()) if before.count() else 0  # the new task of their role, if any

    # Files over the limit together (each under it) are refused before sending; the text stays.
    limit = int(service.page.get_attribute("[data-testid=comment-files]", "data-max-bytes"))
    halves = []
    for name in ("photo-1.bin", "photo-2.bin"):
        part = tmp_path / name
        with open(part, "wb") as out:
            out.truncate(limit // 2 + 1024 * 1024)
        halves.append(str(part))
    service.page.fill("[data-testid=comment-text]", "two large photos")
    service.page.set_input_files("[data-testid=comment-files]", halves)
    url = service.page.url
    service.page.click("[data-testid=comment-submit]")
    service.page.wait_for_timeout(300)
    assert service.page.url == url and service.page.input_value("[data-testid=comment-text]") == "two large photos"
    message = service.page.eval_on_selector("[data-testid=comment-files]", "e => e.validationMessage")
    assert message == service.page.get_attribute("[data-testid=comment-files]", "data-too-large-total-text")
    assert "MB" in message
    service.page.set_input_files("[data-testid=comment-files]", [])

    # A comment with an @mention: in the history at once, and in the mentioned user's bell.
    service.page.fill("[data-testid=comment-text]", f"@{qa_b} please look at the housing photos")
    with service.page.expect_navigation():
        service.page.click("[data-testid=comment-submit]")
    timeline = service.page.locator("[data-testid=timeline]")
    assert "please look at the housing photos" in timeline.locator("[data-testid=comment-body]").first.inner_text()

    colleague.page.reload()
    assert colleague.page.locator("[data-testid=nav-unread]").inner_text() == str(unread + 1)
    colleague.page.click("[data-testid=nav-bell]")
    notifications = colleague.page.locator("[data-testid=notifications]")
    assert re.search(r"mentioned you on CP-", notifications.inner_text())
    colleague.page.screenshot(path=str(ARTIFACTS / "collaboration-mention-inbox.png"), full_page=True)
    colleague.page.reload()
    assert colleague.page.locator("[data-testid=nav-unread]").count() == 0  # read once opened

    # The holder hands the task on, with a reason: it is recorded, and the new holder hears of it.
    quality = staff("quality")
    quality.page.goto(case_url)
    with quality.page.expect_navigation():
        quality.page.locator("[data-testid=current-tasks] button", has_text="Take over").click()
    quality.open_task(case_url, "confirm_grade")
    quality.page.select_option("[data-testid=delegate-to]", qa_b)
    quality.page.fill("[data-testid=delegate-reason]", "on leave tomorrow")
    with quality.page.expect_navigation():
        quality.page.click("[data-testid=delegate-submit]")
    tasks = quality.page.locator("[data-testid=current-tasks]")
    assert f"held by {qa_b}" in tasks.inner_text()
    assert "on leave tomorrow" in quality.page.locator("[data-testid=timeline]").inner_text()

    # An absence: the substitute must hold the role; then a task handed to the absent user goes
    # to their substitute.
    absent = staff(qa_c)
    absent.page.goto(absent.base + "/account/")
    today = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()  # days of the business time zone
    form = absent.page.locator("[data-testid=absence-form]")
    form.locator("input[name=first]").fill(today.isoformat())
    form.locator("input[name=last]").fill((today + dt.timedelta(days=1)).isoformat())
    form.locator("[data-testid=absence-substitute]").select_option("service")
    form.locator("button[type=submit]").click()
    absent.page.wait_for_selector("[data-testid=absence-error]")
    assert "must hold your roles" in absent.page.locator("[data-testid=absence-error]").inner_text()
    form = absent.page.locator("[data-testid=absence-form]")
    form.locator("[data-testid=absence-substitute]").select_option("quality")
    with absent.page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert absent.page.locator("[data-testid=absences]").count() == 1

    colleague.open_task(case_url, "confirm_grade")
    colleague.page.select_option("[data-testid=delegate-to]", qa_c)
    colleague.page.fill("[data-testid=delegate-reason]", "second opinion")
    with colleague.page.expect_navigation():
        colleague.page.click("[data-testid=delegate-submit]")
    assert f"{qa_c} is away: the task went to their substitute quality" in colleague.page.content()
    assert "held by quality" in colleague.page.locator("[data-testid=current-tasks]").inner_text()
    colleague.page.screenshot(path=str(ARTIFACTS / "collaboration-substitute.png"), full_page=True)

    quality.page.goto(quality.base + "/notifications")
    assert f"Task handed to {qa_c}" in quality.page.locator("[data-testid=notifications]").inner_text()
