"""Configuration from environment variables, with defaults for the embedded set-up."""
from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The largest id a database integer column holds (ids beyond it are "not found").
MAX_DB_ID = 2**31 - 1  # INTEGER columns (PostgreSQL int4)

_N = TypeVar("_N", int, float)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def timezone_name() -> str:
    """The business time zone's name (``CASEFLOW_TIMEZONE``) alone: read on hot paths, where the whole
    of :func:`load` (paths resolved, every number parsed) would cost ~80 µs a call."""
    return os.environ.get("CASEFLOW_TIMEZONE", DEFAULT_TIMEZONE)


class ConfigError(ValueError):
    """A ``CASEFLOW_*`` variable holds a value Caseflow cannot use; the message names it."""


def _number(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], _N],
            minimum: _N) -> _N:
    """``env[name]`` (or ``default``) read as ``kind``, at least ``minimum``; else :class:`ConfigError`."""
    raw = env.get(name, default)
    try:
        value = kind(raw.strip())
    except ValueError:
        noun = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{name}={raw!r} is not {noun}") from None
    if not value >= minimum:  # also refuses nan
        raise ConfigError(f"{name}={raw!r} must be at least {minimum}")
    return value


def _bounded(env: Mapping[str, str], name: str, default: str, kind: Callable[[str], _N], minimum: _N,
             maximum: _N) -> _N:
    """:func:`_number`, also at most ``maximum``."""
    value = _number(env, name, default, kind, minimum)
    if value > maximum:
        raise ConfigError(f"{name}={env.get(name, default)!r} must be at most {maximum}")
    return value


_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """``env[name]`` read as on/off (1/0, true/false, yes/no, on/off; any case); else :class:`ConfigError`."""
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    word = raw.strip().lower()
    if word in _YES or word in _NO:
        return word in _YES
    raise ConfigError(f"{name}={raw!r} is not on or off (1/0, true/false, yes/no, on/off)")


def _rate_limit(env: Mapping[str, str], name: str, default: str) -> str:
    """A Flask-Limiter rate string such as ``10 per 15 minutes`` (several joined by ``;``)."""
    from limits import parse_many  # Flask-Limiter's own parser

    raw = env.get(name, default)
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a rate limit such as '10 per 15 minutes'") from None
    return raw


@functools.lru_cache(maxsize=8)
def _storage_problem(uri: str) -> str | None:
    """Why the ``limits`` package cannot open the counter storage ``uri`` here (None: it can).

    Checked once per URI and process: :func:`load` runs on every read of the settings, and building a
    storage starts a thread (the memory one, which needs no client library, is not built at all)."""
    from limits.errors import ConfigurationError
    from limits.storage import storage_from_string

    if uri.strip() == "memory://":
        return None
    try:
        storage_from_string(uri)  # connects lazily: this checks the scheme and its client library
    except (ConfigurationError, ValueError) as err:
        return str(err)
    return None


def _limit_storage(env: Mapping[str, str], name: str, default: str) -> str:
    """Where the rate-limit counters live: a storage URI the ``limits`` package can open here."""
    raw = env.get(name, default)
    problem = _storage_problem(raw)
    if problem is not None:
        raise ConfigError(f"{name}={raw!r} is not a rate-limit storage Caseflow can use: {problem}")
    return raw


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"CASEFLOW_TIMEZONE={name!r} is not a time zone (e.g. Asia/Shanghai)") from None
    return name


