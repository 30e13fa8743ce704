"""Slow clients cost the server no thread: a slowloris (200 sockets sending their request headers
one byte a second) runs against a real ``caseflow serve`` while a person signs in and opens the
inbox again and again; those requests stay fast (p95 < 1 s).

The server is the e2e one (tests/e2e/conftest.py: ``caseflow serve`` on a free port, processes
deployed, demo users); no browser is needed.
"""
from __future__ import annotations

import http.client
import re
import resource
import selectors
import socket
import statistics
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.cookies import SimpleCookie

from caseflow import accounts

SLOW_SOCKETS = 200
ATTACK_S = 20.0  # the whole attack, bounded
P95_LIMIT_S = 1.0
REQUEST_TIMEOUT_S = 10.0


@dataclass
class Slowloris:
    """Sockets that send an endless request header, one byte per socket per second."""

    host: str
    port: int
    count: int
    stop: threading.Event = field(default_factory=threading.Event)
    connected: int = 0
    dropped: int = 0  # sockets the server closed (and that were opened again)
    ready: threading.Event = field(default_factory=threading.Event)

    def _open(self, selector: selectors.BaseSelector) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=5)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: " + self.host.encode() + b"\r\nX-Slow: ")  # never ends
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
        self.connected += 1

    def run(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            for _ in range(self.count):
                self._open(selector)
            self.ready.set()
            while not self.stop.wait(1.0):
                for key in list(selector.get_map().values()):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        sock.send(b"a")
                        if sock.recv(1, socket.MSG_PEEK) == b"":  # the server hung up
                            raise ConnectionResetError
                    except BlockingIOError:
                        continue  # nothing to read: still open
                    except OSError:
                        selector.unregister(sock)
                        sock.close()
                        self.dropped += 1
                        self._open(selector)  # keep up the pressure, as an attacker would
        finally:
            self.ready.set()
            for key in list(selector.get_map().values()):
                key.fileobj.close()  # type: ignore[union-attr]
            selector.close()


class Visitor:
    """One person's plain HTTP client (new connection per request, cookies kept), timing each request."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.timings: list[float] = []
        self.failures: list[str] = []

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.monotonic()
        connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            status = response.status
            for header in response.headers.get_all("Set-Cookie") or []:
                for name, morsel in SimpleCookie(header).items():
                    self.cookies[name] = morsel.value
        except OSError as err:  # a timeout counts as the whole timeout
            self.timings.append(time.monotonic() - started)
            self.failures.append(f"{method} {path}: {err!r}")
            return 0, ""
        finally:
            connection.close()
        self.timings.append(time.monotonic() - started)
        return status, text

    def sign_in(self, username: str, password: str) -> bool:
        status, page = self.request("GET", "/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        if status != 200 or token is None:
            self.failures.append(f"GET /login answered {status}")
            return False
        status, _ = self.request("POST", "/login", {"csrf_token": token.group(1), "username": username,
                                                    "password": password})
        if status != 302:
            self.failures.append(f"POST /login answered {status}")
            return False
        return True


def p95(values: list[float]) -> float:
    """The 95th percentile (the largest value of fewer than two)."""
    return statistics.quantiles(values, n=20, method="inclusive")[-1] if len(values) > 1 else max(values)


def test_slow_clients_do_not_slow_down_sign_in_and_the_inbox(server: str) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4 * SLOW_SOCKETS:  # the test's own sockets
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * SLOW_SOCKETS), hard))
    url = urllib.parse.urlsplit(server)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    demo = next(user for user in accounts.DEMO_USERS if user.username == "service")

    attack = Slowloris(host, port, SLOW_SOCKETS)
    attacker = threading.Thread(target=attack.run, name="slowloris", daemon=True)
    attacker.start()
    try:
        assert attack.ready.wait(30)
        assert attack.connected >= SLOW_SOCKETS, "the slow sockets could not all connect"
        time.sleep(2.0)  # every slow socket has sent part of its header by now
        visitor = Visitor(host, port)
        ends = time.monotonic() + ATTACK_S - 2.0
        signed_in, inbox_pages = False, 0
        while time.monotonic() < ends:
            if not signed_in:
                signed_in = visitor.sign_in(demo.username, demo.password)
                continue
            status, page = visitor.request("GET", "/")
            if status == 200 and 'class="filters"' in page:  # the inbox's filter form
                inbox_pages += 1
            else:
                visitor.failures.append(f"GET / answered {status}")
            time.sleep(0.1)
    finally:
        attack.stop.set()
        attacker.join(30)

    timings = sorted(visitor.timings)
    print(f"\n{SLOW_SOCKETS} slow sockets ({attack.dropped} dropped by the server and reopened); "
          f"{len(timings)} requests of the visitor: median {statistics.median(timings) * 1000:.0f} ms, "
          f"p95 {p95(timings) * 1000:.0f} ms, max {timings[-1] * 1000:.0f} ms; {inbox_pages} inbox pages")
    assert visitor.failures == [], f"{len(visitor.failures)} failed requests, e.g. {visitor.failures[:3]}"
    assert signed_in and inbox_pages >= 10
    assert p95(timings) < P95_LIMIT_S
