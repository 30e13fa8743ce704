"""The ``caseflow`` command: the operator's tool on the server, thin over the engine.

Every command takes ``--json`` for machine-readable output; errors print one line and
exit non-zero. ``--user`` names the actor recorded in the audit log (not role-checked).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

import click

from caseflow import config
import engine
from caseflow import store

EXIT_ERRORS = {
    engine.NotFound: 3,
    engine.Forbidden: 4,
    engine.Conflict: 5,
    engine.InvalidData: 6,
    engine.DeployRejected: 7,
    engine.InstanceError: 8,
}


class CliContext:
    """Lazily opened database for one command."""

    def __init__(self) -> None:
        self._db: store.Database | None = None
        self.settings = config.load()

    @property
    def db(self) -> store.Database:
        if self._db is None:
            self._db = store.Database(self.settings.database_url)
            self._db.upgrade()
        return self._db


pass_ctx = click.make_pass_decorator(CliContext, ensure=True)

#: An instance, version or token id: a positive database integer.
DB_ID = click.IntRange(1, config.MAX_DB_ID)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _json_arg(value: str | None, what: str) -> Any:
    """Parse a --data/--params value: JSON text, or @file with JSON."""
    if value is None:
        return {}
    try:
        if value.startswith("@"):
            value = Path(value[1:]).read_text(encoding="utf-8")
        parsed = json.loads(value)
    except OSError as err:
        _fail(f"{what}: cannot read {value[1:]}: {err.strerror}", 2)
    except json.JSONDecodeError as err:
        _fail(f"{what} is not valid JSON: {err.msg} (position {err.pos})", 2)
    if not isinstance(parsed, dict):
        _fail(f"{what} must be a JSON object", 2)
    return parsed


def _emit(as_json: bool, payload: Any, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        human(payload)


def _run(ctx: CliContext, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(session)`` in one transaction, mapping engine errors to messages and exit codes."""
    try:
        with ctx.db.session() as session:
            return fn(session)
    except engine.EngineError as err:
        if isinstance(err, engine.InvalidData):
            lines = [f"{err.message}:"] + [f"  {k}: {v}" for k, v in err.fields.items()]
            click.echo("error: " + "\n".join(lines), err=True)
            sys.exit(EXIT_ERRORS[engine.InvalidData])
        if isinstance(err, engine.DeployRejected):
            click.echo("error: deployment refused, nothing was stored:", err=True)
            for p in err.problems:
                click.echo(f"  {p}", err=True)
            sys.exit(EXIT_ERRORS[engine.DeployRejected])
        _fail(str(err), EXIT_ERRORS.get(type(err), 1))


def _emit_instance(as_json: bool, view: dict) -> None:
    """Print an instance; exit 8 with a one-line message when it stopped with an error."""
    _emit(as_json, view, _print_instance)
    if view.get("status") == "error":
        error = view.get("error") or {}
        _fail(f"instance {view['id']} stopped with an error at {error.get('task')}: {error.get('message')} "
              f"(fix the cause, then `caseflow retry {view['id']}`)", EXIT_ERRORS[engine.InstanceError])


def _print_instance(view: dict) -> None:
    click.echo(f"instance {view['id']}  {view['process_key']} v{view['version']}  "
               f"{view.get('business_key') or ''}  status: {view['status']}")
    if view.get("error"):
        click.echo(f"  error at {view['error'].get('task')}: {view['error'].get('message')}")
    for t in view.get("tasks", []):
        due = f"  due {t['due_at']}" if t.get("due_at") else ""
        click.echo(f"  task {t['id']}  {t['title']}  role: {t['role']}{due}")
    for t in view.get("timers", []):
        click.echo(f"  timer {t['task']} due {t['due_at']}")


@click.group()
@click.version_option("0.1.0", prog_name="caseflow")
def main() -> None:
    """Caseflow: complaint and repair workflows on BPMN 2.0."""


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def deploy(ctx: CliContext, paths: tuple[str, ...], user: str, as_json: bool) -> None:
    """Validate process bundles (.bpmn files or folders) and store new versions."""
    results = _run(ctx, lambda s: [r.as_dict() for r in engine.deploy(s, list(paths), actor=user)])
    _emit(as_json, {"processes": results}, lambda p: [
        click.echo(f"{r['key']}: version {r['version']} {r['status']}") for r in p["processes"]])


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def processes(ctx: CliContext, as_json: bool) -> None:
    """List deployed processes and the version new instances start on."""
    rows = _run(ctx, engine.list_processes)
    _emit(as_json, {"processes": rows}, lambda p: [
        click.echo(f"{r['key']}: latest v{r['latest_version']}, starts on v{r['start_version']}"
                   f"{' (pinned)' if r['pinned'] else ''}") for r in p["processes"]])


@main.command()
@click.argument("key")
@click.option("--data", help="Start data as JSON (or @file.json).")
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def start(ctx: CliContext, key: str, data: str | None, user: str, as_json: bool) -> None:
    """Start an instance of process KEY and run it until it waits."""
    payload = _json_arg(data, "--data")
    view = _run(ctx, lambda s: engine.start(s, key, payload, actor=user))
    _emit_instance(as_json, view)


