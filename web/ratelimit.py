"""Rate limits of authentication (Flask-Limiter): sign-in failures per account and per client
address, and API token failures per address.

Only *failures* are counted (``deduct_when``), but the check runs before the credentials are
looked at: once an account or an address is over its limit, every attempt is refused with 429,
the right password too, until the oldest counted failure leaves the window (moving window).

Counters live in ``RATELIMIT_STORAGE_URI`` (``CASEFLOW_RATELIMIT_STORAGE_URI``, default
``memory://``: per process, enough for the single-process server; several processes or hosts
need a shared store such as ``redis://``). The limiter is one object per process, as Flask
extensions are; :func:`init_app` gives each app a fresh storage (tests get clean counters), and
``RATELIMIT_ENABLED=False`` in the app's config turns it off.
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RequestLimit
from limits import parse_many

log = logging.getLogger("caseflow.auth")

P = ParamSpec("P")
R = TypeVar("R")

#: Flask config keys of the limits (rate strings such as ``10 per 15 minutes``), from the settings.
LOGIN_PER_ACCOUNT = "CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT"
LOGIN_PER_ADDRESS = "CASEFLOW_LOGIN_LIMIT_PER_ADDRESS"
API_TOKEN_PER_ADDRESS = "CASEFLOW_API_TOKEN_LIMIT_PER_ADDRESS"
_LIMIT_KEYS = (LOGIN_PER_ACCOUNT, LOGIN_PER_ADDRESS, API_TOKEN_PER_ADDRESS)

#: A failed sign-in answers 401 (see web/views/auth.py); only those count.
SIGN_IN_FAILED = 401


def client_address() -> str:
    """The client's address (the proxy's view of it when ``CASEFLOW_PROXY_FIX`` is set)."""
    return request.remote_addr or "unknown"


#: The one counter of an account's wrong passwords: at sign-in and when re-authenticating (a token's creation).
ACCOUNT_SCOPE = "account-passwords"


def _account_key() -> str:
    """The account a sign-in names (normalised and hashed: any text, bounded key size)."""
    return _reauth_key(request.form.get("username", ""))


def _address_key() -> str:
    return "address:" + client_address()


def _configured(key: str) -> Callable[[], str]:
    return lambda: str(current_app.config[key])


def _sign_in_failed(response: Response) -> bool:
    return response.status_code == SIGN_IN_FAILED


def _token_rejected(_response: Response) -> bool:
    return bool(g.get("api_token_rejected"))


def _log_breach(what: str) -> Callable[[RequestLimit], None]:
    """The server's log line of a refused attempt (a WARNING of ``caseflow.auth``)."""
    def on_breach(limit: RequestLimit) -> None:
        account = request.form.get("username", "").strip()[:100] if request.endpoint == "auth.login" else None
        log.warning("%s: more than %s failures; %s %s from %s%s refused", what, limit.limit, request.method,
                    request.path, client_address(), f" for account {account!r}" if account is not None else "")
    return on_breach


limiter = Limiter(key_func=client_address, strategy="moving-window")


def sign_in_limits(view: Callable[P, R]) -> Callable[P, R]:
    """Limit failed sign-ins of a POST to ``view``: per account named and per client address."""
    per_account = limiter.shared_limit(_configured(LOGIN_PER_ACCOUNT), scope=ACCOUNT_SCOPE, key_func=_account_key,
                                       methods=["POST"], deduct_when=_sign_in_failed,
                                       on_breach=_log_breach("account locked"),
                                       error_message="too many failed sign-ins for this account")
    per_address = limiter.limit(_configured(LOGIN_PER_ADDRESS), key_func=_address_key, methods=["POST"],
                                deduct_when=_sign_in_failed, on_breach=_log_breach("address locked for sign-in"),
                                error_message="too many failed sign-ins from this address")
    return per_account(per_address(view))


def api_token_limit(view: Callable[P, R]) -> Callable[P, R]:
    """Limit rejected API tokens per client address, over all API operations together.

    The view's authentication marks a presented but rejected token with ``g.api_token_rejected``.
    """
    shared = limiter.shared_limit(_configured(API_TOKEN_PER_ADDRESS), scope="api-token", key_func=_address_key,
                                  deduct_when=_token_rejected, on_breach=_log_breach("address locked for API tokens"),
                                  error_message="too many rejected API tokens from this address; try again later")
    return shared(view)


def _reauth_key(username: str) -> str:
    return "account:" + hashlib.sha256(username.strip().casefold().encode("utf-8")).hexdigest()[:32]


def _account_counter(username: str) -> list[str]:
    """The identifiers of the sign-in page's per-account counter for ``username`` (as Flask-Limiter
    keys a shared limit: the app's key prefix, the key, the scope)."""
    prefix = str(current_app.config.get("RATELIMIT_KEY_PREFIX") or "")
    return [*([prefix] if prefix else []), _reauth_key(username), ACCOUNT_SCOPE]


def reauthentication_allowed(username: str) -> bool:
    """Whether ``username`` may try its password again (the account's sign-in counter, shared with the
    sign-in page: failures at either lock both)."""
    if not limiter.enabled:
        return True
    item = parse_many(str(current_app.config[LOGIN_PER_ACCOUNT]))[0]
    return bool(limiter.limiter.test(item, *_account_counter(username)))


def reauthentication_failed(username: str) -> None:
    """Count a wrong password given to re-authenticate (e.g. to create an API token)."""
    if limiter.enabled:
        item = parse_many(str(current_app.config[LOGIN_PER_ACCOUNT]))[0]
        limiter.limiter.hit(item, *_account_counter(username))
        log.warning("wrong password to re-authenticate %r from %s", username[:100], client_address())


def retry_after() -> int:
    """Seconds until the limit this request broke lets attempts in again (at least 1)."""
    current = limiter.current_limit
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def init_app(app: Flask) -> None:
    """Configure the limiter for ``app`` from its settings (Flask config set before wins)."""
    settings = app.config["CASEFLOW_SETTINGS"]
    app.config.setdefault("RATELIMIT_ENABLED", settings.ratelimit_enabled)
    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.ratelimit_storage_uri)
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "caseflow")
    app.config.setdefault(LOGIN_PER_ACCOUNT, settings.login_limit_per_account)
    app.config.setdefault(LOGIN_PER_ADDRESS, settings.login_limit_per_address)
    app.config.setdefault(API_TOKEN_PER_ADDRESS, settings.api_token_limit_per_address)
    for key in _LIMIT_KEYS:
        try:
            parse_many(str(app.config[key]))
        except ValueError as err:
            raise ValueError(f"{key}: {app.config[key]!r} is not a rate limit such as '10 per 15 minutes'") from err
    # Always set (Flask-Limiter falls back on the object's last state), so the one limiter never
    # keeps another app's choice; each enabled app gets a new storage, i.e. fresh counters.
    app.config["RATELIMIT_ENABLED"] = bool(app.config["RATELIMIT_ENABLED"])
    limiter.init_app(app)
