"""Fixtures of the notification tests: a real SMTP server (aiosmtpd) on a free local port."""
from __future__ import annotations

import dataclasses
import email
import email.policy
import threading
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from notify_helpers import free_port

from caseflow import config


class Inbox:
    """What the SMTP server received; ``refuse`` answers the next DATA commands with that reply."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self.lock:
            if self.refuse:
                return self.refuse.pop(0)
            msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            self.messages.append(msg)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    @staticmethod
    def text(msg: EmailMessage) -> str:
        body = msg.get_body(("plain",))
        assert body is not None
        return body.get_content()




@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    inbox.port = controller.port  # type: ignore[attr-defined]
    yield inbox
    controller.stop()


@pytest.fixture
def mail_settings(smtp_server, tmp_path) -> config.Settings:
    """Settings pointing at the test SMTP server (no STARTTLS, no login)."""
    smtp = config.SmtpSettings(host="127.0.0.1", port=smtp_server.port, user=None, password=None, starttls=False,
                               sender="caseflow@factory.example", timeout_s=5.0)
    return dataclasses.replace(config.load(), smtp=smtp, public_url="https://caseflow.factory.example")