@main.command()
@click.option("--instance", "instance_id", type=DB_ID, help="Only tasks of this instance.")
@click.option("--role", help="Only tasks of this role.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def tasks(ctx: CliContext, instance_id: int | None, role: str | None, as_json: bool) -> None:
    """List ready human tasks."""
    rows = _run(ctx, lambda s: engine.list_tasks(s, instance_id=instance_id, role=role))
    _emit(as_json, {"tasks": rows}, lambda p: [
        click.echo(f"{t['id']}  #{t['instance_id']} {t['business_key'] or ''}  {t['title']}  role: {t['role']}"
                   f"{'  due ' + t['due_at'] if t['due_at'] else ''}") for t in p["tasks"]])


@main.command()
@click.argument("task_id")
@click.option("--data", help="Form data as JSON (or @file.json).")
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def complete(ctx: CliContext, task_id: str, data: str | None, user: str, as_json: bool) -> None:
    """Complete a ready task with form data and run the instance on."""
    payload = _json_arg(data, "--data")
    view = _run(ctx, lambda s: engine.complete(s, task_id, payload, actor=user))
    _emit_instance(as_json, view)


@main.command()
@click.argument("instance_id", type=DB_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def show(ctx: CliContext, instance_id: int, as_json: bool) -> None:
    """Show an instance: status, data, tasks, timers and history."""
    view = _run(ctx, lambda s: engine.show(s, instance_id))

    def human(v: dict) -> None:
        _print_instance(v)
        click.echo("  data: " + json.dumps(v["data"], ensure_ascii=False, default=str))
        for e in v["audit"]:
            click.echo(f"  {e['at']}  {e['actor']}  {e['kind']}  {e['task'] or ''}")

    _emit(as_json, view, human)


@main.command()
@click.argument("instance_id", type=DB_ID)
@click.option("--user", default="admin", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def retry(ctx: CliContext, instance_id: int, user: str, as_json: bool) -> None:
    """Run a failed instance again from the task that failed."""
    view = _run(ctx, lambda s: engine.retry(s, instance_id, actor=user))
    _emit_instance(as_json, view)


@main.command()
@click.argument("instance_id", type=DB_ID)
@click.option("--reason", help="Why the case is cancelled (audited).")
@click.option("--user", default="admin", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_ctx
def cancel(ctx: CliContext, instance_id: int, reason: str | None, user: str, as_json: bool) -> None:
    """Cancel an unfinished instance."""
    view = _run(ctx, lambda s: engine.cancel(s, instance_id, actor=user, reason=reason))
    _emit(as_json, view, _print_instance)


@main.command()
@click.option("--once", is_flag=True, help="Fire what is due now and exit.")
@click.option("--interval", type=float, help="Seconds between polls (default CASEFLOW_TIMER_INTERVAL).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with --once).")
@pass_ctx
def worker(ctx: CliContext, once: bool, interval: float | None, as_json: bool) -> None:
    """Fire due timers and continue their instances."""
    import logging

    from caseflow import worker as timer_worker

    if once:
        fired = timer_worker.run_once(ctx.db)
        _emit(as_json, {"fired": fired}, lambda p: click.echo(f"fired timers of {p['fired']} instance(s)"))
        return
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    click.echo(f"timer worker polling every {interval or ctx.settings.timer_interval_s}s (Ctrl-C stops)")
    try:
        timer_worker.run_forever(ctx.db, interval or ctx.settings.timer_interval_s)
    except KeyboardInterrupt:
        pass


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def operators(click_ctx: click.Context, as_json: bool) -> None:
    """List the service-task operators a diagram may call, with their parameters."""
    if click_ctx.invoked_subcommand is not None:
        return
    from service_tasks import registry

    described = [op.describe() for op in registry.all_operators()]

    def human(p: dict) -> None:
        for op in p["operators"]:
            click.echo(op["name"])
            for line in op["doc"].splitlines():
                click.echo(f"    {line}")
            for prm in op["params"]:
                default = "required" if prm["required"] else f"default {json.dumps(prm['default'], ensure_ascii=False)}"
                click.echo(f"    - {prm['name']} ({prm['type']}, {default}): {prm['doc']}")
            click.echo("")

    _emit(as_json, {"operators": described}, human)


@operators.command("run")
@click.argument("name")
@click.option("--data", help="Input data as JSON (or @file.json).")
@click.option("--params", "params", help="Parameters as JSON (or @file.json).")
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the result is always JSON.")
def operators_run(name: str, data: str | None, params: str | None, as_json: bool) -> None:
    """Run operator NAME on sample data and print its result as JSON (numbers are not allocated)."""
    import datetime as dt

    from caseflow import clock
    from service_tasks import registry

    try:
        op = registry.get(name)
    except KeyError:
        _fail(f"no operator named {name!r} (see `caseflow operators`)", 3)
    counters: dict[tuple[str, int], int] = {}

    def sample_number(seq: str, year: int) -> int:  # a dry run allocates nothing real
        counters[(seq, year)] = counters.get((seq, year), 0) + 1
        return counters[(seq, year)]

    try:
        result = op.run(_json_arg(data, "--data"), _json_arg(params, "--params"),
                        {"now": clock.now(), "next_number": sample_number})
    except registry.OperatorError as err:
        _fail(str(err), 6)
    except (TypeError, ValueError) as err:
        _fail(f"{name}: {err}", 6)
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=lambda v: v.isoformat()
                          if isinstance(v, (dt.date, dt.datetime)) else str(v)))


# --- web UI commands (code in web/commands.py) -----------------------------------------------
from web.commands import demo_users, serve, users  # noqa: E402

main.add_command(users)
main.add_command(demo_users)
main.add_command(serve)


# --- process versions, migration and API tokens (code in admin_commands.py) -------------------
from caseflow.cli.admin import COMMANDS as _ADMIN_COMMANDS  # noqa: E402

for _command in _ADMIN_COMMANDS:
    main.add_command(_command)


if __name__ == "__main__":
    main()
