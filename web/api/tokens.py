"""Compatibility alias of the API-token part of :mod:`caseflow.accounts` (where tokens now
live; ``authenticate`` here is ``accounts.authenticate_token``).

Kept only while ``tests/api/conftest.py`` still imports ``create_token`` from here; remove it then.
"""
from __future__ import annotations

from caseflow.accounts import (  # noqa: F401
    TOKEN_PREFIX,
    ApiCaller,
    TokenError,
    create_token,
    get_token,
    hash_token,
    list_tokens,
    revoke_token,
    token_dict,
)
from caseflow.accounts import authenticate_token as authenticate  # noqa: F401
