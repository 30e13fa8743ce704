"""Notifications (issue 17): rendering, e-mail by SMTP, the outbox sender and the in-app inbox.

The rows are written by the engine (``caseflow._engine.outbox``) in the transaction of the
change that causes them; :mod:`caseflow.notify.sender` delivers them after the commit.
"""
