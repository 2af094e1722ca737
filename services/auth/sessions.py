"""Session glue of the auth service: cookies, the OAuth state and where to go after login.

Owns the session cookie's attributes (HttpOnly, SameSite=Lax, Path=/, Secure when configured,
Max-Age = session TTL), the one-shot OAuth ``state`` (kept in Redis with a short TTL and bound to
the browser by a short-lived cookie, consumed atomically so a replayed callback fails), and
:func:`safe_next`, which only lets a login return to one of our own relative paths. The session
format itself is :mod:`shared.sessions`'s.
"""

from __future__ import annotations

import json
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from redis.asyncio import Redis

from shared.sessions import COOKIE_NAME, CSRF_FIELD, CSRF_HEADER, Session, SessionStore

STATE_COOKIE = "pypistats_oauth_state"
STATE_COOKIE_PATH = "/auth"
MAX_NEXT_LENGTH = 2000


def safe_next(value: str | None) -> str:
    """``value`` when it is a relative path on this site, else ``/``.

    Refuses absolute URLs (``https://x``), scheme-relative ones (``//x``), backslashes (``/\\x``,
    which browsers read as ``//x``), control characters and whitespace, and anything too long.
    """
    if not value or len(value) > MAX_NEXT_LENGTH or not value.startswith("/"):
        return "/"
    if value.startswith("//") or "\\" in value or not value.isprintable() or any(c.isspace() for c in value):
        return "/"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "/"
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or parts.path.startswith("//"):
        return "/"
    return value


class StateStore:
    """One-shot OAuth states in Redis: ``<prefix>auth:state:<state>`` -> where to go after login."""

    def __init__(self, redis: Redis, prefix: str, ttl_seconds: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds

    def _key(self, state: str) -> str:
        return f"{self.prefix}auth:state:{state}"

    async def create(self, next_path: str) -> str:
        state = secrets.token_urlsafe(32)
        await self.redis.set(self._key(state), json.dumps({"next": next_path}), ex=self.ttl)
        return state

    async def consume(self, state: str) -> str | None:
        """The ``next`` stored with ``state``, deleting it in the same step; None when unknown."""
        if not state or len(state) > 128 or not state.replace("-", "").replace("_", "").isalnum():
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(self._key(state))
            pipe.delete(self._key(state))
            raw, deleted = await pipe.execute()
        if raw is None or not deleted:
            return None
        try:
            stored = json.loads(raw)
        except ValueError:
            return None
        return safe_next(stored.get("next") if isinstance(stored, dict) else None)


def set_state_cookie(response: web.StreamResponse, state: str, ttl: int, secure: bool) -> None:
    response.set_cookie(
        STATE_COOKIE, state, max_age=ttl, path=STATE_COOKIE_PATH, httponly=True, samesite="Lax", secure=secure
    )


def clear_state_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(STATE_COOKIE, path=STATE_COOKIE_PATH)


def set_session_cookie(
    response: web.StreamResponse, store: SessionStore, session: Session, secure: bool
) -> None:
    response.set_cookie(
        COOKIE_NAME,
        store.cookie_value(session),
        max_age=store.ttl,
        path="/",
        httponly=True,
        samesite="Lax",
        secure=secure,
    )


def clear_session_cookie(response: web.StreamResponse, secure: bool) -> None:
    response.del_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="Lax")


async def current_session(request: web.Request, store: SessionStore) -> Session | None:
    return await store.from_cookie(request.cookies.get(COOKIE_NAME))


def csrf_from(request: web.Request, form: dict[str, str] | None) -> str | None:
    """The CSRF token a request carries: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header is not None:
        return header
    return form.get(CSRF_FIELD) if form is not None else None
