"""Configuration from environment variables, with defaults for the embedded set-up."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

#: The largest id a database integer column holds (ids beyond it are "not found").
MAX_DB_ID = 2**31 - 1  # INTEGER columns (PostgreSQL int4)


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
    return {"pool_size": int(os.environ.get("CASEFLOW_DB_POOL_SIZE", "10")),
            "max_overflow": int(os.environ.get("CASEFLOW_DB_MAX_OVERFLOW", "5")),
            "pool_recycle": 1800}


def smtp_settings(env: dict[str, str] | None = None) -> SmtpSettings | None:
    """SMTP settings from ``CASEFLOW_SMTP_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD``, ``_STARTTLS``, ``_FROM``."""
    env = dict(os.environ) if env is None else env
    host = env.get("CASEFLOW_SMTP_HOST", "").strip()
    if not host:
        return None
    starttls = env.get("CASEFLOW_SMTP_STARTTLS", "1") != "0"
    return SmtpSettings(
        host=host,
        port=int(env.get("CASEFLOW_SMTP_PORT", "587" if starttls else "25")),
        user=env.get("CASEFLOW_SMTP_USER") or None,
        password=env.get("CASEFLOW_SMTP_PASSWORD") or None,
        starttls=starttls,
        sender=env.get("CASEFLOW_SMTP_FROM") or f"caseflow@{host}",
    )


def load() -> Settings:
    """Settings from ``CASEFLOW_*`` environment variables."""
    instance = Path(os.environ.get("CASEFLOW_INSTANCE_DIR", PROJECT_ROOT / "instance")).resolve()
    default_db = f"sqlite:///{instance / 'caseflow.sqlite3'}"
    return Settings(
        instance_dir=instance,
        database_url=os.environ.get("CASEFLOW_DATABASE_URL", default_db),
        secret_key=os.environ.get("CASEFLOW_SECRET_KEY"),
        timezone=os.environ.get("CASEFLOW_TIMEZONE", "Asia/Shanghai"),
        timer_interval_s=float(os.environ.get("CASEFLOW_TIMER_INTERVAL", "5")),
        attachment_dir=Path(os.environ.get("CASEFLOW_ATTACHMENT_DIR", instance / "attachments")).resolve(),
        max_attachment_bytes=int(os.environ.get("CASEFLOW_MAX_ATTACHMENT_BYTES", str(10 * 1024 * 1024))),
        script_timeout_s=float(os.environ.get("CASEFLOW_SCRIPT_TIMEOUT_S", "1.0")),
        script_max_bytes=int(os.environ.get("CASEFLOW_SCRIPT_MAX_BYTES", "50000000")),
        ratelimit_enabled=os.environ.get("CASEFLOW_RATELIMIT_ENABLED", "1") != "0",
        ratelimit_storage_uri=os.environ.get("CASEFLOW_RATELIMIT_STORAGE_URI", "memory://"),
        login_limit_per_account=os.environ.get("CASEFLOW_LOGIN_LIMIT_PER_ACCOUNT", "10 per 15 minutes"),
        login_limit_per_address=os.environ.get("CASEFLOW_LOGIN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        api_token_limit_per_address=os.environ.get("CASEFLOW_API_TOKEN_LIMIT_PER_ADDRESS", "30 per 15 minutes"),
        proxy_fix=int(os.environ.get("CASEFLOW_PROXY_FIX", "0")),
        smtp=smtp_settings(),
        public_url=os.environ.get("CASEFLOW_PUBLIC_URL", "").rstrip("/"),
        due_soon_hours=float(os.environ.get("CASEFLOW_DUE_SOON_HOURS", "24")),
        portal_link_hours=int(os.environ.get("CASEFLOW_PORTAL_LINK_HOURS", str(14 * 24))),
        portal_staff_roles=tuple(r.strip() for r in os.environ.get(
            "CASEFLOW_PORTAL_STAFF_ROLES", "customer_service,service_center").split(",") if r.strip()),
        comment_edit_minutes=int(os.environ.get("CASEFLOW_COMMENT_EDIT_MINUTES", "15")),
        owners_may_deploy=os.environ.get("CASEFLOW_OWNERS_MAY_DEPLOY", "0").lower() in ("1", "true", "yes"),
    )
