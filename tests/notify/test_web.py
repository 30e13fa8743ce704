"""The bell, the notification list, the admin's delivery page and the account's notification fields."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from notify_helpers import SHIPPED
from sqlalchemy import select, update

import engine
from caseflow import store

from app_fixtures import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
UNREAD = re.compile(r'data-testid="nav-unread">(\d+)<')
REGISTRATION = {"channel": "email", "customer_code": "C-2001", "complaint_type": "transport",
                "customer_email": "buyer@huaxin.example", "description": "Cartons crushed on arrival."}


@pytest.fixture
def app_users() -> dict[str, list[str]]:
    return {"quality": ["quality"], "service": ["customer_service"], "admin": ["admin"]}


class Client:
    def __init__(self, app: Any, user: str):
        self.client = app.test_client()
        self.client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        self.token = self._token("/login")
        assert self.post("/login", {"username": user, "password": PASSWORD}).status_code == 302
        self.token = self._token("/account/")

    def _token(self, url: str) -> str:
        match = TOKEN.search(self.client.get(url).get_data(as_text=True))
        assert match
        return match.group(1)

    def get(self, url: str) -> Any:
        return self.client.get(url)

    def post(self, url: str, data: dict) -> Any:
        return self.client.post(url, data={"csrf_token": self.token, **data})

    def unread(self) -> int:
        match = UNREAD.search(self.get("/account/").get_data(as_text=True))
        return int(match.group(1)) if match else 0


@pytest.fixture
def complaint(app, database) -> int:
    with database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        return int(engine.start(s, "complaint", REGISTRATION, actor="service")["id"])


def test_the_bell_counts_unread_and_opening_the_list_marks_them_read(app, complaint):
    service, quality = Client(app, "service"), Client(app, "quality")  # a transport complaint: customer service
    assert service.unread() == 1 and quality.unread() == 0
    page = service.get("/notifications").get_data(as_text=True)
    assert "New task: Check validity and confirm grade" in page and "<strong>" in page
    assert service.unread() == 0
    assert "<strong>" not in service.get("/notifications").get_data(as_text=True)  # read now


def test_opening_one_notification_marks_it_read_and_goes_to_its_case(app, database, complaint):
    service = Client(app, "service")
    with database.session() as s:
        row = s.scalars(select(store.Notification).where(store.Notification.recipient == "service")).one()
    assert Client(app, "quality").get(f"/notifications/{row.id}").status_code == 404  # not theirs
    response = service.get(f"/notifications/{row.id}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{complaint}")
    assert service.unread() == 0


def test_the_admin_page_says_delivery_is_off_and_retries_a_failed_mail(app, database, complaint):
    admin = Client(app, "admin")
    assert Client(app, "quality").get("/admin/notifications").status_code == 403
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "E-mail delivery is off" in page and "buyer@huaxin.example" in page
    assert "waiting to be sent" in page and "customer notice" in page  # states and kinds in words
    chinese = admin.client.get("/admin/notifications", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "待发送" in chinese and "客户通知" in chinese and ">pending<" not in chinese
    with database.session() as s:
        row_id = s.scalars(select(store.Notification.id).where(
            store.Notification.recipient == "buyer@huaxin.example")).one()
        s.execute(update(store.Notification).where(store.Notification.id == row_id)
                  .values(status="failed", attempts=8, last_error="SMTPDataError: (554, b'rejected')"))
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "SMTPDataError: (554, b&#39;rejected&#39;)" in page and f"/admin/notifications/{row_id}/retry" in page
    assert admin.post(f"/admin/notifications/{row_id}/retry", {}).status_code == 302
    with database.session() as s:
        row = s.get_one(store.Notification, row_id)
        assert (row.status, row.attempts) == ("pending", 0)


def test_the_account_page_keeps_the_address_and_the_choice_and_refuses_a_bad_address(app, database):
    quality = Client(app, "quality")
    ok = quality.post("/account/", {"display_name": "Q", "email": "q@factory.example", "notify_tasks": "digest"})
    assert ok.status_code == 302
    bad = quality.post("/account/", {"display_name": "Q", "email": "not an address", "notify_tasks": "digest"})
    assert bad.status_code == 422 and "not a valid e-mail address" in bad.get_data(as_text=True)
    assert quality.post("/account/", {"email": "q@factory.example", "notify_tasks": "hourly"}).status_code == 422
    with database.session() as s:
        user = s.scalars(select(store.User).where(store.User.username == "quality")).one()
        assert (user.email, user.notify_tasks) == ("q@factory.example", "digest")


def test_an_admin_registers_and_removes_a_webhook_and_bad_input_is_a_422(app, database):
    admin = Client(app, "admin")
    bad = admin.post("/admin/notifications/webhooks", {"url": "ftp://x", "secret": "short", "kinds": ["nope"]})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "an http:// or https:// address" in page and "16 to 200 characters" in page
    assert Client(app, "quality").post("/admin/notifications/webhooks", {}).status_code == 403
    ok = admin.post("/admin/notifications/webhooks", {"url": "https://erp.example/hook", "secret": "x" * 20,
                                                       "kinds": ["task_created", "escalation"]})
    assert ok.status_code == 302
    page = admin.get("/admin/notifications").get_data(as_text=True)
    assert "https://erp.example/hook" in page and "escalation, task_created" in page and "x" * 20 not in page
    with database.session() as s:
        hook_id = s.scalars(select(store.Webhook.id)).one()
    assert admin.post(f"/admin/notifications/webhooks/{hook_id}/delete", {}).status_code == 302
    assert admin.post(f"/admin/notifications/webhooks/{hook_id}/delete", {}).status_code == 404
    assert "https://erp.example/hook" not in admin.get("/admin/notifications").get_data(as_text=True)
