"""Webhooks: signed JSON deliveries from the outbox to a receiver on a local port, retried until accepted."""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from notify_helpers import SHIPPED
from sqlalchemy import select

import engine
from caseflow import clock, config, store
from caseflow.notify import webhooks
from caseflow.notify.sender import Sender

ROOT = Path(__file__).resolve().parents[2]
SECRET = "s3cret-of-the-integrator"
REGISTRATION = {"channel": "email", "customer_code": "C-2001", "complaint_type": "transport",
                "description": "Cartons crushed on arrival."}


class Receiver:
    """An HTTP endpoint that checks each signature and answers ``failures`` times with 500 first."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.accepted: list[dict] = []
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(expected, self.headers.get("X-Caseflow-Signature", "")):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                elif receiver.failures > 0:
                    receiver.failures -= 1
                    self.send_response(500)
                else:
                    event = json.loads(body)
                    assert event["event"] == self.headers["X-Caseflow-Event"]
                    receiver.accepted.append(event)
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def no_smtp() -> config.Settings:
    return dataclasses.replace(config.load(), smtp=None)


def deploy_and_hook(db: store.Database, url: str, kinds: list[str]) -> None:
    with db.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        webhooks.register(s, url, SECRET, kinds, "admin")


def test_a_receiver_failing_twice_gets_each_event_exactly_once(database, frozen_clock, no_smtp):
    receiver = Receiver(failures=2)
    try:
        deploy_and_hook(database, receiver.url, ["instance_started", "task_created"])
        with database.session() as s:
            iid = engine.start(s, "complaint", REGISTRATION, actor="cs1")["id"]
        sender = Sender(database, no_smtp)
        assert sender.run_once() == 0  # first event: 500; second event: 500
        clock.advance(dt.timedelta(seconds=30))
        assert sender.run_once() == 2  # both accepted at the second attempt
        clock.advance(dt.timedelta(hours=7))
        assert sender.run_once() == 0
        assert sorted(e["event"] for e in receiver.accepted) == ["instance_started", "task_created"]
        assert {e["instance"]["id"] for e in receiver.accepted} == {iid}
        assert len({e["delivery"] for e in receiver.accepted}) == 2 and receiver.bad_signatures == 0
        task_event, = [e for e in receiver.accepted if e["event"] == "task_created"]
        assert task_event["task"]["name"] == "confirm_grade"
        with database.session() as s:
            log = webhooks.log(s)
            assert [(d.status, d.attempts) for d in log] == [("sent", 2), ("sent", 2)]
            assert all("HTTP 500" in (d.last_error or "") or d.last_error is None for d in log)
    finally:
        receiver.close()


def test_only_the_subscribed_kinds_are_delivered_and_a_removed_hook_gets_nothing(database, frozen_clock, no_smtp):
    receiver = Receiver()
    try:
        deploy_and_hook(database, receiver.url, ["instance_completed"])
        with database.session() as s:
            engine.start(s, "complaint", REGISTRATION, actor="cs1")
            assert s.scalars(select(store.Notification).where(store.Notification.channel == "webhook")).all() == []
            hook_id = webhooks.listed(s)[0]["id"]
            webhooks.register(s, receiver.url, SECRET, ["task_created"], "admin")
        with database.session() as s:
            engine.start(s, "complaint", REGISTRATION, actor="cs1")
            assert webhooks.remove(s, hook_id) and not webhooks.remove(s, hook_id)
        assert Sender(database, no_smtp).run_once() == 1
        assert [e["event"] for e in receiver.accepted] == ["task_created"]
    finally:
        receiver.close()


@pytest.mark.parametrize("url, secret, kinds, field", [
    ("ftp://x.example/h", SECRET, ["task_created"], "url"), ("http://", SECRET, ["task_created"], "url"),
    ("https://x.example/h", "short", ["task_created"], "secret"), ("https://x.example/h", SECRET, [], "kinds"),
    ("https://x.example/h", SECRET, ["everything"], "kinds"),
    ("http://169.254.169.254/latest/meta-data", SECRET, ["task_created"], "url"),  # a cloud's metadata service
    ("http://[fe80::1]/h", SECRET, ["task_created"], "url"), ("http://[::ffff:169.254.169.254]/", SECRET,
                                                               ["task_created"], "url"),
    ("http://0.0.0.0:8080/h", SECRET, ["task_created"], "url"), ("http://x.example:99999/h", SECRET,
                                                                 ["task_created"], "url")])
def test_a_bad_registration_names_the_field(database, url, secret, kinds, field):
    with database.session() as s, pytest.raises(webhooks.WebhookError) as err:
        webhooks.register(s, url, secret, kinds, "admin")
    assert set(err.value.fields) == {field}


def test_company_network_receivers_are_fine():
    for url in ("http://10.1.2.3/hook", "http://127.0.0.1:9000/hook", "http://[::1]:9000/hook",
                "https://erp.internal.example/hook"):
        assert webhooks.validate(url, SECRET, ["task_created"]) == {}


def test_a_host_resolving_to_a_link_local_address_is_not_delivered_to(database, frozen_clock, no_smtp, monkeypatch,
                                                                      caplog):
    """Registered by name, the host later resolves to the metadata address: the delivery is refused
    (logged, failed for good) and no request leaves."""
    import socket

    real = socket.getaddrinfo

    def resolve(host, *args, **kwargs):
        if host == "hooks.example":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", 0))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    opened: list[object] = []
    monkeypatch.setattr(webhooks._OPENER, "open", lambda *a, **k: opened.append(a))
    deploy_and_hook(database, "http://hooks.example/h", ["instance_started"])
    with database.session() as s:
        engine.start(s, "complaint", REGISTRATION, actor="cs1")
    assert Sender(database, no_smtp).run_once() == 0
    assert opened == []
    with database.session() as s:
        (row,) = webhooks.log(s)
        assert row.status == "failed" and "169.254.169.254" in (row.last_error or "")
    assert "refused to deliver to hooks.example" in caplog.text


def test_a_redirect_is_not_followed(database, frozen_clock, no_smtp):
    """A receiver answering 302 to another address: the other one gets nothing, the delivery is retried."""
    target = Receiver()

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(302)
            self.send_header("Location", target.url)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        deploy_and_hook(database, f"http://127.0.0.1:{server.server_address[1]}/hook", ["instance_started"])
        with database.session() as s:
            engine.start(s, "complaint", REGISTRATION, actor="cs1")
        assert Sender(database, no_smtp).run_once() == 0
        assert target.accepted == []
        with database.session() as s:
            (row,) = webhooks.log(s)
            assert row.status == "pending" and "redirects are not followed" in (row.last_error or "")
    finally:
        server.shutdown()
        server.server_close()
        target.close()
