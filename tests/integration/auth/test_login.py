"""The login flow through the fake GitHub with the real authlib client, logout, /auth/me, and the
hostile cases of the OAuth dance (state, code, next, cookies)."""

from __future__ import annotations

from http.cookies import SimpleCookie

import pytest

from services.auth.sessions import STATE_COOKIE
from shared.sessions import COOKIE_NAME
from tests.integration.auth.conftest import Stack, query_of
from tests.support.wait import wait_until


async def users(stack: Stack) -> list[tuple[int, str]]:
    return [(r["github_id"], r["login"]) for r in await stack.db.fetch("SELECT github_id, login FROM users")]


async def test_whole_login_flow_creates_user_session_and_cookie(stack: Stack) -> None:
    login = await stack.start_login("/packages/requests?lookback=30")
    assert STATE_COOKIE in login.cookies
    authorize = query_of(login.headers["Location"])
    assert authorize["client_id"] == "fake-github-client-id"
    assert authorize["redirect_uri"] == stack.settings.callback_url
    assert len(await stack.state_keys()) == 1

    callback_url = await stack.authorize(login)
    assert callback_url.startswith(stack.settings.callback_url + "?")
    assert query_of(callback_url)["state"] == authorize["state"]
    response = await stack.callback(callback_url)
    assert response.status == 303
    assert response.headers["Location"] == "/packages/requests?lookback=30"

    cookie: SimpleCookie = SimpleCookie()
    raw_cookies = response.headers.getall("Set-Cookie")
    session_header = next(h for h in raw_cookies if h.startswith(COOKIE_NAME + "="))
    cookie.load(session_header)
    morsel = cookie[COOKIE_NAME]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert int(morsel["max-age"]) == stack.settings.session_ttl_seconds
    assert not morsel["secure"]  # cookie_secure is off in this test

    assert await users(stack) == [(583231, "octocat")]
    assert len(await stack.session_keys()) == 1
    assert await stack.state_keys() == []  # the state is spent
    me = await stack.client.get("/auth/me")
    assert me.status == 200 and me.headers["Cache-Control"] == "no-store"
    body = await me.json()
    assert body["login"] == "octocat" and body["name"] == "The Octocat" and body["packages"] == []
    assert len(body["csrf_token"]) > 20

    # no OAuth token is kept anywhere: not in Redis, not in the database
    (token,) = stack.fake.tokens
    for key in await stack.session_keys():
        assert token.encode() not in (await stack.redis.get(key) or b"")
    row = await stack.db.fetchrow("SELECT * FROM users")
    assert token not in str(dict(row))

    metrics = await (await stack.client.get("/metrics")).text()
    assert 'pypistats_auth_logins_total{result="success"} 1.0' in metrics
    assert (
        'pypistats_auth_http_requests_total{method="GET",route="/auth/callback",status="303"} 1.0' in metrics
    )


async def test_second_login_updates_user_and_starts_a_fresh_session(stack: Stack) -> None:
    await stack.login()
    first_cookie = stack.session_cookie()
    await stack.db.execute("UPDATE users SET login = 'old-name', last_login_at = now() - interval '1 day'")
    await stack.login()
    second_cookie = stack.session_cookie()
    assert first_cookie and second_cookie and first_cookie != second_cookie
    assert len(await stack.session_keys()) == 1  # the old session was deleted
    row = await stack.db.fetchrow(
        "SELECT count(*) OVER () AS n, login, last_login_at > now() - interval '1 minute' AS fresh FROM users"
    )
    assert row["n"] == 1 and row["login"] == "octocat" and row["fresh"]

    await stack.login(user="hubot")
    assert sorted(login for _, login in await users(stack)) == ["hubot", "octocat"]
    assert (await (await stack.client.get("/auth/me")).json())["login"] == "hubot"


