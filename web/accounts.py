"""Staff accounts: the role catalogue (PRODUCT.md §1), argon2 password hashing, user records."""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import store

# role key -> (English, Chinese); lanes of uploaded diagrams may add further roles.
ROLES: dict[str, tuple[str, str]] = {
    "customer_service": ("Customer service", "客服 / 业务部"),
    "quality": ("Quality", "品保部"),
    "logistics": ("Logistics", "储运部"),
    "marketing": ("Marketing", "市场部"),
    "manager": ("Manager", "主管领导"),
    "general_manager": ("General manager", "总经理"),
    "service_center": ("Service centre", "售后服务中心"),
    "finance": ("Finance", "财务部"),
    "admin": ("Administrator", "系统管理员"),
}

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the user does not exist, so both paths take the same time."""
    return _hasher.hash("caseflow-no-such-user")


class AccountError(ValueError):
    """A user record cannot be created or changed as asked."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    if len(password) < 4:
        raise AccountError("the password needs at least 4 characters")
    return _hasher.hash(password)


def session_tag(user: store.User) -> str:
    """A short fingerprint of the password hash: changing the password ends other sign-ins."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def password_matches(user: store.User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def find_user(session: Session, username: str) -> store.User | None:
    return session.scalars(select(store.User).where(store.User.username == username)).first()


def authenticate(session: Session, username: str, password: str) -> store.User | None:
    """The active user with these credentials (re-hashing an outdated hash), else None."""
    user = find_user(session, username.strip())
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def _check_username(username: str) -> str:
    name = username.strip()
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise AccountError("a user name is 1-100 characters without spaces")
    return name


def _check_roles(roles: list[str]) -> list[str]:
    cleaned = sorted({r.strip() for r in roles if r.strip()})
    if not cleaned:
        raise AccountError("a user needs at least one role")
    return cleaned


def create_user(session: Session, username: str, password: str, roles: list[str],
                display_name: str | None = None, locale: str | None = None) -> store.User:
    """Add a user; raises AccountError when the name is taken or the input is not valid."""
    name = _check_username(username)
    if find_user(session, name) is not None:
        raise AccountError(f"user {name!r} already exists")
    user = store.User(username=name, password_hash=hash_password(password),
                      display_name=(display_name or "").strip() or None, locale=locale, active=True)
    user.roles = [store.UserRole(role=r) for r in _check_roles(roles)]
    session.add(user)
    session.flush()
    return user


def set_roles(user: store.User, roles: list[str]) -> None:
    """Replace the roles of ``user``."""
    wanted = _check_roles(roles)
    user.roles = [r for r in user.roles if r.role in wanted]
    have = {r.role for r in user.roles}
    user.roles.extend(store.UserRole(role=r) for r in wanted if r not in have)


def set_password(user: store.User, password: str) -> None:
    user.password_hash = hash_password(password)


def list_users(session: Session) -> list[store.User]:
    return list(session.scalars(select(store.User).order_by(store.User.username)))


def known_roles(session: Session) -> list[str]:
    """The catalogue's roles plus any role held by a user or a task (e.g. from a new lane)."""
    found = set(session.scalars(select(store.UserRole.role).distinct()))
    found |= {r for r in session.scalars(select(store.HumanTask.role).distinct()) if r}
    return list(ROLES) + sorted(found - set(ROLES))


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    roles: tuple[str, ...]
    display_name: str


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("service", "service-demo", ("customer_service",), "王客服"),
    DemoUser("quality", "quality-demo", ("quality",), "李品保"),
    DemoUser("logistics", "logistics-demo", ("logistics",), "赵储运"),
    DemoUser("marketing", "marketing-demo", ("marketing",), "钱市场"),
    DemoUser("manager", "manager-demo", ("manager",), "孙主管"),
    DemoUser("gm", "gm-demo", ("general_manager",), "周总经理"),
    DemoUser("repair", "repair-demo", ("service_center",), "吴售后"),
    DemoUser("finance", "finance-demo", ("finance",), "郑财务"),
    DemoUser("admin", "admin-demo", ("admin",), "系统管理员"),
)


def ensure_demo_users(session: Session) -> list[DemoUser]:
    """Create or reset the demo users (one per role of PRODUCT.md §1); idempotent."""
    for demo in DEMO_USERS:
        user = find_user(session, demo.username)
        if user is None:
            create_user(session, demo.username, demo.password, list(demo.roles), demo.display_name)
            continue
        if not password_matches(user, demo.password):
            set_password(user, demo.password)
        set_roles(user, list(demo.roles))
        user.active = True
    return list(DEMO_USERS)