@dataclass(frozen=True)
class Settings:
    """Runtime settings; read once per process with :func:`load`."""

    instance_dir: Path
    database_url: str
    secret_key: str | None
    timezone: str
    timer_interval_s: float
    attachment_dir: Path
    max_attachment_bytes: int
    #: Budget of each script or expression run of a diagram: wall time (s) and the largest value it builds.
    script_timeout_s: float
    script_max_bytes: int
    #: Sign-in and API token rate limits (Flask-Limiter rate strings) and where their counters live.
    ratelimit_enabled: bool
    ratelimit_storage_uri: str
    login_limit_per_account: str
    login_limit_per_address: str
    api_token_limit_per_address: str
    #: Reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host/-Port are trusted (0: none).
    proxy_fix: int
    #: Outgoing e-mail (notifications); no host: e-mail delivery is off (the outbox still fills).
    smtp: SmtpSettings | None = None
    #: The address people reach the UI at (links in e-mails), e.g. https://caseflow.example.com
    public_url: str = ""
    #: Staff hear that a task is due soon this many hours before its deadline (caseflow.notify.deadlines).
    due_soon_hours: float = 24.0
    #: Customer portal: hours a task link stays valid; staff roles that may act on a customer's behalf.
    portal_link_hours: int = 14 * 24
    portal_staff_roles: tuple[str, ...] = ("customer_service", "service_center")
    #: Minutes in which the author of a comment may still edit or delete it.
    comment_edit_minutes: int = 15
    #: Process owners deploy their drafts themselves (off: only an admin deploys a draft, four eyes).
    owners_may_deploy: bool = False
    #: Session cookies only over HTTPS (behind a TLS-terminating proxy).
    secure_cookies: bool = False


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP server of notification e-mails (``CASEFLOW_SMTP_*``)."""

    host: str
    port: int
    user: str | None
    password: str | None
    starttls: bool
    sender: str  # the From address
    timeout_s: float = 30.0


def pool_options(url: str) -> dict[str, int]:
    """Connection pool sizing for a server database (not SQLite): ``CASEFLOW_DB_POOL_SIZE``
    (connections kept open, default 10) and ``CASEFLOW_DB_MAX_OVERFLOW`` (extra ones opened under
    load and closed after, default 5), per process; see docs/deployment.md for the sizing rule."""
    if url.startswith("sqlite"):
        return {}
    return {"pool_size": _number(os.environ, "CASEFLOW_DB_POOL_SIZE", "10", int, 1),
            "max_overflow": _number(os.environ, "CASEFLOW_DB_MAX_OVERFLOW", "5", int, 0),
            "pool_recycle": 1800}


def smtp_settings(env: dict[str, str] | None = None) -> SmtpSettings | None:
    """SMTP settings from ``CASEFLOW_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_STARTTLS``, ``_FROM``."""
    env = dict(os.environ) if env is None else env
    host = env.get("CASEFLOW_SMTP_HOST", "").strip()
    if not host:
        return None
    starttls = flag(env, "CASEFLOW_SMTP_STARTTLS", True)
    return SmtpSettings(
        host=host,
        port=_bounded(env, "CASEFLOW_SMTP_PORT", "587" if starttls else "25", int, 1, 65535),
        user=env.get("CASEFLOW_SMTP_USER") or None,
        password=env.get("CASEFLOW_SMTP_PASSWORD") or None,
        starttls=starttls,
        sender=env.get("CASEFLOW_SMTP_FROM") or f"caseflow@{host}",
    )


def load() -> Settings:
    """Settings from ``CASEFLOW_*`` environment variables (:class:`ConfigError` names a bad one)."""
    env = os.environ
    instance = Path(env.get("CASEFLOW_INSTANCE_DIR", PROJECT_ROOT / "instance")).resolve()
    default_db = f"sqlite:///{instance / 'caseflow.sqlite3'}"
    return Settings(
        instance_dir=instance,
        database_url=env.get("CASEFLOW_DATABASE_URL", default_db),
        secret_key=env.get("CASEFLOW_SECRET_KEY"),
        timezone=_time_zone(timezone_name()),
        timer_interval_s=_number(env, "CASEFLOW_TIMER_INTERVAL", "5", float, 0.01),
        attachment_dir=Path(env.get("CASEFLOW_ATTACHMENT_DIR", instance / "attachments")).resolve(),
        max_attachment_bytes=_number(env, "CASEFLOW_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024), int, 1),
        script_timeout_s=_number(env, "CASEFLOW_SCRIPT_TIMEOUT_S", "1.0", float, 0.01),
        script_max_bytes=_number(env, "CASEFLOW_SCRIPT_MAX_BYTES", "50000000", int, 1),
        ratelimit_enabled=flag(env, "CASEFLOW_RATELIMIT_ENABLED", True),
        ratelimit_storage_uri=_limit_storage(env, "CASEFLOW_RATELIMIT_STORAGE_URI", "memory://"),
        login_limit_per_account=_rate_limit(env, "CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
        login_limit_per_address=_rate_limit(env, "CASEFLOW_LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        api_token_limit_per_address=_rate_limit(env, "CASEFLOW_API_TOKEN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        proxy_fix=_number(env, "CASEFLOW_PROXY_FIX", "0", int, 0),
        smtp=smtp_settings(),
        public_url=env.get("CASEFLOW_PUBLIC_URL", "").rstrip("/"),
        due_soon_hours=_number(env, "CASEFLOW_DUE_SOON_HOURS", "24", float, 0.0),
        portal_link_hours=_number(env, "CASEFLOW_PORTAL_LINK_HOURS", str(14 * 24), int, 1),
        portal_staff_roles=tuple(r.strip() for r in env.get(
            "CASEFLOW_PORTAL_STAFF_ROLES", "customer_service,service_center").split(",") if r.strip()),
        comment_edit_minutes=_number(env, "CASEFLOW_COMMENT_EDIT_MINUTES", "15", int, 0),
        owners_may_deploy=flag(env, "CASEFLOW_OWNERS_MAY_DEPLOY", False),
        secure_cookies=flag(env, "CASEFLOW_SECURE_COOKIES", False),
    )
