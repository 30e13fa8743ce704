"""People and their API tokens: ``caseflow users add|list|deactivate|activate``, ``caseflow demo-users`` and
``caseflow tokens create|list|revoke`` (over :mod:`caseflow.accounts`)."""
from __future__ import annotations

from typing import Any

import click

import engine
from caseflow import accounts
from caseflow.cli.common import DB_ID, CliContext, echo_lines, emit, json_option, pass_ctx, run

# --- users ------------------------------------------------------------------------------------------


@click.group()
def users() -> None:
    """Manage the people who sign in to the web UI."""


@users.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True,
              help=f"Role key (repeatable): {', '.join(accounts.ROLES)} or a lane-derived role.")
@click.option("--password", help="Password (asked for when left out).")
@click.option("--display-name", help="Name shown in the UI and on printed sheets.")
@click.option("--locale", type=click.Choice(["zh", "en"]), help="UI language (default: the browser's).")
@json_option
@pass_ctx
def users_add(ctx: CliContext, name: str, roles: tuple[str, ...], password: str | None, display_name: str | None,
              locale: str | None, as_json: bool) -> None:
    """Add user NAME with one or more roles."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)

    def add(s: Any) -> dict:
        known = set(accounts.known_roles(s, engine.lane_roles(s)))  # before the new user holds them
        user = _user_dict(accounts.create_user(s, name, password, list(roles), display_name, locale))
        unused = [role for role in user["roles"] if role not in known]
        if unused:  # a role ahead of its lane is allowed; a typo is told
            click.echo(f"warning: no deployed process, task or other user has the role {', '.join(unused)} "
                       f"(check the spelling; the roles in use are {', '.join(sorted(known))})", err=True)
        return user

    emit(as_json, run(ctx, add), lambda u: click.echo(f"added {u['username']} ({', '.join(u['roles'])})"))


def _user_dict(user: Any) -> dict:
    return {"username": user.username, "roles": sorted(user.role_names), "display_name": user.display_name,
            "active": user.active}


@users.command("list")
@json_option
@pass_ctx
def users_list(ctx: CliContext, as_json: bool) -> None:
    """List users with their roles."""
    rows = run(ctx, lambda s: [_user_dict(u) for u in accounts.list_users(s)])
    emit(as_json, {"users": rows}, lambda p: echo_lines(
        f"{u['username']:<20} {', '.join(u['roles']):<40} {u['display_name'] or ''}"
        f"{'' if u['active'] else '  (inactive)'}" for u in p["users"]))


@users.command("deactivate")
@click.argument("name")
@json_option
@pass_ctx
def users_deactivate(ctx: CliContext, name: str, as_json: bool) -> None:
    """Deactivate user NAME: signs out all their sessions and revokes all their API tokens."""
    def deactivate(s: Any) -> dict:
        user = accounts.require_user(s, name)
        revoked = accounts.set_active(user, False)
        return {**_user_dict(user), "tokens_revoked": revoked}

    emit(as_json, run(ctx, deactivate), lambda u: click.echo(
        f"deactivated {u['username']}: sessions ended, {u['tokens_revoked']} API token(s) revoked"))


@users.command("activate")
@click.argument("name")
@json_option
@pass_ctx
def users_activate(ctx: CliContext, name: str, as_json: bool) -> None:
    """Let user NAME sign in again (tokens revoked at deactivation stay revoked)."""
    def activate(s: Any) -> dict:
        user = accounts.require_user(s, name)
        accounts.set_active(user, True)
        return _user_dict(user)

    emit(as_json, run(ctx, activate), lambda u: click.echo(f"activated {u['username']}"))


@click.command("demo-users")
@json_option
@pass_ctx
def demo_users(ctx: CliContext, as_json: bool) -> None:
    """Create the missing demo users (one per role) and print their names and passwords.

    Demo users that exist already are left as they are: a changed password, role or
    deactivation is never undone.
    """
    result = run(ctx, accounts.ensure_demo_users)
    payload = {"created": [{"username": d.username, "password": d.password, "roles": list(d.roles)}
                           for d, new in result if new],
               "kept": [d.username for d, new in result if not new]}

    def show(p: dict) -> None:
        if p["created"]:
            click.echo("Demo users created (user / password / roles):")
            for demo in p["created"]:
                click.echo(f"  {demo['username']:<10} {demo['password']:<16} {', '.join(demo['roles'])}")
        if p["kept"]:
            click.echo(f"Demo users already present, left unchanged: {', '.join(p['kept'])}")

    emit(as_json, payload, show)


# --- API tokens ---------------------------------------------------------------------------------------


@click.group("tokens")
def tokens() -> None:
    """Personal API tokens (`Authorization: Bearer TOKEN`); only their hashes are stored."""


@tokens.command("create")
@click.argument("user")
@click.option("--name", help="What the token is for (shown in lists).")
@json_option
@pass_ctx
def tokens_create(ctx: CliContext, user: str, name: str | None, as_json: bool) -> None:
    """Create a token for USER and print it once (it cannot be shown again)."""
    def create(s: Any) -> dict:
        row, plain = accounts.create_token(s, user, name)
        return {**accounts.token_dict(row), "token": plain, "user": user}

    def show(t: dict) -> None:
        click.echo(t["token"])
        click.echo(f"token {t['id']} ({t['name']}) for {user}: shown once, store it now; revoke with "
                   f"`caseflow tokens revoke {t['id']}`", err=True)

    emit(as_json, run(ctx, create), show)


@tokens.command("list")
@click.argument("user")
@json_option
@pass_ctx
def tokens_list(ctx: CliContext, user: str, as_json: bool) -> None:
    """List USER's tokens (never the tokens themselves)."""
    rows = run(ctx, lambda s: [accounts.token_dict(t) for t in accounts.list_tokens(s, user)])
    emit(as_json, {"user": user, "tokens": rows}, lambda p: echo_lines(
        f"{t['id']:<5} {t['name']:<30} created {t['created_at'][:19]}  last used {(t['last_used_at'] or 'never')[:19]}"
        + (f"  REVOKED {t['revoked_at'][:19]}" if t["revoked_at"] else "") for t in p["tokens"]))


@tokens.command("revoke")
@click.argument("token_id", type=DB_ID)
@json_option
@pass_ctx
def tokens_revoke(ctx: CliContext, token_id: int, as_json: bool) -> None:
    """Revoke token TOKEN_ID (of any user); requests with it get 401 from now on."""
    out = run(ctx, lambda s: accounts.token_dict(accounts.revoke_token(s, token_id)))
    emit(as_json, out, lambda t: click.echo(f"token {t['id']} ({t['name']}) revoked"))


COMMANDS = (users, demo_users, tokens)
