"""``caseflow facts rebuild``: derive the case-facts rows of the KPI reports again.

The engine keeps each case's row in step with every save, and the ``0004_case_facts``
migration fills the table once; a rebuild is for a manifest whose ``facts`` section changed
meaning in a new release, or a database restored from before the table existed.
"""
from __future__ import annotations

from typing import Any

import click

import engine
from caseflow.cli.common import CliContext, emit, json_option, pass_ctx, run


@click.group()
def facts() -> None:
    """The case facts behind the KPI reports."""


@facts.command()
@click.option("--process", "process_key", help="Only the cases of this process key.")
@json_option
@pass_ctx
def rebuild(ctx: CliContext, process_key: str | None, as_json: bool) -> None:
    """Derive every case's facts again from its instance and task rows (one transaction)."""
    def rebuild_them(session: Any) -> int:
        if process_key is not None:
            engine.find_definition(session, process_key, 1)  # NotFound (exit 3): no such process is deployed
        return engine.rebuild_facts(session, process_key)

    written = run(ctx, rebuild_them)
    emit(as_json, {"rebuilt": written}, lambda p: click.echo(f"rebuilt the facts of {p['rebuilt']} case(s)"))


COMMANDS = (facts,)
