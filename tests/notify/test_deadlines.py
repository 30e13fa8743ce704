"""Staff deadline events: due soon and overdue, from the task rows' deadlines, once per task and event.

The repair's 'Review application and reply' is due at the end of the next working day: Tuesday
2026-03-03 18:00 Shanghai, 33 hours after the frozen clock's Monday 09:00.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from notify_helpers import SHIPPED
from sqlalchemy import func, select

import engine
from caseflow import accounts, clock, config, store
from caseflow.notify import deadlines
from caseflow.notify.sender import Sender

APPLICATION = {
    "customer_name": "Huaxin Trading Co.", "customer_contact": "Li Wei", "address": "88 Zhongshan Road, Nanjing",
    "recipient": "Li Wei", "phone": "+86 25 8888 0000", "product_model": "NLS-HR200", "serial_no": "SN-1",
    "purchase_date": "2025-06-01", "warranty_claim": "in", "fault_description": "Does not power on.",
}


@pytest.fixture
def centre(database: store.Database, frozen_clock) -> store.Database:
    """The service centre: svc1 reads English mail, svc2 Chinese, svc3 wants no e-mail, svc4 is inactive."""
    with database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        for name, locale, choice, active in (("svc1", "en", "immediate", True), ("svc2", "zh", "immediate", True),
                                             ("svc3", "en", "none", True), ("svc4", "en", "immediate", False)):
            user = accounts.create_user(s, name, "a-long-password-1", ["service_center"], locale=locale)
            user.email, user.notify_tasks, user.active = f"{name}@factory.example", choice, active
    return database


def start_repair(db: store.Database) -> tuple[int, str]:
    with db.session() as s:
        iid = engine.start(s, "repair", APPLICATION, actor="cs1")["id"]
        task, = engine.list_tasks(s, instance_id=iid)
    assert task["name"] == "review_application"
    return iid, task["id"]


def rows(db: store.Database, kind: str) -> list[tuple[str, str, str]]:
    with db.session() as s:
        stmt = (select(store.Notification.channel, store.Notification.recipient, store.Notification.status)
                .where(store.Notification.kind == kind).order_by(store.Notification.id))
        return [tuple(r) for r in s.execute(stmt)]  # type: ignore[misc]


def test_due_soon_then_overdue_each_once_to_the_role(centre, mail_settings, smtp_server):
    iid, _task = start_repair(centre)
    sender = Sender(centre, mail_settings)
    sender.run_once()
    assert rows(centre, "task_due_soon") == []  # 33 h to go: not soon yet
    clock.advance(dt.timedelta(hours=10))  # 23 h to go
    sender.run_once()
    assert rows(centre, "task_due_soon") == [
        ("in_app", "svc1", "sent"), ("email", "svc1@factory.example", "sent"),
        ("in_app", "svc2", "sent"), ("email", "svc2@factory.example", "sent"), ("in_app", "svc3", "sent")]
    mail, = [m for m in smtp_server.to("svc1@factory.example") if m["Subject"].startswith("Due soon")]
    assert mail["Subject"] == f"Due soon: Review application and reply (case {iid})"
    assert "Due: 2026-03-03T10:00:00+00:00" in smtp_server.text(mail)
    # The Chinese mail names the task as the Chinese inbox does (its form's x-title-zh).
    assert [m["Subject"] for m in smtp_server.to("svc2@factory.example")][-1].startswith("即将到期:审核返修申请")
    for _round in range(3):  # later rounds tell nobody again
        sender.run_once()
    assert len(rows(centre, "task_due_soon")) == 5 and rows(centre, "task_overdue") == []

    clock.set(dt.datetime(2026, 3, 3, 10, 0, 1, tzinfo=dt.UTC))  # one second past the deadline
    sender.run_once()
    sender.run_once()
    assert [r[:2] for r in rows(centre, "task_overdue")] == [
        ("in_app", "svc1"), ("email", "svc1@factory.example"), ("in_app", "svc2"),
        ("email", "svc2@factory.example"), ("in_app", "svc3")]
    overdue = [m for m in smtp_server.to("svc1@factory.example") if m["Subject"].startswith("Overdue")]
    assert [m["Subject"] for m in overdue] == [f"Overdue: Review application and reply (case {iid})"]


def test_a_held_task_tells_only_its_holder_and_a_done_task_nobody(centre, mail_settings, smtp_server):
    _iid, task_id = start_repair(centre)
    done_iid, done_task = start_repair(centre)
    with centre.session() as s:
        engine.claim(s, task_id, engine.Actor.person("svc2", {"service_center"}))
        engine.complete(s, done_task, {"review_opinion": "Remote fix.", "remote_fixable": True},
                        actor=engine.Actor.person("svc1", {"service_center"}))
    clock.set(dt.datetime(2026, 3, 4, 1, 0, tzinfo=dt.UTC))  # both past their deadline
    Sender(centre, mail_settings).run_once()
    assert rows(centre, "task_overdue") == [("in_app", "svc2", "sent"), ("email", "svc2@factory.example", "sent")]
    with centre.session() as s:
        told = {n.args["task_id"] for n in s.scalars(select(store.Notification).where(
            store.Notification.kind.in_(("task_overdue", "task_due_soon"))))}
    assert told == {task_id}  # the finished review and the remote-guidance task have no deadline events


def test_a_task_found_already_overdue_is_not_told_due_soon(centre, mail_settings, smtp_server):
    start_repair(centre)
    clock.advance(dt.timedelta(days=2))
    Sender(centre, mail_settings).run_once()
    assert rows(centre, "task_due_soon") == [] and len(rows(centre, "task_overdue")) == 5


def test_the_due_soon_lead_time_is_a_setting(centre, mail_settings, smtp_server):
    start_repair(centre)
    Sender(centre, dataclasses.replace(mail_settings, due_soon_hours=36)).run_once()  # 33 h to go, within 36
    assert len(rows(centre, "task_due_soon")) == 5


def test_without_smtp_the_events_are_in_the_bell_and_their_mails_wait(centre):
    start_repair(centre)
    clock.advance(dt.timedelta(days=2))
    Sender(centre, dataclasses.replace(config.load(), smtp=None)).run_once()
    assert {(c, s) for c, _r, s in rows(centre, "task_overdue")} == {("in_app", "sent"), ("email", "pending")}


def test_two_senders_at_once_tell_each_task_once(centre):
    _iid, task_id = start_repair(centre)
    clock.advance(dt.timedelta(days=2))
    settings = dataclasses.replace(config.load(), smtp=None)
    with centre.session() as s:  # another sender has just marked the task
        s.add(store.TaskNotice(task_id=task_id, event=deadlines.OVERDUE, created_at=clock.now()))
        s.flush()
        assert deadlines._mark(s, task_id, deadlines.OVERDUE, clock.now()) is False
    assert deadlines.queue(centre, settings) == 0
    with centre.session() as s:
        assert s.execute(select(func.count()).select_from(store.Notification)
                         .where(store.Notification.kind == "task_overdue")).scalar_one() == 0


def test_each_task_and_event_is_marked_once_on_both_databases(any_database, frozen_clock):
    with any_database.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
    _iid, task_id = start_repair(any_database)
    with any_database.session() as s:
        assert deadlines._mark(s, task_id, deadlines.OVERDUE, clock.now()) is True
        assert deadlines._mark(s, task_id, deadlines.OVERDUE, clock.now()) is False
        assert deadlines._mark(s, task_id, deadlines.DUE_SOON, clock.now()) is True
    clock.advance(dt.timedelta(days=2))
    settings = dataclasses.replace(config.load(), smtp=None)
    assert deadlines.queue(any_database, settings) == 0  # marked already: nobody is told
