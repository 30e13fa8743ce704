"""End-to-end fixtures: a real ``caseflow serve`` on a free local port with its own instance
folder and database, and Debian's Chromium driven by Playwright (never downloaded).
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CASEFLOW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--disable-sync"]
VIEWER = ROOT / "web" / "static" / "vendor" / "bpmn-js" / "bpmn-navigated-viewer.production.min.js"
DEMO_PASSWORDS: dict[str, str] = {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _caseflow(env: dict[str, str], *args: str) -> str:
    exe = Path(sys.executable).with_name("caseflow")
    done = subprocess.run([str(exe), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"caseflow {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextlib.contextmanager
def _serving(tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None,
             port: int | None = None) -> Iterator[tuple[str, Path]]:
    """A ``caseflow serve`` with the processes deployed and the demo users: (base URL, instance folder).
    ``env`` adds settings (e.g. SMTP); ``port`` is the port to serve on (default: a free one)."""
    if not VIEWER.is_file():
        pytest.fail(f"{VIEWER.relative_to(ROOT)} is missing: run `make static` (npm install + web/build_static.py)")
    instance = tmp_path_factory.mktemp(name)
    env = {**os.environ, "CASEFLOW_INSTANCE_DIR": str(instance),
           "CASEFLOW_DATABASE_URL": f"sqlite:///{instance / 'e2e.sqlite3'}",
           "CASEFLOW_TIMER_INTERVAL": "1", "CASEFLOW_SECRET_KEY": "e2e-secret", **(env or {})}
    env.pop("PYTHONPATH", None)  # the installed command, exactly as `make run` starts it
    _caseflow(env, "deploy", "processes/")
    for line in _caseflow(env, "demo-users").splitlines():
        match = re.match(r"\s+(\S+)\s+(\S+)\s+\S", line)
        if match:
            DEMO_PASSWORDS[match.group(1)] = match.group(2)
    port = port or _free_port()
    log = open(instance / "serve.log", "w")
    process = subprocess.Popen([str(Path(sys.executable).with_name("caseflow")), "serve", "--host", "127.0.0.1",
                                "--port", str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded CI machine starts Python slowly
    while True:
        try:
            with urllib.request.urlopen(base + "/login", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("caseflow serve did not start:\n" + (instance / "serve.log").read_text())
        time.sleep(0.2)
    try:
        yield base, instance
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of the shared ``caseflow serve`` with the processes deployed and the demo users."""
    with _serving(tmp_path_factory, "e2e-instance") as (base, _instance):
        yield base


@pytest.fixture(scope="session")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``with own_server(name, env=…, port=…) as (base, instance):`` a separate server, for tests that
    fill its database (other tests' pages on the shared server must not show their data) or need
    settings of their own."""
    return functools.partial(_serving, tmp_path_factory)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is not installed: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Staff:
    """One signed-in person in their own browser context."""

    def __init__(self, chromium: Any, base: str, username: str, locale: str = "en-US"):
        self.base = base
        self.username = username
        self.context = chromium.new_context(locale=locale, viewport={"width": 1360, "height": 1000})
        self.context.set_default_timeout(15000)
        self.page = self.context.new_page()
        self.page.goto(base + "/login")
        self.page.fill("#username", username)
        self.page.fill("#password", DEMO_PASSWORDS[username])
        self.page.click("form[action='/login'] button[type=submit]")
        self.page.wait_for_url(base + "/")

    def open_task(self, case_url: str, name: str) -> None:
        """Open the task ``name`` (its BPMN id) from the case's current tasks."""
        self.page.goto(case_url)
        self.page.locator(f"[data-testid=current-tasks] a[data-task='{name}']").click()
        self.page.wait_for_selector("form.schema-form")

    def fill(self, answers: dict[str, Any]) -> None:
        """Fill form fields by data path; a list under a key fills table rows ("Add a line")."""
        for name, value in answers.items():
            if isinstance(value, list):
                self.fill_rows(name, value)
                continue
            field = self.page.locator(f"[name='{name}']").first
            kind = field.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
            if kind == "input:radio":
                self.page.check(f"input[name='{name}'][value='{value}']")
            elif kind == "input:checkbox":
                field.set_checked(bool(value))
            elif kind.startswith("select"):
                field.select_option(str(value))
            else:
                field.fill(str(value))

    def fill_rows(self, name: str, rows: list[dict[str, Any]]) -> None:
        table = self.page.locator(f"[data-rows='{name}']")
        for row in rows:
            table.locator("[data-add-row]").click()
            last = table.locator("tbody tr[data-row]").last
            for key, value in row.items():
                cell = last.locator(f"[name$='.{key}']")
                if cell.evaluate("e => e.tagName.toLowerCase()") == "select":
                    cell.select_option(str(value))
                else:
                    cell.fill(str(value))

    def submit(self) -> None:
        with self.page.expect_navigation():
            self.page.click("form.schema-form button[type=submit]")
        errors = self.page.locator("[data-testid=form-errors]")
        assert errors.count() == 0, errors.inner_text() + " | " + " ".join(
            self.page.locator(".error").all_inner_texts())

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def staff(chromium: Any, server: str) -> Iterator[Any]:
    """``staff(username, locale="en-US")``: a signed-in demo user."""
    opened: list[Staff] = []

    def sign_in(username: str, locale: str = "en-US") -> Staff:
        person = Staff(chromium, server, username, locale)
        opened.append(person)
        return person

    yield sign_in
    for person in opened:
        person.close()
