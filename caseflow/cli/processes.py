"""Processes and their versions: ``caseflow deploy``, ``processes``, ``versions``, ``pin``,
``unpin`` and ``diff`` (migration of running instances is in :mod:`caseflow.cli.migrate`)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

import engine
from caseflow.cli.common import (
    DB_ID,
    LOG_LINES,
    CliContext,
    echo_lines,
    emit,
    json_option,
    operator,
    pass_ctx,
    run,
    user_option,
)


@contextmanager
def _engine_lines(tracebacks: bool) -> Iterator[None]:
    """While deploying, the engine's warnings are lines on stderr (with ``--traceback``, their tracebacks)."""
    before = LOG_LINES.shown, LOG_LINES.tracebacks
    LOG_LINES.shown, LOG_LINES.tracebacks = True, before[1] or tracebacks
    try:
        yield
    finally:
        LOG_LINES.shown, LOG_LINES.tracebacks = before


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--traceback", "tracebacks", is_flag=True,
              help="Also print the traceback of an error the checks did not expect (for a bug report).")
@click.option("--if-new", "if_new", is_flag=True,
              help="Leave a process unchanged when any deployed version has its content already (`make run` "
                   "seeds the shipped processes so: versions deployed since stay the ones new cases start on).")
@click.option("--check", "check_only", is_flag=True, help="Only validate and report: nothing is stored.")
@user_option
@json_option
@pass_ctx
def deploy(ctx: CliContext, paths: tuple[str, ...], tracebacks: bool, if_new: bool, check_only: bool, user: str,
           as_json: bool) -> None:
    """Validate process bundles (.bpmn files or folders) and store new versions.

    A bundle that cannot be deployed is refused with every problem found (file, line,
    element) and exit code 7; nothing is stored then.
    """
    with _engine_lines(tracebacks):
        results = run(ctx, lambda s: [r.as_dict() for r in engine.deploy(
            s, list(paths), actor=operator(user), if_new=if_new, check_only=check_only)])
    emit(as_json, {"processes": results, "check": check_only}, lambda p: echo_lines(
        f"{r['key']}: version {r['version']} {_deploy_words(r['status'])}" for r in p["processes"]))


def _deploy_words(status: str) -> str:
    return {"valid": "would be deployed (--check: nothing stored)"}.get(status, status)


@click.command()
@json_option
@pass_ctx
def processes(ctx: CliContext, as_json: bool) -> None:
    """List deployed processes and the version new instances start on."""
    rows = run(ctx, engine.list_processes)
    emit(as_json, {"processes": rows}, lambda p: echo_lines(
        f"{r['key']}: latest v{r['latest_version']}, starts on v{r['start_version']}"
        f"{' (pinned)' if r['pinned'] else ''}" for r in p["processes"]))


def _print_versions(p: dict) -> None:
    for v in p["versions"]:
        flags = [f for f, on in (("pinned", v["pinned"]), ("new instances", v["starts_new_instances"]),
                                 ("latest", v["latest"])) if on]
        counts = ", ".join(f"{n} {s}" for s, n in v["instances"].items() if n) or "no instances"
        click.echo(f"v{v['version']:<4} #{v['definition_id']:<5} {v['deployed_at'][:19]}  {v['deployed_by']:<12} "
                   f"{v['content_hash'][:12]}  {counts}" + (f"  [{', '.join(flags)}]" if flags else ""))


@click.command("versions")
@click.argument("key")
@json_option
@pass_ctx
def versions(ctx: CliContext, key: str, as_json: bool) -> None:
    """List the deployed versions of process KEY with their instance counts."""
    rows = run(ctx, lambda s: engine.list_versions(s, key))
    emit(as_json, {"key": key, "versions": rows}, _print_versions)


@click.command("pin")
@click.argument("key")
@click.argument("version", type=DB_ID)
@user_option
@json_option
@pass_ctx
def pin(ctx: CliContext, key: str, version: int, user: str, as_json: bool) -> None:
    """Make new instances of KEY start on VERSION (until `caseflow unpin KEY`)."""
    info = run(ctx, lambda s: engine.pin(s, key, version, actor=operator(user)))
    emit(as_json, info, lambda v: click.echo(f"{key}: new instances start on v{v['version']} (pinned)"))


@click.command("unpin")
@click.argument("key")
@user_option
@json_option
@pass_ctx
def unpin(ctx: CliContext, key: str, user: str, as_json: bool) -> None:
    """New instances of KEY start on its latest version again."""
    info = run(ctx, lambda s: engine.unpin(s, key, actor=operator(user)))
    emit(as_json, info, lambda v: click.echo(f"{key}: new instances start on v{v['start_version']} (latest)"))


@click.command("diff")
@click.argument("key")
@click.argument("from_version", type=DB_ID)
@click.argument("to_version", type=DB_ID)
@json_option
@pass_ctx
def diff(ctx: CliContext, key: str, from_version: int, to_version: int, as_json: bool) -> None:
    """What changed in process KEY from FROM_VERSION to TO_VERSION."""
    def compare(s: Any) -> dict:
        a = engine.find_definition(s, key, from_version)
        b = engine.find_definition(s, key, to_version)
        return engine.diff_versions(s, a.id, b.id)

    emit(as_json, run(ctx, compare), lambda d: echo_lines(engine.diff_lines(d)))


COMMANDS = (deploy, processes, versions, pin, unpin, diff)
