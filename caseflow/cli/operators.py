"""Service-task operators: ``caseflow operators`` (what a diagram may call) and
``caseflow operators run`` (a dry run on sample data; no database)."""
from __future__ import annotations

import datetime as dt
import json

import click

import engine
from caseflow import clock
from caseflow.cli.common import emit, exit_code, fail, json_arg


@click.group(invoke_without_command=True)
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

    emit(as_json, {"operators": described}, human)


def _isoformat(value: object) -> str:
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


@operators.command("run")
@click.argument("name")
@click.option("--data", help="Input data as JSON (or @file.json).")
@click.option("--params", "params", help="Parameters as JSON (or @file.json).")
@click.option("--json", "as_json", is_flag=True, help="Accepted for symmetry: the result is always JSON.")
def operators_run(name: str, data: str | None, params: str | None, as_json: bool) -> None:
    """Run operator NAME on sample data and print its result as JSON (numbers are not allocated)."""
    from service_tasks import registry

    try:
        op = registry.get(name)
    except KeyError:
        fail(f"no operator named {name!r} (see `caseflow operators`)", exit_code(engine.NotFound))
    counters: dict[tuple[str, int], int] = {}

    def sample_number(seq: str, year: int) -> int:  # a dry run allocates nothing real
        counters[(seq, year)] = counters.get((seq, year), 0) + 1
        return counters[(seq, year)]

    try:
        result = op.run(json_arg(data, "--data"), json_arg(params, "--params"),
                        {"now": clock.now(), "timezone": clock.business_zone().key, "next_number": sample_number})
    except registry.OperatorError as err:
        fail(str(err), exit_code(engine.InvalidData))
    except (TypeError, ValueError) as err:
        fail(f"{name}: {err}", exit_code(engine.InvalidData))
    click.echo(json.dumps(result, ensure_ascii=False, indent=2, default=_isoformat))


COMMANDS = (operators,)
