"""Pure parts of the auth service: where a login may return to, GitHub's user answer, settings,
the session cookie's attributes and the fake GitHub's code bookkeeping (no sockets)."""

from __future__ import annotations

from http.cookies import SimpleCookie
from unittest.mock import MagicMock

import pytest
from aiohttp import web

from services.auth.config import FAKE_CLIENT_ID, AuthSettings
from services.auth.fake_github import FakeGitHub, FakeUser, user_for_login
from services.auth.github import GitHubUser, OAuthRefused, parse_user
from services.auth.sessions import clear_session_cookie, safe_next, set_session_cookie
from shared.sessions import COOKIE_NAME, Session, SessionStore


@pytest.mark.parametrize(
    "value",
    ["/", "/packages/requests", "/packages/requests?lookback=30&x=https://a", "/user#top", "/search/a%2Fb"],
)
def test_safe_next_keeps_our_paths(value: str) -> None:
    assert safe_next(value) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "https://elsewhere.example/",
        "http:/elsewhere",
        "//elsewhere.example",
        "///elsewhere.example",
        "/\\elsewhere.example",
        "\\/elsewhere.example",
        "/x\\y",
        "javascript:alert(1)",
        "elsewhere.example",
        "/\telsewhere",
        "/ elsewhere",
        "/\r\nSet-Cookie: x=1",
        "/\x00",
        "/" + "a" * 3000,
    ],
)
def test_safe_next_refuses_everything_else(value: str | None) -> None:
    assert safe_next(value) == "/"


def test_parse_user_accepts_github_answer() -> None:
    body = {"id": 1, "login": "octocat", "name": None, "avatar_url": "https://a/x.png", "extra": [1]}
    assert parse_user(body) == GitHubUser(1, "octocat", None, "https://a/x.png")
    assert parse_user({"id": 2, "login": "x", "name": "n" * 5000}).name is None


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"login": "x"},
        {"id": "1", "login": "x"},
        {"id": True, "login": "x"},
        {"id": 0, "login": "x"},
        {"id": 1},
        {"id": 1, "login": ""},
        {"id": 1, "login": 5},
    ],
)
def test_parse_user_refuses_nonsense(body: object) -> None:
    with pytest.raises(OAuthRefused):
        parse_user(body)


def test_settings_pick_the_fake_when_no_client_id() -> None:
    settings = AuthSettings(
        github_client_id="", fake_github_url="http://127.0.0.1:9999/", public_url="https://x.example/"
    )
    client_id, _, authorize, token, api = settings.oauth_endpoints()
    assert settings.uses_fake_github and client_id == FAKE_CLIENT_ID
    assert authorize == "http://127.0.0.1:9999/login/oauth/authorize" and api == "http://127.0.0.1:9999"
    assert token.endswith("/login/oauth/access_token")
    assert settings.callback_url == "https://x.example/auth/callback"
    real = AuthSettings(github_client_id="abc", github_client_secret="s3")  # type: ignore[arg-type]
    assert real.oauth_endpoints()[:3] == ("abc", "s3", "https://github.com/login/oauth/authorize")
    assert "s3" not in repr(real)
    assert real.max_tracked_packages == 20 and real.port == 8082


def test_production_problems_name_the_fake_github_and_plain_http() -> None:
    servers = {
        "database_url": "postgresql://db.internal/pypistats",
        "redis_url": "redis://redis.internal/0",
        "nats_url": "nats://nats.internal:4222",
        "session_secret": "k3y-" + "".join(chr(65 + i) for i in range(26)) + "0123456789",
    }
    bad = AuthSettings(env="production", public_url="http://x.example", **servers)  # type: ignore[arg-type]
    problems = " ".join(bad.production_problems())
    assert "fake GitHub" in problems and "PUBLIC_URL" in problems
    ok = AuthSettings(
        env="production",
        public_url="https://pypistats.example.org",
        github_client_id="a",
        github_client_secret="b",  # type: ignore[arg-type]
        **servers,  # type: ignore[arg-type]
    )
    assert ok.production_problems() == [] and ok.cookie_secure and not ok.uses_fake_github


def _session() -> tuple[SessionStore, Session]:
    store = SessionStore(MagicMock(), "p:", "secret", ttl_seconds=3600)
    return store, Session("abc", 1, "octocat", None, None, "csrf", 0.0)


@pytest.mark.parametrize("secure", [True, False])
def test_session_cookie_attributes(secure: bool) -> None:
    store, session = _session()
    response = web.Response()
    set_session_cookie(response, store, session, secure)
    morsel = SimpleCookie(response.cookies.output(header=""))[COOKIE_NAME]
    assert morsel.value == store.cookie_value(session)
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert morsel["max-age"] == "3600"
    assert bool(morsel["secure"]) is secure
    cleared = web.Response()
    clear_session_cookie(cleared, secure)
    gone = SimpleCookie(cleared.cookies.output(header=""))[COOKIE_NAME]
    assert gone.value == "" and gone["max-age"] == "0"


def test_fake_codes_are_single_use_and_bound_to_client_and_redirect() -> None:
    fake = FakeGitHub()
    user = FakeUser(1, "octocat")
    code = fake.issue_code(user, "client", "http://cb")
    assert fake.redeem(code, "client", "http://cb") == user
    assert fake.redeem(code, "client", "http://cb") == "bad_verification_code"
    code = fake.issue_code(user, "client", "http://cb")
    assert fake.redeem(code, "client", "http://evil") == "redirect_uri_mismatch"
    assert fake.redeem(code, "client", "http://cb") == "bad_verification_code"  # spent by the failure
    code = fake.issue_code(user, "client", "http://cb")
    assert fake.redeem(code, "other", "http://cb") == "bad_verification_code"
    assert user_for_login("hubot") == user_for_login("hubot") != user_for_login("octocat")
