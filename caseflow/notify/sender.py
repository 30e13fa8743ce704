"""The outbox sender: delivers ``notification`` rows after their transaction committed.

Each round (:func:`run_once`):

1. **Digests.** Task e-mails held for a daily digest (status ``digest``) written before the
   last digest time (``DIGEST_HOUR`` in the business time zone) are folded into one
   ``digest`` e-mail per recipient (status ``digested``), in one transaction.
2. **Claim.** Due rows (``pending``, or ``sending`` whose claim lapsed: a sender that
   crashed) are claimed in a short transaction: status ``sending``, one more attempt, and
   ``next_attempt_at`` = now + ``LEASE`` (the claim's end). PostgreSQL picks them with
   ``SELECT … FOR UPDATE SKIP LOCKED``, so concurrent senders take different rows; on SQLite
   the claim is a conditional ``UPDATE … WHERE status IN (…) AND next_attempt_at <= now``
   (SQLite runs one writer at a time, so a row is claimed once).
3. **Deliver** outside any transaction (e-mail over one SMTP connection per batch, only with
   SMTP configured; webhooks by HTTP POST, :mod:`caseflow.notify.webhooks`), then mark each row
   ``sent``, or back to ``pending`` with exponential backoff (``failed`` after ``MAX_ATTEMPTS`` or a permanent refusal).

A crash after the commit of the change and before delivery loses nothing: the row is still
``pending`` (or its claim lapses) and the next round delivers it once. A crash after the SMTP
server accepted a message and before it was marked sent delivers it again after the lease;
the stable Message-ID (``mail.build``) lets the receiving side see the duplicate.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select, update

from caseflow import clock, config, store
from caseflow.notify import deadlines, mail, render, webhooks

log = logging.getLogger("caseflow.notify")

LEASE = dt.timedelta(minutes=5)  # longer than one SMTP batch can take (timeout 30 s per command)
MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(seconds=30)
BACKOFF_CAP = dt.timedelta(hours=6)
DIGEST_HOUR = 8  # business time of the daily digest
BATCH = 50
MAX_ERROR_CHARS = 2000

N = store.Notification


def backoff(attempts: int) -> dt.timedelta:
    """Wait before attempt ``attempts + 1``: 30 s, 1 min, 2 min, … at most 6 h."""
    return min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))


def delivering_channels(settings: config.Settings) -> list[str]:
    """The channels this sender delivers: e-mail only with SMTP configured."""
    return ["email"] if settings.smtp is not None else []


def last_digest_time(now: dt.datetime, timezone: str) -> dt.datetime:
    """The latest ``DIGEST_HOUR`` o'clock (business time) at or before ``now``."""
    local = now.astimezone(ZoneInfo(timezone))
    cut = local.replace(hour=DIGEST_HOUR, minute=0, second=0, microsecond=0)
    if cut > local:
        cut -= dt.timedelta(days=1)
    return cut.astimezone(dt.UTC)


def fold_digests(db: store.Database, settings: config.Settings) -> int:
    """Fold held task e-mails into one digest e-mail per recipient; returns digests written."""
    now = clock.now()
    cutoff = last_digest_time(now, settings.timezone)
    with db.session() as session:
        due = select(N.id).where(N.status == "digest", N.created_at < cutoff).order_by(N.id).limit(1000)
        if db.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if not ids:
            return 0
        folded = session.execute(
            update(N).where(N.id.in_(ids), N.status == "digest")
            .values(status="digested", sent_at=now).returning(N.recipient, N.username, N.language, N.args)
        ).all()
        groups: dict[tuple[str, str | None, str], list[dict]] = defaultdict(list)
        for recipient, username, language, args in folded:
            groups[(recipient, username, language)].append(args)
        rows = [dict(kind="digest", channel="email", recipient=recipient, username=username, language=language,
                     template="digest", args={"items": items}, status="pending", attempts=0, next_attempt_at=now,
                     created_at=now)
                for (recipient, username, language), items in groups.items()]
        if rows:
            session.execute(insert(N), rows)
        return len(rows)


