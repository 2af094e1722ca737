"""A fake GitHub: the three OAuth2 endpoints the auth service uses, as a small aiohttp app.

Owns ``GET /login/oauth/authorize`` (auto-approves for the configured user, or for ``?login=<name>``
so a local stack can have several users; redirects back with ``code`` and ``state``),
``POST /login/oauth/access_token`` (checks the client id/secret, sent as HTTP Basic or as form
fields, the code - single use, short-lived - and that ``redirect_uri`` matches the authorize
request; answers JSON when asked with ``Accept: application/json``, form-encoded otherwise, and,
like GitHub, reports errors with a 200 and an ``error`` field) and ``GET /user`` (bearer token).
Used when no GitHub app is configured and in tests; state lives in memory.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

from aiohttp import web

from services.auth.config import FAKE_CLIENT_ID, FAKE_CLIENT_SECRET

CODE_TTL_SECONDS = 600


@dataclass(frozen=True)
class FakeUser:
    id: int
    login: str
    name: str | None = None
    avatar_url: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "login": self.login,
            "name": self.name,
            "avatar_url": self.avatar_url,
            "type": "User",
        }


def user_for_login(login: str) -> FakeUser:
    """A stable fake user for any login (its id derives from the login)."""
    user_id = int.from_bytes(hashlib.sha256(login.encode()).digest()[:4], "big") + 1_000_000
    return FakeUser(user_id, login, login.title(), f"https://avatars.example.invalid/{login}.png")


@dataclass
class _Grant:
    user: FakeUser
    client_id: str
    redirect_uri: str
    expires_at: float


@dataclass
class FakeGitHub:
    """The fake's state: its client credentials, the default user, live codes and tokens."""

    client_id: str = FAKE_CLIENT_ID
    client_secret: str = FAKE_CLIENT_SECRET
    user: FakeUser = field(default_factory=lambda: FakeUser(583231, "octocat", "The Octocat"))
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, FakeUser] = field(default_factory=dict)
    token_requests: int = 0

    def issue_code(self, user: FakeUser, client_id: str, redirect_uri: str) -> str:
        code = secrets.token_hex(10)
        self.codes[code] = _Grant(user, client_id, redirect_uri, time.monotonic() + CODE_TTL_SECONDS)
        return code

    def redeem(self, code: str, client_id: str, redirect_uri: str | None) -> FakeUser | str:
        """The user behind ``code``, or GitHub's error string; the code is spent either way."""
        grant = self.codes.pop(code, None)
        if grant is None or grant.expires_at < time.monotonic():
            return "bad_verification_code"
        if grant.client_id != client_id:
            return "bad_verification_code"
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            return "redirect_uri_mismatch"
        return grant.user


FAKE = web.AppKey("fake_github", FakeGitHub)


def create_fake_github(fake: FakeGitHub | None = None) -> web.Application:
    app = web.Application()
    app[FAKE] = fake or FakeGitHub()
    app.router.add_get("/login/oauth/authorize", authorize)
    app.router.add_post("/login/oauth/access_token", access_token)
    app.router.add_get("/user", user)
    return app


async def authorize(request: web.Request) -> web.StreamResponse:
    fake = request.app[FAKE]
    query = request.query
    client_id, redirect_uri, state = query.get("client_id"), query.get("redirect_uri", ""), query.get("state")
    if client_id != fake.client_id:
        return web.Response(status=404, text="unknown OAuth application (client_id)\n")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return web.Response(status=400, text="redirect_uri must be an absolute http(s) URL\n")
    login = query.get("login")
    chosen = (
        user_for_login(login) if login and login.isascii() and login.replace("-", "").isalnum() else fake.user
    )
    code = fake.issue_code(chosen, client_id, redirect_uri)
    params = {"code": code} | ({"state": state} if state is not None else {})
    separator = "&" if parts.query else "?"
    raise web.HTTPFound(redirect_uri + separator + urlencode(params))


def _client_credentials(request: web.Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None, None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id"), form.get("client_secret")


async def access_token(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    fake.token_requests += 1
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    client_id, secret = _client_credentials(request, form)
    if (
        client_id != fake.client_id
        or secret is None
        or not secrets.compare_digest(secret, fake.client_secret)
    ):
        return _token_answer(request, {"error": "incorrect_client_credentials"})
    result = fake.redeem(form.get("code", ""), client_id, form.get("redirect_uri"))
    if isinstance(result, str):
        return _token_answer(request, {"error": result})
    token = "gho_" + secrets.token_hex(18)
    fake.tokens[token] = result
    return _token_answer(request, {"access_token": token, "token_type": "bearer", "scope": ""})


def _token_answer(request: web.Request, body: dict[str, str]) -> web.Response:
    if "application/json" in request.headers.get("Accept", ""):
        return web.json_response(body)
    return web.Response(text=urlencode(body), content_type="application/x-www-form-urlencoded")


async def user(request: web.Request) -> web.Response:
    fake = request.app[FAKE]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    found = fake.tokens.get(token) if scheme.lower() in ("bearer", "token") else None
    if found is None:
        return web.json_response({"message": "Requires authentication", "status": "401"}, status=401)
    return web.json_response(found.as_json())
