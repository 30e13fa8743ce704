"""The server's and the worker's logging: Caseflow's messages, not SpiffWorkflow's every state change."""
from __future__ import annotations

import logging

from caseflow import log_setup


def test_library_chatter_is_left_out():
    log_setup.configure()
    assert not logging.getLogger("spiff.task").isEnabledFor(logging.INFO)
    assert not logging.getLogger("alembic.runtime.migration").isEnabledFor(logging.INFO)
    assert logging.getLogger("spiff.task").isEnabledFor(logging.WARNING)