async def test_logout_needs_csrf_then_ends_the_session(stack: Stack) -> None:
    await stack.login()
    csrf = await stack.csrf()
    refused = await stack.client.post("/auth/logout", data={"csrf_token": "wrong"}, allow_redirects=False)
    assert refused.status == 403
    assert (await refused.json())["error"]["parameter"] == "csrf_token"
    no_token = await stack.client.post("/auth/logout", allow_redirects=False)
    assert no_token.status == 403
    assert len(await stack.session_keys()) == 1
    assert (await stack.client.get("/auth/me")).status == 200

    response = await stack.client.post("/auth/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/"
    assert await stack.session_keys() == []
    assert stack.session_cookie() in (None, "")
    me = await stack.client.get("/auth/me")
    assert me.status == 401
    assert (await me.json())["error"]["message"] == "not logged in"


async def test_logout_with_header_token(stack: Stack) -> None:
    await stack.login()
    csrf = await stack.csrf()
    response = await stack.client.post("/auth/logout", headers={"X-CSRF-Token": csrf}, allow_redirects=False)
    assert response.status == 303
    assert await stack.session_keys() == []


async def test_me_when_logged_out(stack: Stack) -> None:
    for path in ("/auth/me", "/auth/me/packages"):
        response = await stack.client.get(path)
        assert response.status == 401
        assert (await response.json())["error"]["status"] == 401


async def test_forged_and_expired_session_cookies_are_refused(stack: Stack) -> None:
    await stack.login()
    cookie = stack.session_cookie()
    assert cookie
    session_id = cookie.rsplit(".", 1)[0]
    stack.client.session.cookie_jar.clear()
    forged = [
        session_id + ".forged-signature",
        "x" * 43 + "." + cookie.rsplit(".", 1)[1],
        cookie + "x",
        "",
        "a.b.c",
        "<script>." * 40,
    ]
    for value in forged:
        response = await stack.client.session.get(
            stack.client.make_url("/auth/me"), headers={"Cookie": f"{COOKIE_NAME}={value}"}
        )
        assert response.status == 401, value

    bad = await stack.client.session.post(
        stack.client.make_url("/auth/me/packages"),
        json={"package": "requests"},
        headers={"Cookie": f"{COOKIE_NAME}={session_id}.forged", "X-CSRF-Token": "x"},
    )
    assert bad.status == 401
    assert await stack.db.fetchval("SELECT count(*) FROM user_packages") == 0

    # expiry: Redis drops the session, the signed cookie alone is worth nothing
    key = f"{stack.settings.namespace}:session:{session_id}"
    await stack.redis.pexpire(key, 1)
    await wait_until(lambda: _gone(stack, key), timeout=5, what="session expiry")
    response = await stack.client.session.get(
        stack.client.make_url("/auth/me"), headers={"Cookie": f"{COOKIE_NAME}={cookie}"}
    )
    assert response.status == 401


async def _gone(stack: Stack, key: str) -> bool:
    return not await stack.redis.exists(key)


async def assert_nothing_changed(stack: Stack) -> None:
    assert await users(stack) == []
    assert await stack.session_keys() == []
    assert stack.session_cookie() is None


async def test_callback_without_state_or_with_a_wrong_one(stack: Stack) -> None:
    login = await stack.start_login()
    callback_url = await stack.authorize(login)
    code = query_of(callback_url)["code"]
    cases = [
        f"/auth/callback?code={code}",
        f"/auth/callback?code={code}&state=",
        f"/auth/callback?code={code}&state=wrong-state",
        f"/auth/callback?code={code}&state={'A' * 5000}",
    ]
    for path in cases:
        response = await stack.client.get(path, allow_redirects=False)
        assert response.status == 400, path
        assert (await response.json())["error"]["parameter"] == "state"
    await assert_nothing_changed(stack)
    assert stack.fake.token_requests == 0  # refused before any code exchange
    metrics = await (await stack.client.get("/metrics")).text()
    assert 'pypistats_auth_logins_total{result="bad_state"} 4.0' in metrics


async def test_state_from_another_browser_is_refused(stack: Stack) -> None:
    """Login CSRF: an attacker's callback URL opened in a victim's browser (no state cookie)."""
    callback_url = await stack.authorize(await stack.start_login())
    stack.client.session.cookie_jar.clear()
    response = await stack.callback(callback_url)
    assert response.status == 400
    await assert_nothing_changed(stack)
    assert len(await stack.state_keys()) == 1  # the real owner can still finish


async def test_replayed_callback_fails(stack: Stack) -> None:
    login = await stack.start_login()
    state_cookie = login.cookies[STATE_COOKIE].value
    callback_url = await stack.authorize(login)
    assert (await stack.callback(callback_url)).status == 303
    await stack.client.post(
        "/auth/logout", headers={"X-CSRF-Token": await stack.csrf()}, allow_redirects=False
    )
    await stack.db.execute("UPDATE users SET login = 'unchanged'")

    replay = await stack.client.session.get(
        callback_url, allow_redirects=False, headers={"Cookie": f"{STATE_COOKIE}={state_cookie}"}
    )
    assert replay.status == 400
    assert "already used" in (await replay.json())["error"]["message"]
    assert await stack.session_keys() == []
    assert await users(stack) == [(583231, "unchanged")]


async def test_replayed_code_with_a_fresh_state_fails(stack: Stack) -> None:
    first = await stack.authorize(await stack.start_login())
    assert (await stack.callback(first)).status == 303
    stack.client.session.cookie_jar.clear()
    await stack.db.execute("TRUNCATE users CASCADE")
    await stack.redis.delete(*await stack.session_keys())

    login = await stack.start_login()
    state = query_of(login.headers["Location"])["state"]
    code = query_of(first)["code"]
    response = await stack.client.get(f"/auth/callback?code={code}&state={state}", allow_redirects=False)
    assert response.status == 400
    assert (await response.json())["error"]["parameter"] == "code"
    await assert_nothing_changed(stack)


async def test_denied_and_missing_code(stack: Stack) -> None:
    for query in ("error=access_denied", "", "code=" + "c" * 600):
        login = await stack.start_login()
        state = query_of(login.headers["Location"])["state"]
        response = await stack.client.get(f"/auth/callback?state={state}&{query}", allow_redirects=False)
        assert response.status == 400, query
    await assert_nothing_changed(stack)


@pytest.mark.parametrize(
    "next_path",
    [
        "https://elsewhere.example/x",
        "//elsewhere.example",
        "/\\elsewhere.example",
        "\\\\elsewhere.example",
        "/\telsewhere",
        "javascript:alert(1)",
        "elsewhere.example/path",
        "///elsewhere.example",
        "",
        None,
    ],
)
async def test_next_outside_the_site_falls_back_to_root(stack: Stack, next_path: str | None) -> None:
    response = await stack.login(next_path)
    assert response.headers["Location"] == "/"


async def test_github_refusing_our_credentials_changes_nothing(stack: Stack) -> None:
    login = await stack.start_login()
    callback_url = await stack.authorize(login)
    stack.fake.client_secret = "rotated"  # the fake now refuses our credentials
    refused = await stack.callback(callback_url)
    assert refused.status == 400
    await assert_nothing_changed(stack)


async def test_session_of_a_deleted_user_is_ended(stack: Stack) -> None:
    await stack.login()
    await stack.db.execute("DELETE FROM users")
    response = await stack.client.get("/auth/me")
    assert response.status == 401
    assert await stack.session_keys() == []


@pytest.mark.parametrize(
    ("next_path", "location"),
    [
        ("/packages/requests?lookback=30", "/packages/requests?lookback=30"),
        ("/user", "/user"),
        ("https://elsewhere.example/", "/"),
        ("//elsewhere.example/", "/"),
        (None, "/"),
    ],
)
async def test_logout_returns_to_the_page_it_was_sent_from(
    stack: Stack, next_path: str | None, location: str
) -> None:
    await stack.login()
    form = {"csrf_token": await stack.csrf()} | ({"next": next_path} if next_path is not None else {})
    response = await stack.client.post("/auth/logout", data=form, allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == location
    assert await stack.session_keys() == []
