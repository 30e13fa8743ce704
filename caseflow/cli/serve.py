"""Long-running commands: ``caseflow serve`` (web UI and API) and ``caseflow worker`` (timers).

``serve`` migrates the database once, then replaces itself (``exec``) with gunicorn started
on the app and the config module given by name, so the CLI never imports the web package::

    python -m gunicorn --config python:web.gunicorn_conf --bind HOST:PORT
                       --workers N --threads T 'web.serving:worker_app()'

``web.gunicorn_conf`` holds the server settings; ``web.serving.worker_app()`` builds the app
in each worker process and has the timer worker run in exactly one of them at a time (the
one holding the instance folder's lock). The same command line works without the CLI, e.g.
under a process supervisor, after ``caseflow`` has migrated the database once.
"""
from __future__ import annotations

import logging
import os
import sys

import click

from caseflow import worker as timer_worker
from caseflow.cli.common import CliContext, emit, pass_ctx

GUNICORN_APP = "web.serving:worker_app()"
GUNICORN_CONFIG = "python:web.gunicorn_conf"


def gunicorn_argv(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The command line ``serve`` runs: gunicorn under this Python, on the web app by name."""
    return [sys.executable, "-m", "gunicorn", "--config", GUNICORN_CONFIG, "--bind", f"{host}:{port}",
            "--workers", str(workers), "--threads", str(threads), GUNICORN_APP]


@click.command()
@click.option("--host", default=lambda: os.environ.get("CASEFLOW_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("CASEFLOW_PORT", "5000")), type=int, show_default="5000")
@click.option("--workers", default=lambda: int(os.environ.get("CASEFLOW_WEB_WORKERS", "2")), type=int,
              show_default="2", help="gunicorn worker processes.")
@click.option("--threads", default=lambda: int(os.environ.get("CASEFLOW_WEB_THREADS", "4")), type=int,
              show_default="4", help="Threads per worker.")
@pass_ctx
def serve(ctx: CliContext, host: str, port: int, workers: int, threads: int) -> None:
    """Run the web UI and API with gunicorn, and the timer worker in the background."""
    ctx.db  # noqa: B018 - opening it migrates the database, once, before any worker starts
    ctx.close()  # no connection crosses into gunicorn
    shown = "localhost" if host in ("0.0.0.0", "::") else host  # the address actually bound
    click.echo(f"Caseflow is running at http://{shown}:{port}/  (Ctrl-C stops)")
    sys.stdout.flush()
    sys.stderr.flush()
    argv = gunicorn_argv(host, port, workers, threads)
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
        emit(as_json, {"fired": fired}, lambda p: click.echo(f"fired timers of {p['fired']} instance(s)"))
        return
    every = interval or ctx.settings.timer_interval_s
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"timer worker polling every {every}s (Ctrl-C stops)")
    try:
        timer_worker.run_forever(ctx.db, every)
    except KeyboardInterrupt:
        pass


COMMANDS = (serve, worker)
