"""Server-side sessions in Redis, written by the auth service and read by web.

Owns the session format and its key names. The browser holds only a random id in the cookie
``COOKIE_NAME``, signed with ``SESSION_SECRET`` so a forged value is refused before Redis is
asked; the session (user id, login, avatar and the CSRF token of forms that change
state) lives in Redis under ``<prefix>session:<id>`` and expires after ``ttl`` seconds. No OAuth
token is ever stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass

from redis.asyncio import Redis

COOKIE_NAME = "pypistats_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_ID_BYTES = 32


@dataclass(frozen=True)
class Session:
    id: str
    user_id: int
    login: str
    name: str | None
    avatar_url: str | None
    csrf_token: str
    created_at: float

    def csrf_matches(self, token: str | None) -> bool:
        return token is not None and hmac.compare_digest(token.encode(), self.csrf_token.encode())


class SessionStore:
    def __init__(self, redis: Redis, prefix: str, secret: str, ttl_seconds: int = 14 * 86400) -> None:
        if not secret:
            raise ValueError("a session secret is required")
        self.redis = redis
        self.prefix = prefix
        self.ttl = ttl_seconds
        self._secret = secret.encode()

    def _signature(self, session_id: str) -> str:
        digest = hmac.new(self._secret, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def cookie_value(self, session: Session) -> str:
        """What the browser keeps: ``<id>.<signature>``."""
        return f"{session.id}.{self._signature(session.id)}"

    def session_id(self, value: str | None) -> str | None:
        """The session id a cookie value carries when its signature is right (no I/O); else None."""
        if not value or "." not in value or len(value) > 256:
            return None
        session_id, signature = value.rsplit(".", 1)
        if not hmac.compare_digest(signature.encode(), self._signature(session_id).encode()):
            return None
        return session_id

    async def from_cookie(self, value: str | None) -> Session | None:
        """The session behind a cookie value; None when missing, forged, tampered or expired."""
        session_id = self.session_id(value)
        return await self.get(session_id) if session_id is not None else None

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    async def create(self, user_id: int, login: str, name: str | None, avatar_url: str | None) -> Session:
        """A fresh session with a new id and CSRF token (never reuses an old id)."""
        session = Session(
            id=secrets.token_urlsafe(_ID_BYTES),
            user_id=user_id,
            login=login,
            name=name,
            avatar_url=avatar_url,
            csrf_token=secrets.token_urlsafe(_ID_BYTES),
            created_at=time.time(),
        )
        await self.redis.set(self._key(session.id), json.dumps(asdict(session)), ex=self.ttl)
        return session

    async def get(self, session_id: str | None) -> Session | None:
        """The session for a cookie value, or None when absent, malformed, forged or expired."""
        if (
            not session_id
            or len(session_id) > 128
            or not session_id.replace("-", "").replace("_", "").isalnum()
        ):
            return None
        raw = await self.redis.get(self._key(session_id))
        if raw is None:
            return None
        try:
            return Session(**json.loads(raw))
        except (TypeError, ValueError):
            return None

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(self._key(session_id))
