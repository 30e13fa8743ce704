"""How the long-running processes (``caseflow serve``, ``caseflow worker``) log: Caseflow's own
messages at INFO, the libraries' chatter only from WARNING up."""
from __future__ import annotations

import logging

#: Libraries that log routine steps at INFO: the workflow runtime every task state change (several lines
#: per action, each formatted and written), Alembic its set-up at each start.
QUIET = ("spiff", "alembic")


def configure(fmt: str = "%(asctime)s %(levelname)s %(name)s %(message)s") -> None:
    """INFO to stderr in ``fmt``, the :data:`QUIET` libraries at WARNING."""
    logging.basicConfig(level=logging.INFO, format=fmt)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
