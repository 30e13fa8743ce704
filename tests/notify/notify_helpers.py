"""Helpers shared by the notification tests (a module of its own: ``conftest`` is a name every
test folder has, so importing from it depends on which folders a run collects)."""
from __future__ import annotations

import socket
from pathlib import Path

#: Every shipped bundle (the complaint calls the repair and returned-goods processes), deployed together.
SHIPPED = sorted(p for p in (Path(__file__).resolve().parents[2] / "processes").iterdir()
                 if (p / "manifest.json").is_file())


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
