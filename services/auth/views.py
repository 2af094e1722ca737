"""HTTP handlers of the auth service: login, callback, logout, the user and their packages.

Owns what each endpoint checks and in which order: the session (401), the CSRF token of anything
that changes state (403), then the input (400 bad name, 404 unknown package, 409 past the limit).
Every refusal happens before anything is written, so a refused request changes nothing. Forms
(from the web service's pages) get a 303 back to their ``next`` (with ``error=<code>`` when the
input was refused: the page says why); JSON callers get JSON. A refused session or CSRF token is
a 401/403 for both.
"""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from prometheus_client import Counter

from services.auth import users
from services.auth.config import AuthSettings
from services.auth.github import OAuthProvider, OAuthRefused, OAuthUnavailable
from services.auth.sessions import (
    STATE_COOKIE,
    StateStore,
    clear_session_cookie,
    clear_state_cookie,
    csrf_from,
    current_session,
    safe_next,
    set_session_cookie,
    set_state_cookie,
)
from shared.logging import get_logger
from shared.packages import InvalidPackageName, validate
from shared.rollups import package_exists
from shared.sessions import Session, SessionStore
from shared.web import PG_POOL, json_error

SETTINGS = web.AppKey("auth_settings", AuthSettings)
PROVIDER: web.AppKey[OAuthProvider] = web.AppKey("oauth_provider")
SESSIONS = web.AppKey("session_store", SessionStore)
STATES = web.AppKey("state_store", StateStore)
LOGINS = web.AppKey("logins_total", Counter)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
#: Input errors a form gets back as a redirect (:func:`_form_refused`), by the JSON status.
FORM_ERRORS = {400: "invalid", 404: "unknown"}
NO_STORE = {"Cache-Control": "no-store"}
MAX_CODE_LENGTH = 512

log = get_logger(__name__)


def redirect(location: str, status: int = 303) -> web.Response:
    return web.Response(status=status, headers={"Location": location, "Cache-Control": "no-store"})


# -- login -----------------------------------------------------------------------------------


async def login(request: web.Request) -> web.Response:
    """Start the OAuth dance: a one-shot state in Redis (and a cookie), then off to GitHub."""
    settings = request.app[SETTINGS]
    next_path = safe_next(request.query.get("next"))
    state = await request.app[STATES].create(next_path)
    response = redirect(request.app[PROVIDER].authorize_url(state, settings.callback_url), 302)
    set_state_cookie(response, state, settings.oauth_state_ttl_seconds, settings.cookie_secure)
    return response


def _login_failed(
    request: web.Request, result: str, status: int, message: str, parameter: str
) -> web.Response:
    request.app[LOGINS].labels(result).inc()
    log.info("login refused", result=result)
    response = json_error(status, message, parameter)
    clear_state_cookie(response)
    return response


async def callback(request: web.Request) -> web.Response:
    """GitHub sent the browser back: check the state once, exchange the code, start a session."""
    settings, query = request.app[SETTINGS], request.query
    state, cookie_state = query.get("state", ""), request.cookies.get(STATE_COOKIE, "")
    if not state or not cookie_state or not secrets.compare_digest(state.encode(), cookie_state.encode()):
        return _login_failed(
            request, "bad_state", 400, "missing or wrong OAuth state: start the login again", "state"
        )
    next_path = await request.app[STATES].consume(state)
    if next_path is None:
        return _login_failed(
            request, "bad_state", 400, "OAuth state expired or already used: start the login again", "state"
        )
    if "error" in query:
        return _login_failed(request, "denied", 400, "GitHub did not authorize the login", "error")
    code = query.get("code", "")
    if not code or len(code) > MAX_CODE_LENGTH:
        return _login_failed(request, "bad_code", 400, "missing or malformed OAuth code", "code")
    try:
        user = await request.app[PROVIDER].fetch_user(code, settings.callback_url)
    except OAuthRefused as exc:
        log.info("github refused the code", reason=str(exc))
        return _login_failed(request, "refused", 400, "GitHub refused the login code: start again", "code")
    except OAuthUnavailable as exc:
        log.warning("github unavailable", reason=str(exc))
        return _login_failed(
            request, "github_unavailable", 502, "GitHub is unavailable: try again later", "code"
        )
    user_id = await users.upsert_user(request.app[PG_POOL], user)
    store = request.app[SESSIONS]
    previous = await current_session(request, store)
    if previous is not None:
        await store.delete(previous.id)
    session = await store.create(user_id, user.login, user.name, user.avatar_url)
    response = redirect(next_path)
    set_session_cookie(response, store, session, settings.cookie_secure)
    clear_state_cookie(response)
    request.app[LOGINS].labels("success").inc()
    log.info("login", user_id=user_id, github_login=user.login)
    return response


async def logout(request: web.Request) -> web.Response:
    """End the session (CSRF checked), then back to the form's ``next`` (the page the visitor was
    on; only our own paths, see :func:`safe_next`), else ``/``. Without a valid session there is
    nothing to end."""
    store, secure = request.app[SESSIONS], request.app[SETTINGS].cookie_secure
    form = await _form(request)
    session = await current_session(request, store)
    if session is not None:
        if not session.csrf_matches(csrf_from(request, form)):
            return _csrf_error()
        await store.delete(session.id)
        log.info("logout", user_id=session.user_id)
    response = redirect(safe_next(form.get("next")) if form else "/")
    clear_session_cookie(response, secure)
    return response


