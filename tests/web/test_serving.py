"""``caseflow serve`` runs the timer worker in exactly one gunicorn worker process at a time."""
from __future__ import annotations

import dataclasses

from caseflow import config
from web.serving import TimerLeader


def test_only_one_process_leads_the_timer_worker(database, tmp_path):
    settings = dataclasses.replace(config.load(), instance_dir=tmp_path, timer_interval_s=60)
    first, second = TimerLeader(database, settings), TimerLeader(database, settings)
    try:
        assert first.try_lead() is True
        assert second.try_lead() is False  # the lock is taken: this one only watches
        assert (tmp_path / "timer-worker.lock").read_text().isdigit()
    finally:
        for leader in (first, second):
            leader.stop.set()
            if leader.worker_stop is not None:
                leader.worker_stop.set()
