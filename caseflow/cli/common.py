"""What every ``caseflow`` command shares: the settings and the database (opened and migrated
once per command, closed when it ends), JSON/human output, and how failures end a command.

Exit codes: 0 success; 1 unexpected; 2 bad usage or input (also an :class:`accounts.AccountError`);
the engine's errors exit with their ``exit_code`` from the engine's one table
(``engine.describe_error``: 3 not found, 4 forbidden, 5 conflict, 6 invalid data, 7 deployment
refused, 8 instance error); an :class:`accounts.TokenError` exits 3 for no such user or token, else 2.
"""
from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NoReturn

import click
from sqlalchemy import exc as sa_exc

import engine
from caseflow import accounts, config, limits, store

EXIT_USAGE = 2

#: An instance, version or token id: a positive database integer.
DB_ID = click.IntRange(1, config.MAX_DB_ID)


class CliContext:
    """Settings and a lazily opened (and migrated) database for one command."""

    def __init__(self) -> None:
        self._db: store.Database | None = None
        self._settings: config.Settings | None = None

    @property
    def settings(self) -> config.Settings:
        if self._settings is None:
            try:
                self._settings = config.load()
            except config.ConfigError as err:
                fail(str(err), EXIT_USAGE)
        return self._settings

    @property
    def db(self) -> store.Database:
        """The database, migrated to the current schema; disposed when the command ends."""
        if self._db is None:
            try:
                db = store.Database(self.settings.database_url)
                db.upgrade()
            except sa_exc.ArgumentError as err:  # no such dialect, a malformed URL
                fail(f"CASEFLOW_DATABASE_URL is not a database Caseflow can open: {err}", EXIT_USAGE)
            except sa_exc.OperationalError as err:  # refused, no such database, wrong password
                fail(f"cannot open the database: {str(err.orig).strip() or err}", 1)
            self._db = db
            current = click.get_current_context(silent=True)
            if current is not None:
                current.find_root().call_on_close(self.close)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.dispose()
            self._db = None


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)


def exit_code(err: engine.EngineError | type[engine.EngineError]) -> int:
    """The CLI exit code of an engine error (or error class), from the engine's one table."""
    return engine.describe_error(err).exit_code


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and exit with ``code``."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def fail_engine(err: engine.EngineError) -> NoReturn:
    """Report an engine error (field by field, problem by problem) and exit with its code."""
    if isinstance(err, engine.InvalidData):
        lines = [f"{err.message}:"] + [f"  {k}: {v}" for k, v in err.fields.items()]
        fail("\n".join(lines), exit_code(err))
    if isinstance(err, engine.DeployRejected):
        click.echo("error: deployment refused, nothing was stored:", err=True)
        for p in err.problems:
            click.echo(f"  {p}", err=True)
        sys.exit(exit_code(err))
    fail(str(err), exit_code(err))


def run(ctx: CliContext, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(session)`` in one transaction; failures become a message and an exit code."""
    try:
        with ctx.db.session() as session:
            return fn(session)
    except engine.EngineError as err:
        fail_engine(err)
    except accounts.TokenError as err:  # no such user or token: not found; anything else: bad input
        fail(str(err), exit_code(engine.NotFound) if err.message_code in ("no_user", "no_token") else EXIT_USAGE)
    except accounts.AccountError as err:
        fail(str(err), EXIT_USAGE)


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def json_arg(value: str | None, what: str) -> dict:
    """Parse a --data/--params value: JSON text, or @file with JSON (exit 2 when it is not)."""
    if value is None:
        return {}
    try:
        if value.startswith("@"):
            value = Path(value[1:]).read_text(encoding="utf-8")
        parsed = json.loads(value, parse_constant=_no_constant)
        limits.check_value(parsed)  # nesting, size, finite numbers, no control characters
    except OSError as err:
        fail(f"{what}: cannot read {value[1:]}: {err.strerror}", EXIT_USAGE)
    except json.JSONDecodeError as err:
        fail(f"{what} is not valid JSON: {err.msg} (position {err.pos})", EXIT_USAGE)
    except (limits.DataRejected, ValueError, RecursionError) as err:  # NaN, 5000 digits, too deep...
        fail(f"{what} is not acceptable: {err}", EXIT_USAGE)
    if not isinstance(parsed, dict):
        fail(f"{what} must be a JSON object", EXIT_USAGE)
    return parsed


def to_json(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str)


def emit(as_json: bool, payload: Any, human: Callable[[Any], Any]) -> None:
    """Print ``payload`` as JSON with ``--json``, else through ``human``."""
    if as_json:
        click.echo(to_json(payload))
    else:
        human(payload)


def echo_lines(lines: Iterable[str]) -> None:
    """Print each line (the human form of list results)."""
    for line in lines:
        click.echo(line)


def operator(user: str) -> engine.Actor:
    """The actor of a command: the operator tool acting under ``--user`` (audited as such).

    The CLI is run on the server by an operator, who may act on any task; the name is
    recorded in the audit log and not role-checked.
    """
    return engine.Actor.tool(user)


def json_option(fn: Callable) -> Callable:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def user_option(fn: Callable) -> Callable:
    return click.option("--user", default="admin", show_default=True,
                        help="Actor recorded in the audit log.")(fn)


class LogLines(logging.Handler):
    """Caseflow's warnings while a command runs: one ``warning: ...`` line each on stderr when ``shown``
    (deploy's checks, or ``CASEFLOW_DEBUG=1``), else held back (the command's own output or ``error:``
    line says what happened; never Python's last-resort traceback dump); tracebacks only when asked.
    The long-running ``worker`` logs through a logging set-up of its own instead."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.shown = self.tracebacks = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.shown:
            return
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        if self.tracebacks and record.exc_info:
            click.echo("".join(traceback.format_exception(*record.exc_info)).rstrip(), err=True)


#: The one handler of the CLI's log lines, on the ``caseflow`` logger while a command runs.
LOG_LINES = LogLines()
