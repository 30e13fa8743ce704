"""``caseflow users add|list``, ``caseflow demo-users`` and ``caseflow serve`` (added to cli.main)."""
from __future__ import annotations

import os
import sys

import click

from caseflow import config
from caseflow import store
from web import accounts


def _db() -> store.Database:
    db = store.Database(config.load().database_url)
    db.upgrade()
    return db


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
def users_add(name: str, roles: tuple[str, ...], password: str | None, display_name: str | None,
              locale: str | None) -> None:
    """Add user NAME with one or more roles."""
    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with _db().session() as session:
            user = accounts.create_user(session, name, password, list(roles), display_name, locale)
            click.echo(f"added {user.username} ({', '.join(sorted(user.role_names))})")
    except accounts.AccountError as err:
        click.echo(f"error: {err}", err=True)
        sys.exit(2)


@users.command("list")
def users_list() -> None:
    """List users with their roles."""
    with _db().session() as session:
        for user in accounts.list_users(session):
            state = "" if user.active else "  (inactive)"
            click.echo(f"{user.username:<20} {', '.join(sorted(user.role_names)):<40} {user.display_name or ''}{state}")


@click.command("demo-users")
def demo_users() -> None:
    """Create (or reset) one demo user per role and print their names and passwords."""
    with _db().session() as session:
        created = accounts.ensure_demo_users(session)
    click.echo("Demo users (user / password / roles):")
    for demo in created:
        click.echo(f"  {demo.username:<10} {demo.password:<16} {', '.join(demo.roles)}")


@click.command()
@click.option("--host", default=lambda: os.environ.get("CASEFLOW_HOST", "127.0.0.1"), show_default="127.0.0.1")
@click.option("--port", default=lambda: int(os.environ.get("CASEFLOW_PORT", "5000")), type=int, show_default="5000")
@click.option("--workers", default=lambda: int(os.environ.get("CASEFLOW_WEB_WORKERS", "2")), type=int,
              show_default="2", help="gunicorn worker processes.")
@click.option("--threads", default=lambda: int(os.environ.get("CASEFLOW_WEB_THREADS", "4")), type=int,
              show_default="4", help="Threads per worker.")
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Run the web UI and API with gunicorn, and the timer worker in the background."""
    from web.serving import serve as run

    shown = "localhost" if host in ("0.0.0.0", "::") else host  # the address actually bound
    click.echo(f"Caseflow is running at http://{shown}:{port}/  (Ctrl-C stops)")
    run(host, port, workers, threads)
