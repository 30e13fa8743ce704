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

import click

from caseflow.cli import facts, instances, migrate, operators, processes, serve, users


@click.group()
@click.version_option("0.1.0", prog_name="caseflow")
def main() -> None:
    """Caseflow: complaint and repair workflows on BPMN 2.0."""


for _module in (processes, instances, serve, operators, users, migrate, facts):
    for _command in _module.COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
