"""Operator commands for process versions, instance migration and API tokens.

Registered on ``cli.main`` at the end of cli.py: ``caseflow versions``, ``pin``, ``unpin``,
``diff``, ``migrate`` and ``caseflow tokens create|list|revoke``. Thin over the engine (and
web/api/tokens.py for tokens); one command is one transaction.

``--to`` of ``migrate`` names the target as a version of the instances' process (``3``),
as ``KEY@3``, or as a definition id (``def:17``).
"""
from __future__ import annotations

import json
import re
import sys
from typing import Any, Callable

import click

from caseflow import config
import engine
from caseflow import store

#: An instance, version or token id: a positive database integer.
DB_ID = click.IntRange(1, config.MAX_DB_ID)

EXIT_ERRORS = {engine.NotFound: 3, engine.Forbidden: 4, engine.Conflict: 5, engine.InvalidData: 6,
               engine.DeployRejected: 7, engine.InstanceError: 8}
EXIT_NOT_ALL_MIGRATED = 9


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _run(fn: Callable[[Any], Any]) -> Any:
    """``fn(session)`` in one transaction; engine errors become a message and an exit code."""
    db = store.Database(config.load().database_url)
    try:
        db.upgrade()
        with db.session() as session:
            return fn(session)
    except engine.EngineError as err:
        _fail(str(err), EXIT_ERRORS.get(type(err), 1))
    finally:
        db.dispose()


def _emit(as_json: bool, payload: Any, human: Callable[[Any], None]) -> None:
    if as_json:
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2, default=str))
    else:
        human(payload)


# --- versions -----------------------------------------------------------------------------------


def _print_versions(p: dict) -> None:
    for v in p["versions"]:
        flags = [f for f, on in (("pinned", v["pinned"]), ("new instances", v["starts_new_instances"]),
                                 ("latest", v["latest"])) if on]
        counts = ", ".join(f"{n} {s}" for s, n in v["instances"].items() if n) or "no instances"
        click.echo(f"v{v['version']:<4} #{v['definition_id']:<5} {v['deployed_at'][:19]}  {v['deployed_by']:<12} "
                   f"{v['content_hash'][:12]}  {counts}" + (f"  [{', '.join(flags)}]" if flags else ""))


@click.command("versions")
@click.argument("key")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def versions(key: str, as_json: bool) -> None:
    """List the deployed versions of process KEY with their instance counts."""
    rows = _run(lambda s: engine.list_versions(s, key))
    _emit(as_json, {"key": key, "versions": rows}, _print_versions)


@click.command("pin")
@click.argument("key")
@click.argument("version", type=DB_ID)
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def pin(key: str, version: int, user: str, as_json: bool) -> None:
    """Make new instances of KEY start on VERSION (until `caseflow unpin KEY`)."""
    info = _run(lambda s: engine.pin(s, key, version, actor=user))
    _emit(as_json, info, lambda v: click.echo(f"{key}: new instances start on v{v['version']} (pinned)"))


@click.command("unpin")
@click.argument("key")
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def unpin(key: str, user: str, as_json: bool) -> None:
    """New instances of KEY start on its latest version again."""
    info = _run(lambda s: engine.unpin(s, key, actor=user))
    _emit(as_json, info, lambda v: click.echo(f"{key}: new instances start on v{v['start_version']} (latest)"))


