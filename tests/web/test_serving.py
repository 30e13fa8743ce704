"""``caseflow serve``: waitress and one timer loop per instance folder (its timer lock held for
the life of the process)."""
from __future__ import annotations

import dataclasses
import gc
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import weakref
from pathlib import Path

import pytest

from caseflow import config, timer_lock
from caseflow.timer_lock import TimerLock
from web import create_app
from web.serving import TimerLeader, server_options, with_access_log

ROOT = Path(__file__).resolve().parents[2]


def _settings(tmp_path: Path) -> config.Settings:
    return dataclasses.replace(config.load(), instance_dir=tmp_path, timer_interval_s=60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_only_one_process_leads_the_timer_worker(database, tmp_path):
    first, second = TimerLeader(database, _settings(tmp_path)), TimerLeader(database, _settings(tmp_path))
    try:
        assert first.start() is True
        assert first.worker_thread is not None and first.worker_thread.is_alive()
        assert second.start() is False  # the lock is taken: this one only watches
        assert (tmp_path / "timer-worker.lock").read_text().strip() == str(os.getpid())
    finally:
        first.close()
        second.close()
    assert not first.worker_thread.is_alive()  # close() stopped the timer loop
    assert not first.lock.held


def test_a_watching_leader_takes_over_when_the_lock_is_released(database, tmp_path):
    other = TimerLock(tmp_path)  # e.g. a `caseflow worker` on the same folder
    assert other.acquire()
    leader = TimerLeader(database, dataclasses.replace(_settings(tmp_path), timer_interval_s=0.1))
    try:
        assert leader.start() is False
        other.release()
        deadline = time.monotonic() + 10
        while leader.worker_stop is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert leader.worker_stop is not None and leader.lock.held
    finally:
        leader.close()
        other.release()


def test_the_timer_lock_stays_held_after_start_up_and_garbage_collection(database, tmp_path):
    leader = TimerLeader(database, _settings(tmp_path))
    leader.start()
    ref = weakref.ref(leader)
    del leader  # nothing of the caller keeps it (as when only a thread's closure did)
    gc.collect()
    time.sleep(0.2)
    gc.collect()
    leader = ref()
    try:
        assert leader is not None  # the process keeps its started leader until close()
        assert not TimerLock(tmp_path).acquire()  # an flock of another open file: still held
    finally:
        if leader is not None:
            leader.close()
    again = TimerLock(tmp_path)
    assert again.acquire()  # released by close()
    again.release()


def test_waitress_limits_follow_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEFLOW_INSTANCE_DIR", str(tmp_path))
    monkeypatch.setenv("CASEFLOW_MAX_ATTACHMENT_BYTES", str(3 * 1024 * 1024))
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'app.sqlite3'}"})
    options = server_options(app, "127.0.0.1", 5123, 6)
    assert options["max_request_body_size"] == app.config["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024
    assert options["asyncore_use_poll"] is True and options["threads"] == 6
    assert options["connection_limit"] >= 1000 and 0 < options["channel_timeout"] <= 60
    assert options["trusted_proxy"] is None and options["clear_untrusted_proxy_headers"] is False
    app.extensions["caseflow_db"].dispose()


def test_the_access_log_has_one_line_per_request(caplog):
    def app(environ, start_response):
        start_response("201 Created", [("Content-Length", "2")])
        return [b"ok"]

    environ = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "PATH_INFO": "/x", "QUERY_STRING": "a=1",
               "SERVER_PROTOCOL": "HTTP/1.1"}
    caplog.set_level("INFO", logger="caseflow.access")
    body = with_access_log(app)(environ, lambda status, headers, exc_info=None: None)
    assert list(body) == [b"ok"]
    [line] = [r.getMessage() for r in caplog.records if r.name == "caseflow.access"]
    assert line.startswith('10.0.0.7 "POST /x?a=1 HTTP/1.1" 201 2 ')


@pytest.fixture
def serving(tmp_path):
    """A ``python -m web.serving`` process on a free port (the line ``caseflow serve`` execs)."""
    env = {**os.environ, "CASEFLOW_INSTANCE_DIR": str(tmp_path),
           "CASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
           "CASEFLOW_TIMER_INTERVAL": "0.2", "CASEFLOW_SECRET_KEY": "serving-test"}
    port = _free_port()
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "web.serving", "--port", str(port), "--threads", "2"],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail("the server did not start:\n" + (tmp_path / "serve.log").read_text())
        time.sleep(0.1)
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()
    log.close()


def test_the_server_holds_the_timer_lock_while_serving_and_stops_on_sigterm(serving, tmp_path):
    time.sleep(1.0)  # several timer rounds after start-up
    lock = TimerLock(tmp_path)
    assert not lock.acquire(), "the serving process no longer holds the timer lock"
    assert lock.holder() == str(serving.pid)
    serving.send_signal(signal.SIGTERM)
    assert serving.wait(timeout=15) == 0
    output = (tmp_path / "serve.log").read_text()
    assert "the timer loop runs in process" in output and "stopping" in output
    assert 'GET /login HTTP/1.1" 200' in output  # the access log
    assert lock.acquire()  # released with the process
    lock.release()


def test_a_taken_timer_lock_outlives_the_object_that_took_it(tmp_path):
    assert TimerLock(tmp_path).acquire()  # the object is dropped at once
    gc.collect()
    probe = TimerLock(tmp_path)
    assert not probe.acquire()  # still held: by this process, until released on purpose
    [held] = [lock for lock in timer_lock._HELD if lock.path == probe.path]
    held.release()
    assert probe.acquire()
    probe.release()


def _line_with(stream, text: str, limit: int = 40) -> str:
    """The first output line containing ``text`` (other log lines, e.g. migrations, come first)."""
    for _ in range(limit):
        line = stream.readline()
        if text in line or not line:
            return line
    return ""


def test_caseflow_worker_waits_while_another_process_holds_the_timer_lock(tmp_path):
    held = TimerLock(tmp_path)  # e.g. a running `caseflow serve` on the same folder
    assert held.acquire()
    env = {**os.environ, "CASEFLOW_INSTANCE_DIR": str(tmp_path),
           "CASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}"}
    exe = Path(sys.executable).with_name("caseflow")
    process = subprocess.Popen([str(exe), "worker", "--interval", "0.1"], cwd=ROOT, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        assert f"process {os.getpid()} holds" in _line_with(process.stdout, "holds")  # it waits, does not fire
        time.sleep(0.5)
        assert process.poll() is None and held.held
        held.release()
        assert "timer worker polling" in _line_with(process.stdout, "timer worker polling")  # took over
        assert not TimerLock(tmp_path).acquire()
    finally:
        held.release()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0


def test_the_open_files_limit_is_raised_to_fit_the_connections():
    code = ("import resource\nfrom web.serving import raise_open_files_limit\n"
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))\n"
            "print(raise_open_files_limit(2000), resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    returned, soft, hard = (int(v) for v in done.stdout.split())
    expected = 2000 if hard in (-1, resource.RLIM_INFINITY) else min(2000, hard)
    assert returned == soft == expected
