"""E-mail by SMTP (standard library ``smtplib``): building a notification's message and sending it."""
from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Protocol

from caseflow import clock
from caseflow.config import SmtpSettings
from caseflow.notify.render import Message

#: SMTP reply codes 5xx are permanent: another attempt would fail the same way.
PERMANENT_CODES = range(500, 600)


class Connection(Protocol):
    """What a batch sends through (``smtplib.SMTP`` is one)."""

    def send_message(self, msg: EmailMessage) -> object: ...


class Mailer(Protocol):
    """Opens one connection for a batch of messages."""

    def connection(self) -> AbstractContextManager[Connection]: ...


def build(notification_id: int, to: str, sender: str, message: Message) -> EmailMessage:
    """The e-mail of notification ``notification_id``: text, HTML as the alternative, attachments.

    The Message-ID is derived from the notification, so a (rare) second delivery of the same
    row after a crash can be recognised as a duplicate by the receiving side.
    """
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(clock.now())
    domain = sender.rpartition("@")[2] or "caseflow"
    msg["Message-ID"] = f"<caseflow-notification-{notification_id}@{domain}>"
    msg.set_content(message.text)
    if message.html:
        msg.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, _slash, subtype = attachment.mime_type.partition("/")
        msg.add_attachment(attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


class SmtpMailer:
    """Sends through the configured SMTP server (STARTTLS and login when configured)."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings

    @contextmanager
    def connection(self) -> Iterator[smtplib.SMTP]:
        s = self.settings
        with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.user:
                smtp.login(s.user, s.password or "")
            yield smtp


def is_permanent(err: BaseException) -> bool:
    """Whether a delivery error will not go away by trying again (a 5xx refusal of the address)."""
    if isinstance(err, smtplib.SMTPRecipientsRefused):
        return all(code in PERMANENT_CODES for code, _msg in err.recipients.values())
    if isinstance(err, (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)):
        return err.smtp_code in PERMANENT_CODES
    return False


def is_reply(err: BaseException) -> bool:
    """Whether the server answered this one message with an error (the connection is still usable)."""
    return isinstance(err, (smtplib.SMTPResponseException, smtplib.SMTPRecipientsRefused))
