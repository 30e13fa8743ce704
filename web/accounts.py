"""Compatibility alias of :mod:`caseflow.accounts`, where users, roles, passwords and API
tokens now live (web code and the CLI import that module).

Kept only while ``web/labels.py`` still imports ``ROLES`` from here; remove it then.
"""
from __future__ import annotations

from caseflow.accounts import *  # noqa: F401,F403
from caseflow.accounts import __all__  # noqa: F401
