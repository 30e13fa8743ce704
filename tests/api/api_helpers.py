"""Helpers shared by the API test modules (a module of its own: every test folder has a conftest)."""
from __future__ import annotations

import io
import zipfile
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def make_zip(entries: dict[str, bytes | str]) -> bytes:
    """A zip archive with ``entries`` (name -> content)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    return buf.getvalue()


def start_data(i: int = 1) -> dict:
    """Start data of the test process."""
    return {"ref": f"CP-{i:04d}", "customer_name": "ACME Ltd"}