# -- the user and their packages ---------------------------------------------------------------


async def me(request: web.Request) -> web.Response:
    session = await _session(request)
    if isinstance(session, web.Response):
        return session
    packages = await users.packages_of(request.app[PG_POOL], session.user_id)
    if packages is None:
        return await _stale_session(request, session)
    body = {
        "avatar_url": session.avatar_url,
        "csrf_token": session.csrf_token,
        "login": session.login,
        "name": session.name,
        "packages": packages,
    }
    return web.json_response(body, headers=NO_STORE)


async def list_packages(request: web.Request) -> web.Response:
    session = await _session(request)
    if isinstance(session, web.Response):
        return session
    return web.json_response(
        await users.list_packages(request.app[PG_POOL], session.user_id), headers=NO_STORE
    )


async def add_package(request: web.Request) -> web.Response:
    """Track a package: JSON ``{"package": ...}`` + X-CSRF-Token, or a form (package, csrf_token, next)."""
    form = await _form(request)
    session = await _session(request)
    if isinstance(session, web.Response):
        return session
    if not session.csrf_matches(csrf_from(request, form)):
        return _csrf_error()
    if form is not None:
        raw: Any = form.get("package")
    else:
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return json_error(400, 'the body must be a JSON object {"package": "<name>"}', "package")
        raw = body.get("package")
    if not isinstance(raw, str):
        return json_error(400, "package is required", "package")
    package = await _known_package(request, raw)
    if isinstance(package, web.Response):
        if form is not None and package.status in FORM_ERRORS:
            return _form_refused(form, FORM_ERRORS[package.status], raw)
        return package
    pool, limit = request.app[PG_POOL], request.app[SETTINGS].max_tracked_packages
    result = await users.add_package(pool, session.user_id, package, limit)
    if result is users.AddResult.NO_USER:
        return await _stale_session(request, session)
    if result is users.AddResult.LIMIT_REACHED:
        if form is not None:
            return _form_refused(form, "limit", package)
        return json_error(
            409,
            f"you already track {limit} packages, the maximum: remove one before adding another",
            "package",
        )
    if result is users.AddResult.ADDED:
        log.info("package tracked", user_id=session.user_id, package=package)
    if form is not None:
        return redirect(safe_next(form.get("next")))
    status = 201 if result is users.AddResult.ADDED else 200
    packages = await users.list_packages(pool, session.user_id)
    return web.json_response({"package": package, "packages": packages}, status=status, headers=NO_STORE)


async def remove_package(request: web.Request) -> web.Response:
    """Stop tracking a package: ``DELETE`` + X-CSRF-Token, or the form fallback ``POST .../delete``."""
    form = await _form(request)
    session = await _session(request)
    if isinstance(session, web.Response):
        return session
    if not session.csrf_matches(csrf_from(request, form)):
        return _csrf_error()
    try:
        package = validate(request.match_info["package"])
    except InvalidPackageName as exc:
        return json_error(400, str(exc), "package")
    pool = request.app[PG_POOL]
    removed = await users.remove_package(pool, session.user_id, package)
    if removed:
        log.info("package untracked", user_id=session.user_id, package=package)
    if form is not None or request.method == "POST":
        return redirect(safe_next(form.get("next") if form else None))
    packages = await users.list_packages(pool, session.user_id)
    return web.json_response({"package": package, "packages": packages, "removed": removed}, headers=NO_STORE)


# -- helpers -----------------------------------------------------------------------------------


async def _form(request: web.Request) -> dict[str, str] | None:
    """The form fields of a form POST (string fields only); None for any other body."""
    if request.content_type not in FORM_TYPES:
        return None
    return {k: v for k, v in (await request.post()).items() if isinstance(v, str)}


async def _session(request: web.Request) -> Session | web.Response:
    session = await current_session(request, request.app[SESSIONS])
    if session is None:
        return json_error(401, "not logged in", **NO_STORE)
    return session


async def _stale_session(request: web.Request, session: Session) -> web.Response:
    """The session's user no longer exists: end the session."""
    await request.app[SESSIONS].delete(session.id)
    response = json_error(401, "not logged in", **NO_STORE)
    clear_session_cookie(response, request.app[SETTINGS].cookie_secure)
    return response


def _form_refused(form: dict[str, str], code: str, package: str) -> web.Response:
    """A form the visitor can correct (unknown or invalid name, limit reached): back to its
    ``next`` with ``error=<code>&package=<name>``, for the page to say why. Nothing was written."""
    target = safe_next(form.get("next"))
    query = urlencode({"error": code, "package": package.strip()[:200]})
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}")


def _csrf_error() -> web.Response:
    return json_error(403, "missing or wrong CSRF token", "csrf_token")


async def _known_package(request: web.Request, raw: str) -> str | web.Response:
    try:
        package = validate(raw.strip())
    except InvalidPackageName as exc:
        return json_error(400, str(exc), "package")
    if not await package_exists(request.app[PG_POOL], package):
        return json_error(404, f"unknown package: {package}", "package")
    return package
