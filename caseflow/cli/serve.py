"""Long-running commands: ``caseflow serve`` (web UI and API) and ``caseflow worker`` (timers).

``serve`` migrates the database once, then replaces itself (``exec``) with the server module
named on the command line, so the CLI never imports the web package::

    python -m web.serving --host HOST --port PORT --threads T [--workers N]

``web.serving`` runs the app under waitress (requests are read whole by its I/O thread, so slow
clients hold no thread) and the timer loop beside it; with ``--workers N`` (PostgreSQL only) a
supervisor runs N such processes on one listening socket (``web.serving_workers``). Both ``serve`` and
``worker`` run the timer loop only while holding the instance folder's timer lock
(:mod:`caseflow.timer_lock`): one loop per instance folder, however many of them are started.
"""
from __future__ import annotations

import logging
import os
import sys
import threading

import click

from caseflow import log_setup
from caseflow import worker as timer_worker
from caseflow.cli.common import LOG_LINES, CliContext, emit, pass_ctx
from caseflow.notify import sender as notify_sender
from caseflow.timer_lock import TimerLock

SERVER_MODULE = "web.serving"


def server_argv(host: str, port: int, threads: int, workers: int = 1) -> list[str]:
    """The command line ``serve`` runs: the server module under this Python."""
    argv = [sys.executable, "-m", SERVER_MODULE, "--host", host, "--port", str(port), "--threads", str(threads)]
    return argv + (["--workers", str(workers)] if workers != 1 else [])


@click.command()
@click.option("--host", default=lambda: os.environ.get("CASEFLOW_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: os.environ.get("CASEFLOW_PORT", "5000"), type=click.IntRange(1, 65535),
              show_default="5000")
@click.option("--workers", default=lambda: os.environ.get("CASEFLOW_WEB_WORKERS", "1"), type=click.IntRange(1),
              show_default="1", help="Server processes sharing the port (above 1: PostgreSQL only).")
@click.option("--threads", default=lambda: os.environ.get("CASEFLOW_WEB_THREADS", "8"), type=click.IntRange(1),
              show_default="8", help="Application threads (slow clients hold none).")
@pass_ctx
def serve(ctx: CliContext, host: str, port: int, workers: int, threads: int) -> None:
    """Run the web UI and API (waitress), with the timer loop in the same process; with
    ``--workers N`` (PostgreSQL), N such processes share the port and one of them runs the timers."""
    if workers != 1 and not ctx.settings.database_url.startswith("postgresql"):
        raise click.UsageError("--workers above 1 needs PostgreSQL: SQLite serves one process "
                               "(raise --threads instead, or set CASEFLOW_DATABASE_URL to a PostgreSQL database)")
    ctx.db  # noqa: B018 - opening it migrates the database, once, before the server starts
    ctx.close()  # no connection crosses into the server
    shown = "localhost" if host in ("0.0.0.0", "::") else host  # the address actually bound
    click.echo(f"Caseflow is running at http://{shown}:{port}/  (Ctrl-C stops)")
    sys.stdout.flush()
    sys.stderr.flush()
    argv = server_argv(host, port, threads, workers)
    os.execv(argv[0], argv)


@click.command()
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
@click.option("--interval", type=float, help="Seconds between polls (default CASEFLOW_TIMER_INTERVAL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with --once).")
@pass_ctx
def worker(ctx: CliContext, once: bool, interval: float | None, as_json: bool) -> None:
    """Fire due timers and continue their instances."""
    if once:
        fired = timer_worker.run_once(ctx.db)
        notify_sender.Sender(ctx.db, ctx.settings).run_once()  # and the notifications due
        emit(as_json, {"fired": fired}, lambda p: click.echo(f"fired timers of {p['fired']} instance(s)"))
        return
    every = interval or ctx.settings.timer_interval_s
    logging.getLogger("caseflow").removeHandler(LOG_LINES)  # the loop logs through its own set-up
    log_setup.configure("%(asctime)s %(name)s %(message)s")
    lock = TimerLock(ctx.settings.instance_dir)
    notify_stop: threading.Event | None = None
    try:
        if not lock.acquire():
            click.echo(f"the timer loop of process {lock.holder() or '?'} holds {lock.path}; "
                       "waiting for it to end (Ctrl-C stops)")
            lock.acquire(blocking=True)
        click.echo(f"timer worker polling every {every}s (Ctrl-C stops)")
        notify_stop, _thread = notify_sender.start_background(ctx.db, ctx.settings, every)  # the outbox sender
        timer_worker.run_forever(ctx.db, every)
    except KeyboardInterrupt:
        pass
    finally:
        if notify_stop is not None:
            notify_stop.set()
        lock.release()


COMMANDS = (serve, worker)
