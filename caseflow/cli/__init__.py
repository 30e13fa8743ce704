"""The ``caseflow`` command: the operator's tool on the server, thin over the engine and
:mod:`caseflow.accounts` (it never imports the web package).

Every command that reports takes ``--json`` for machine-readable output; errors print one
``error: ...`` line (a field or problem per line for invalid data and refused deployments)
and exit non-zero with the code of :mod:`caseflow.cli.common`. ``--user`` names the actor
recorded in the audit log: the CLI acts as an operator tool (``engine.Actor.tool``), which
is not role-checked.

Commands by module: :mod:`~caseflow.cli.instances` (start, tasks, complete, show, retry,
cancel), :mod:`~caseflow.cli.processes` (deploy, processes, versions, pin, unpin, diff),
:mod:`~caseflow.cli.migrate`, :mod:`~caseflow.cli.users` (users, demo-users, tokens),
:mod:`~caseflow.cli.operators`, :mod:`~caseflow.cli.serve` (serve, worker), :mod:`~caseflow.cli.facts`
(facts rebuild).
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from caseflow.cli import facts, instances, migrate, operators, processes, serve, users
from caseflow.cli.common import LOG_LINES, fail

log = logging.getLogger("caseflow.cli")

#: Set to 1 to let an unexpected failure end the command with its Python traceback.
DEBUG_VARIABLE = "CASEFLOW_DEBUG"


class CaseflowGroup(click.Group):
    """The command group; an unexpected failure of a command ends it with one ``error:`` line
    and exit code 1 (its traceback with ``CASEFLOW_DEBUG=1``), never a bare traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        logger = logging.getLogger("caseflow")
        LOG_LINES.shown = LOG_LINES.tracebacks = os.environ.get(DEBUG_VARIABLE) == "1"
        logger.addHandler(LOG_LINES)  # never Python's last-resort traceback dump
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:  # the reader went away (`caseflow versions KEY | head -2`): stop quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so the flush at exit finds no pipe either
            sys.exit(141)  # 128 + SIGPIPE, as the shell reports a command a pipe stopped
        except Exception as err:
            if os.environ.get(DEBUG_VARIABLE) == "1":
                raise
            log.debug("unexpected failure of %s", ctx.invoked_subcommand, exc_info=True)
            fail(f"unexpected failure ({type(err).__name__}: {err}); "
                 f"run again with {DEBUG_VARIABLE}=1 to see where it happened")
        finally:
            logger.removeHandler(LOG_LINES)


@click.group(cls=CaseflowGroup)
@click.version_option("0.1.0", prog_name="caseflow")
def main() -> None:
    """Caseflow: complaint and repair workflows on BPMN 2.0."""


for _module in (processes, instances, serve, operators, users, migrate, facts):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
