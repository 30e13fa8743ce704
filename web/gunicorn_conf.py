"""gunicorn settings of ``caseflow serve`` (``--config python:web.gunicorn_conf``).

The command line adds the address, the worker and thread counts and the app
(``web.serving:worker_app()``); see caseflow/cli/serve.py. gunicorn reads the names below
that are its settings (names it does not know, e.g. of a newer release, are skipped; so
every other module-level name here starts with ``_``, never a setting's name such as ``config``).
"""
from __future__ import annotations

from pathlib import Path as _Path

from caseflow import config as _config

worker_class = "gthread"
accesslog = "-"
errorlog = "-"
loglevel = "info"
timeout = 60
graceful_timeout = 10
preload_app = False  # every worker builds its own app and database handle (web/serving.py)
control_socket = str(_Path(_config.load().instance_dir) / "gunicorn.ctl")