@click.command("diff")
@click.argument("key")
@click.argument("from_version", type=DB_ID)
@click.argument("to_version", type=DB_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def diff(key: str, from_version: int, to_version: int, as_json: bool) -> None:
    """What changed in process KEY from FROM_VERSION to TO_VERSION."""
    def run(s: Any) -> dict:
        a = engine.find_definition(s, key, from_version)
        b = engine.find_definition(s, key, to_version)
        return engine.diff_versions(s, a.id, b.id)

    result = _run(run)
    _emit(as_json, result, lambda d: [click.echo(line) for line in engine.diff_lines(d)])


# --- migration --------------------------------------------------------------------------------


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
    if not (named or key):
        raise engine.InvalidData({"--to": "name the process: KEY@VERSION (or use --all-of KEY / --process KEY)"})
    return engine.find_definition(session, named or key, version)


def _print_report(r: dict) -> None:
    verb = "would move" if r["dry_run"] else "moved"
    for e in r["instances"]:
        moved = e["can_migrate"] if r["dry_run"] else e.get("migrated")
        where = ", ".join(f"{t['task']} ({t['state']})" for t in e["tasks"])
        head = f"instance {e['instance_id']} {e['business_key'] or ''}".rstrip()
        if moved:
            click.echo(f"  ok      {head}: v{e['from_version']} -> v{e['to_version']}" + (f"  at {where}" if where else ""))
        else:
            click.echo(f"  REFUSED {head}: " + "; ".join(e["reasons"]))
        for note in e["notes"]:
            click.echo(f"          note: {note}")
    count = r["can_migrate"] if r["dry_run"] else r["migrated"]
    click.echo(f"{r['key']} -> v{r['to_version']}: {verb} {count} of {r['requested']} instance(s)"
               + (" (dry run: nothing changed)" if r["dry_run"] else ""))


@click.command("migrate")
@click.option("--to", "to", required=True, help="Target: VERSION of the instances' process, KEY@VERSION or def:ID.")
@click.option("--instance", "instance_ids", type=DB_ID, multiple=True, help="An instance id (repeatable).")
@click.option("--from-version", type=DB_ID, help="Every unfinished instance of this version.")
@click.option("--all-of", "all_of", metavar="KEY", help="Every unfinished instance of process KEY.")
@click.option("--process", "process_key", metavar="KEY", help="The process (with --from-version).")
@click.option("--dry-run", is_flag=True, help="Only report whether each instance can move, and why not.")
@click.option("--user", default="admin", show_default=True, help="Actor recorded in the audit log.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def migrate(to: str, instance_ids: tuple[int, ...], from_version: int | None, all_of: str | None,
            process_key: str | None, dry_run: bool, user: str, as_json: bool) -> None:
    """Move running instances to another version of their process, as one audited action.

    Each instance moves completely or not at all; instances that cannot move (they are at a
    task that is missing or changed in the target) are left as they are and reported with
    the reason. Exits 9 when some instance was not migrated (0 for a dry run).
    """
    chosen = sum(1 for c in (instance_ids, from_version is not None, all_of) if c)
    if chosen != 1:
        _fail("choose the instances with exactly one of --instance, --from-version or --all-of", 2)

    def run(s: Any) -> dict:
        key = all_of or process_key
        if instance_ids:
            keys = {row.process_key for row in (s.get(store.ProcessInstance, i) for i in instance_ids) if row}
            if len(keys) > 1:
                raise engine.InvalidData({"--instance": f"the instances belong to several processes: {sorted(keys)}"})
            key = key or next(iter(keys), None)
        target = _resolve_target(s, to, key)
        key = key or target.key
        if instance_ids:
            ids = list(instance_ids)
        elif from_version is not None:
            ids = engine.migration_candidates(s, key=key, version=from_version)
        else:
            ids = engine.migration_candidates(s, key=key, exclude_definition_id=target.id)
        return engine.migrate(s, ids, target.id, actor=user, dry_run=dry_run)

    report = _run(run)
    _emit(as_json, report, _print_report)
    if not dry_run and report["migrated"] < report["requested"]:
        sys.exit(EXIT_NOT_ALL_MIGRATED)


# --- API tokens ---------------------------------------------------------------------------------


@click.group("tokens")
def tokens() -> None:
    """Personal API tokens (`Authorization: Bearer TOKEN`); only their hashes are stored."""


def _token_call(fn: Callable[[Any], Any]) -> Any:
    from web.api import tokens as api_tokens

    try:
        return _run(fn)
    except api_tokens.TokenError as err:
        _fail(str(err), 3)


@tokens.command("create")
@click.argument("user")
@click.option("--name", help="What the token is for (shown in lists).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_create(user: str, name: str | None, as_json: bool) -> None:
    """Create a token for USER and print it once (it cannot be shown again)."""
    from web.api import tokens as api_tokens

    def run(s: Any) -> dict:
        row, plain = api_tokens.create_token(s, user, name)
        return {**api_tokens.token_dict(row), "token": plain, "user": user}

    out = _token_call(run)
    _emit(as_json, out, lambda t: (click.echo(t["token"]), click.echo(
        f"token {t['id']} ({t['name']}) for {user}: shown once, store it now; revoke with "
        f"`caseflow tokens revoke {t['id']}`", err=True)))


@tokens.command("list")
@click.argument("user")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_list(user: str, as_json: bool) -> None:
    """List USER's tokens (never the tokens themselves)."""
    from web.api import tokens as api_tokens

    rows = _token_call(lambda s: [api_tokens.token_dict(t) for t in api_tokens.list_tokens(s, user)])
    _emit(as_json, {"user": user, "tokens": rows}, lambda p: [click.echo(
        f"{t['id']:<5} {t['name']:<30} created {t['created_at'][:19]}  last used {(t['last_used_at'] or 'never')[:19]}"
        + (f"  REVOKED {t['revoked_at'][:19]}" if t["revoked_at"] else "")) for t in p["tokens"]])


@tokens.command("revoke")
@click.argument("token_id", type=DB_ID)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tokens_revoke(token_id: int, as_json: bool) -> None:
    """Revoke token TOKEN_ID (of any user); requests with it get 401 from now on."""
    from web.api import tokens as api_tokens

    out = _token_call(lambda s: api_tokens.token_dict(api_tokens.revoke_token(s, token_id)))
    _emit(as_json, out, lambda t: click.echo(f"token {t['id']} ({t['name']}) revoked"))


COMMANDS = (versions, pin, unpin, diff, migrate, tokens)