#: The kind of the mail that carries a customer task's link (written by the engine's outbox).
CUSTOMER_TASK_KIND = "customer_task"
WITHDRAWN = "withdrawn"


def withdraw_done_customer_mails(db: store.Database) -> int:
    """Withdraw the customer-task mails not sent yet whose task is no longer ready (done on the
    customer's behalf, or cancelled): the customer never gets a link to a task already done.
    Returns the rows withdrawn."""
    with db.session() as session:
        waiting = session.execute(select(N.id, N.args).where(N.status.in_(("pending", "failed")),
                                                             N.kind == CUSTOMER_TASK_KIND)).all()
        tasks = {str((args or {}).get("task_id")): ident for ident, args in waiting}
        if not tasks:
            return 0
        still = set(session.scalars(select(store.HumanTask.id).where(store.HumanTask.id.in_(list(tasks)),
                                                                    store.HumanTask.state == "ready")))
        gone = [ident for task_id, ident in tasks.items() if task_id not in still]
        if not gone:
            return 0
        session.execute(update(N).where(N.id.in_(gone), N.status.in_(("pending", "failed")))
                        .values(status=WITHDRAWN, last_error="the task was done before the mail went out"))
        log.info("withdrew %s customer-task mail(s) of tasks already done", len(gone))
        return len(gone)


def claim(db: store.Database, channels: list[str], limit: int = BATCH) -> list[store.Notification]:
    """Claim up to ``limit`` due rows of ``channels`` for this sender (committed before delivery)."""
    if not channels:
        return []
    now = clock.now()
    lease_end = now + LEASE
    with db.session() as session:
        due = (select(N.id).where(N.status.in_(("pending", "sending")), N.next_attempt_at <= now,
                                  N.channel.in_(channels))
               .order_by(N.next_attempt_at, N.id).limit(limit))
        if db.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(session.scalars(due))
        if not ids:
            return []
        claimed = list(session.scalars(
            update(N).where(N.id.in_(ids), N.status.in_(("pending", "sending")), N.next_attempt_at <= now)
            .values(status="sending", attempts=N.attempts + 1, next_attempt_at=lease_end)
            .returning(N).execution_options(synchronize_session=False)))
        session.expunge_all()
        return sorted(claimed, key=lambda r: r.id)


#: Arguments that carry a bearer secret (a customer's link with its token): dropped from the row once sent.
SECRET_ARGS = frozenset({"portal_url"})


def _finish(db: store.Database, row: store.Notification, error: BaseException | None) -> None:
    """Mark a claimed row sent, or due again with backoff, or failed (only while the claim is ours)."""
    now = clock.now()
    if error is None:
        values: dict = dict(status="sent", sent_at=now, last_error=None)
        if row.args and any(key in row.args for key in SECRET_ARGS):  # the link is the mail's, not the outbox's
            values["args"] = {key: value for key, value in row.args.items() if key not in SECRET_ARGS}
    else:
        message = f"{type(error).__name__}: {error}"[:MAX_ERROR_CHARS]
        final = (row.attempts >= MAX_ATTEMPTS or mail.is_permanent(error) or isinstance(error, render.TemplateMissing)
                 or getattr(error, "permanent", False) is True)
        values = dict(status="failed" if final else "pending", last_error=message,
                      next_attempt_at=now if final else now + backoff(row.attempts))
        log.warning("notification %s (%s to %s) attempt %s failed%s: %s", row.id, row.kind, row.recipient,
                    row.attempts, " for good" if final else "", message)
    with db.session() as session:
        done = session.execute(update(N).where(N.id == row.id, N.status == "sending",
                                               N.next_attempt_at == row.next_attempt_at).values(**values))
        if done.rowcount == 0:  # type: ignore[attr-defined]
            log.warning("notification %s: the claim lapsed before it was marked %s", row.id, values["status"])


