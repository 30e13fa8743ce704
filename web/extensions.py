"""Flask extensions of the web UI: CSRF protection, Flask-Babel (zh, en), Flask-Login with
server-side sign-out (the user's session generation), cookies marked ``Secure`` on HTTPS, and
the authentication rate limits (web/ratelimit.py)."""
from __future__ import annotations

import hmac

from flask import Flask, has_request_context, request, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from flask_babel import Babel, lazy_gettext
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect

from caseflow import accounts, store

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "en"

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()


class StaffUser(UserMixin):
    """The signed-in user as the request sees it (a detached copy of the ``User`` row)."""

    def __init__(self, user: store.User):
        self.id = user.id
        self.username = user.username
        self.display_name = user.display_name or user.username
        self.locale = user.locale
        self.roles: frozenset[str] = frozenset(user.role_names)
        self._tag = accounts.session_tag(user)

    def get_id(self) -> str:
        return f"{self.id}:{self._tag}"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


def select_locale() -> str:
    """The user's saved language, else the one chosen before sign-in, else the browser's."""
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    if session.get("locale") in LANGUAGES:
        return session["locale"]
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


@login_manager.user_loader
def _load_user(user_id: str) -> StaffUser | None:
    from web import get_db

    ident, _, tag = user_id.partition(":")
    if not ident.isdigit():
        return None
    user = get_db().get(store.User, int(ident))
    if user is None or not user.active or not hmac.compare_digest(accounts.session_tag(user).encode(), tag.encode()):
        return None
    return StaffUser(user)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, its cookie ``Secure`` whenever the request came over HTTPS
    (``SESSION_COOKIE_SECURE`` forces it always). Behind a proxy that ends TLS, the scheme is
    the proxy's ``X-Forwarded-Proto`` once ``CASEFLOW_PROXY_FIX`` trusts it.

    The REST API (``/api/``) authenticates by bearer token only: its requests get a null session,
    so a browser's session cookie never signs anyone in there, and no cookie is read or written."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/api/"):
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    """Attach the extensions; the bearer-token API blueprint is exempt from CSRF."""
    from web import ratelimit
    from web.api import bp as api_bp

    app.session_interface = SessionInterface()
    # No "remember me" cookie is ever issued (login_user without remember): the session cookie is the only one.
    ratelimit.init_app(app)
    csrf.init_app(app)
    csrf.exempt(api_bp)
    settings = app.config["CASEFLOW_SETTINGS"]
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", settings.timezone)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please sign in to continue.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
