"""``caseflow serve`` runs the outbox sender: a mail queued in the database arrives at the SMTP server."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from notify_helpers import SHIPPED, free_port

import engine
from caseflow import store

ROOT = Path(__file__).resolve().parents[2]


def test_the_server_process_delivers_the_outbox(tmp_path, smtp_server):
    url = f"sqlite:///{tmp_path / 'serve.sqlite3'}"
    db = store.Database(url)
    db.upgrade()
    with db.session() as s:
        engine.deploy(s, SHIPPED, actor="admin")
        engine.start(s, "complaint", {"channel": "email", "customer_code": "C-1", "complaint_type": "transport",
                                      "customer_email": "buyer@huaxin.example", "description": "Crushed."},
                     actor="cs1")
    db.dispose()
    env = {**os.environ, "CASEFLOW_INSTANCE_DIR": str(tmp_path), "CASEFLOW_DATABASE_URL": url,
           "CASEFLOW_SMTP_HOST": "127.0.0.1", "CASEFLOW_SMTP_PORT": str(smtp_server.port),
           "CASEFLOW_SMTP_STARTTLS": "0", "CASEFLOW_SMTP_FROM": "caseflow@factory.example",
           "CASEFLOW_TIMER_INTERVAL": "0.2"}
    server = subprocess.Popen([sys.executable, "-m", "web.serving", "--port", str(free_port())], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not smtp_server.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [m["To"] for m in smtp_server.messages] == ["buyer@huaxin.example"]
        assert smtp_server.messages[0]["From"] == "caseflow@factory.example"
    finally:
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