class Sender:
    """Delivers the outbox of one database with the configured SMTP server (or a given mailer)."""

    def __init__(self, db: store.Database, settings: config.Settings, mailer: mail.Mailer | None = None):
        self.db = db
        self.settings = settings
        self.mailer: mail.Mailer | None = mailer
        if mailer is None and settings.smtp is not None:
            self.mailer = mail.SmtpMailer(settings.smtp)

    @property
    def enabled(self) -> bool:
        """Whether e-mail goes out at all (SMTP configured); webhooks always do."""
        return self.mailer is not None and self.settings.smtp is not None

    def run_once(self) -> int:
        """One round: deadline events, digests and e-mails (with SMTP), then webhooks, batch by batch;
        returns rows sent."""
        sent = 0
        deadlines.queue(self.db, self.settings)  # due-soon and overdue tasks: in-app, and e-mail rows to send
        withdraw_done_customer_mails(self.db)  # with or without SMTP: the outbox shows what will still go
        if self.enabled:
            fold_digests(self.db, self.settings)
            sent += self._drain("email", self.deliver_email)
        return sent + self._drain("webhook", self.deliver_webhooks)

    def _drain(self, channel: str, deliver: Callable[[list[store.Notification]], int]) -> int:
        sent = 0
        while True:
            rows = claim(self.db, [channel])
            if not rows:
                return sent
            sent += deliver(rows)
            if len(rows) < BATCH:
                return sent

    def deliver_webhooks(self, rows: list[store.Notification]) -> int:
        """POST claimed webhook rows one by one; returns how many were accepted."""
        sent = 0
        for row in rows:
            try:
                with self.db.session() as session:
                    webhooks.deliver(session, row)
            except Exception as err:  # refused, unreachable, timed out: retried with backoff
                _finish(self.db, row, err)
                continue
            _finish(self.db, row, None)
            sent += 1
        return sent

    def deliver_email(self, rows: list[store.Notification]) -> int:
        """Render and send claimed e-mail rows over one connection; returns how many were sent."""
        assert self.mailer is not None and self.settings.smtp is not None
        sender_address = self.settings.smtp.sender
        ready = []
        for row in rows:
            try:
                text = render.render(row.template or row.kind, row.language, row.args or {}, self.settings.public_url,
                                     attach=True)
                ready.append((row, mail.build(row.id, row.recipient, sender_address, text)))
            except Exception as err:  # a template problem: failed for good, visible to admins
                _finish(self.db, row, err)
        if not ready:
            return 0
        sent = 0
        done: set[int] = set()
        try:
            with self.mailer.connection() as conn:
                for row, msg in ready:
                    try:
                        conn.send_message(msg)
                    except Exception as err:
                        done.add(row.id)
                        _finish(self.db, row, err)
                        if not mail.is_reply(err):
                            raise  # the connection is gone: the rest waits for the next round
                        continue
                    done.add(row.id)
                    _finish(self.db, row, None)
                    sent += 1
        except Exception as err:  # no connection, or it broke: the rows not yet tried are due again later
            for row, _msg in ready:
                if row.id not in done:
                    _finish(self.db, row, err)
        return sent

    def run_forever(self, interval: float, stop: threading.Event) -> None:
        """Deliver every ``interval`` seconds until ``stop`` is set."""
        while not stop.is_set():
            try:
                count = self.run_once()
                if count:
                    log.info("sent %d notification(s)", count)
            except Exception:
                log.exception("notification round failed")
            stop.wait(interval)


def start_background(db: store.Database, settings: config.Settings,
                     interval: float | None = None) -> tuple[threading.Event, threading.Thread]:
    """Run the sender in a daemon thread (webhooks, and e-mail with SMTP); set the event to stop it."""
    stop = threading.Event()
    sender = Sender(db, settings)
    if not sender.enabled:
        log.info("e-mail delivery is off (CASEFLOW_SMTP_HOST is not set); e-mails stay in the outbox")
    thread = threading.Thread(target=sender.run_forever, args=(interval or settings.timer_interval_s, stop),
                              name="caseflow-notify", daemon=True)
    thread.start()
    return stop, thread
