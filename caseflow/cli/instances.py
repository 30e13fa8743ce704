"""Instances and tasks: ``caseflow start``, ``tasks``, ``complete``, ``show``, ``retry``, ``cancel``."""
from __future__ import annotations

import json

import click

import engine
from caseflow import accounts
from caseflow.cli.common import (
    DB_ID,
    EXIT_USAGE,
    CliContext,
    echo_lines,
    emit,
    exit_code,
    fail,
    json_arg,
    json_option,
    operator,
    pass_ctx,
    run,
    user_option,
)


def print_instance(view: dict) -> None:
    click.echo(f"instance {view['id']}  {view['process_key']} v{view['version']}  "
               f"{view.get('business_key') or ''}  status: {view['status']}")
    if view.get("error"):
        click.echo(f"  error at {view['error'].get('task')}: {view['error'].get('message')}")
    for t in view.get("tasks", []):
        due = f"  due {t['due_at']}" if t.get("due_at") else ""
        click.echo(f"  task {t['id']}  {t['title']}  role: {t['role']}{due}")
    for t in view.get("timers", []):
        click.echo(f"  timer {t['task']} due {t['due_at']}")


def emit_instance(as_json: bool, view: dict) -> None:
    """Print an instance; exit 8 with a one-line message when it stopped with an error."""
    emit(as_json, view, print_instance)
    if view.get("status") == "error":
        error = view.get("error") or {}
        fail(f"instance {view['id']} stopped with an error at {error.get('task')}: {error.get('message')} "
             f"(fix the cause, then `caseflow retry {view['id']}`)", exit_code(engine.InstanceError))


@click.command()
@click.argument("key")
@click.option("--data", help="Start data as JSON (or @file.json).")
@user_option
@json_option
@pass_ctx
def start(ctx: CliContext, key: str, data: str | None, user: str, as_json: bool) -> None:
    """Start an instance of process KEY and run it until it waits."""
    payload = json_arg(data, "--data")
    emit_instance(as_json, run(ctx, lambda s: engine.start(s, key, payload, actor=operator(user))))


@click.command()
@click.option("--instance", "instance_id", type=DB_ID, help="Only tasks of this instance.")
@click.option("--role", help="Only tasks of this role.")
@json_option
@pass_ctx
def tasks(ctx: CliContext, instance_id: int | None, role: str | None, as_json: bool) -> None:
    """List ready human tasks."""
    if role is not None:
        known = run(ctx, lambda s: accounts.known_roles(s, engine.lane_roles(s)))
        if role not in known:
            fail(f"--role: no role {role!r}; the roles are {', '.join(known)}", EXIT_USAGE)
    rows = run(ctx, lambda s: engine.list_tasks(s, instance_id=instance_id, role=role))
    emit(as_json, {"tasks": rows}, lambda p: echo_lines(
        f"{t['id']}  #{t['instance_id']} {t['business_key'] or ''}  {t['title']}  role: {t['role']}"
        f"{'  due ' + t['due_at'] if t['due_at'] else ''}" for t in p["tasks"]))


@click.command()
@click.argument("task_id")
@click.option("--data", help="Form data as JSON (or @file.json).")
@user_option
@json_option
@pass_ctx
def complete(ctx: CliContext, task_id: str, data: str | None, user: str, as_json: bool) -> None:
    """Complete a ready task with form data and run the instance on."""
    payload = json_arg(data, "--data")
    emit_instance(as_json, run(ctx, lambda s: engine.complete(s, task_id, payload, actor=operator(user))))


@click.command()
@click.argument("instance_id", type=DB_ID)
@json_option
@pass_ctx
def show(ctx: CliContext, instance_id: int, as_json: bool) -> None:
    """Show an instance: status, data, tasks, timers and history."""
    view = run(ctx, lambda s: engine.show(s, instance_id))

    def human(v: dict) -> None:
        print_instance(v)
        click.echo("  data: " + json.dumps(v["data"], ensure_ascii=False, default=str))
        for e in v["audit"]:
            click.echo(f"  {e['at']}  {e['actor']}  {e['kind']}  {e['task'] or ''}")

    emit(as_json, view, human)


@click.command()
@click.argument("instance_id", type=DB_ID)
@user_option
@json_option
@pass_ctx
def retry(ctx: CliContext, instance_id: int, user: str, as_json: bool) -> None:
    """Run a failed instance again from the task that failed."""
    emit_instance(as_json, run(ctx, lambda s: engine.retry(s, instance_id, actor=operator(user))))


@click.command()
@click.argument("instance_id", type=DB_ID)
@click.option("--reason", help="Why the case is cancelled (audited).")
@user_option
@json_option
@pass_ctx
def cancel(ctx: CliContext, instance_id: int, reason: str | None, user: str, as_json: bool) -> None:
    """Cancel an unfinished instance."""
    view = run(ctx, lambda s: engine.cancel(s, instance_id, actor=operator(user), reason=reason))
    emit(as_json, view, print_instance)


COMMANDS = (start, tasks, complete, show, retry, cancel)
