"""``caseflow migrate``: move running instances to another version of their process.

``--instance`` takes ids or case numbers (``CP-2026-000001``). ``--to`` names the target as
a version of the instances' process (``3``), as ``KEY@3``, or
as a definition id (``def:17``). One command is one audited action; each instance moves
completely or not at all.
"""
from __future__ import annotations

import re
import sys
from typing import Any

import click
from sqlalchemy import select

import engine
from caseflow import store
from caseflow.cli.common import (
    DB_ID,
    EXIT_USAGE,
    CliContext,
    emit,
    fail,
    json_option,
    operator,
    pass_ctx,
    run,
    user_option,
)
from caseflow.config import MAX_DB_ID

EXIT_NOT_ALL_MIGRATED = 9
_CASE_NUMBER = re.compile(r"^[A-Za-z][A-Za-z0-9]*-[A-Za-z0-9-]{1,90}$")  # CP-2026-000001, RMA-2026-000007


def resolve_instances(session: Any, refs: tuple[str, ...]) -> list[int]:
    """Instance ids from ids (``12``) or case numbers (``CP-2026-000001``, ``RMA-2026-000007``)."""
    ids: list[int] = []
    for ref in (r.strip() for r in refs):
        if ref.isdigit() and len(ref) <= 10 and 0 < int(ref) <= MAX_DB_ID:
            ids.append(int(ref))
            continue
        if not _CASE_NUMBER.match(ref):
            raise engine.InvalidData({"--instance": f"{ref!r} is neither an instance id nor a case number"})
        found = session.scalars(select(store.ProcessInstance.id)
                                .where(store.ProcessInstance.business_key == ref.upper())).all()
        if not found:
            raise engine.InvalidData({"--instance": f"no case numbered {ref}"})
        ids.extend(found)
    return list(dict.fromkeys(ids))


def _resolve_target(session: Any, to: str, key: str | None) -> store.ProcessDefinition:
    to = to.strip()
    match = re.fullmatch(r"(?:def:|#)(\d+)", to)
    if match:
        target = engine.get_definition(session, int(match.group(1)))
        if key is not None and target.key != key:
            raise engine.InvalidData({"--to": f"definition {target.id} is a version of {target.key!r}, not {key!r}"})
        return target
    match = re.fullmatch(r"(?:(.+)[@:])?v?(\d+)", to)
    if not match:
        raise engine.InvalidData({"--to": "give a version (3), KEY@VERSION or def:DEFINITION_ID"})
    named, version = match.group(1), int(match.group(2))
    if named and key and named != key:
        raise engine.InvalidData({"--to": f"{named!r} is not the process of the instances ({key!r})"})
    process = named or key
    if not process:
        raise engine.InvalidData({"--to": "name the process: KEY@VERSION (or use --all-of KEY / --process KEY)"})
    return engine.find_definition(session, process, version)


def _print_report(r: dict) -> None:
    verb = "would move" if r["dry_run"] else "moved"
    for e in r["instances"]:
        moved = e["can_migrate"] if r["dry_run"] else e.get("migrated")
        where = ", ".join(f"{t['task']} ({t['state']})" for t in e["tasks"])
        head = f"instance {e['instance_id']} {e['business_key'] or ''}".rstrip()
        if moved:
            at = f"  at {where}" if where else ""
            click.echo(f"  ok      {head}: v{e['from_version']} -> v{e['to_version']}{at}")
        else:
            click.echo(f"  REFUSED {head}: " + "; ".join(e["reasons"]))
        for note in e["notes"]:
            click.echo(f"          note: {note}")
    count = r["can_migrate"] if r["dry_run"] else r["migrated"]
    click.echo(f"{r['key']} -> v{r['to_version']}: {verb} {count} of {r['requested']} instance(s)"
               + (" (dry run: nothing changed)" if r["dry_run"] else ""))


@click.command("migrate")
@click.option("--to", "to", required=True, help="Target: VERSION of the instances' process, KEY@VERSION or def:ID.")
@click.option("--instance", "instance_refs", multiple=True, metavar="ID|NUMBER",
              help="An instance id or case number, e.g. 12 or CP-2026-000001 (repeatable).")
@click.option("--from-version", type=DB_ID, help="Every unfinished instance of this version.")
@click.option("--all-of", "all_of", metavar="KEY", help="Every unfinished instance of process KEY.")
@click.option("--process", "process_key", metavar="KEY", help="The process (with --from-version).")
@click.option("--dry-run", is_flag=True, help="Only report whether each instance can move, and why not.")
@user_option
@json_option
@pass_ctx
def migrate(ctx: CliContext, to: str, instance_refs: tuple[str, ...], from_version: int | None, all_of: str | None,
            process_key: str | None, dry_run: bool, user: str, as_json: bool) -> None:
    """Move running instances to another version of their process, as one audited action.

    Each instance moves completely or not at all; instances that cannot move (they are at a
    task that is missing or changed in the target) are left as they are and reported with
    the reason. Exits 9 when some instance was not migrated (0 for a dry run).
    """
    chosen = sum(1 for c in (instance_refs, from_version is not None, all_of) if c)
    if chosen != 1:
        fail("choose the instances with exactly one of --instance, --from-version or --all-of", EXIT_USAGE)

    def move(s: Any) -> dict:
        key = all_of or process_key
        instance_ids = resolve_instances(s, instance_refs)
        if instance_ids:
            keys = {row.process_key for row in (s.get(store.ProcessInstance, i) for i in instance_ids) if row}
            if len(keys) > 1:
                raise engine.InvalidData({"--instance": f"the instances belong to several processes: {sorted(keys)}"})
            key = key or next(iter(keys), None)
        target = _resolve_target(s, to, key)
        key = key or target.key
        if instance_ids:
            ids = instance_ids
        elif from_version is not None:
            ids = engine.migration_candidates(s, key=key, version=from_version)
        else:
            ids = engine.migration_candidates(s, key=key, exclude_definition_id=target.id)
        return engine.migrate(s, ids, target.id, actor=operator(user), dry_run=dry_run)

    report = run(ctx, move)
    emit(as_json, report, _print_report)
    moved = report["can_migrate"] if dry_run else report["migrated"]
    if moved < report["requested"]:  # a dry run too: a script can tell before it migrates for real
        sys.exit(EXIT_NOT_ALL_MIGRATED)


COMMANDS = (migrate,)
