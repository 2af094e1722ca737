"""Tracked packages: add, list, remove (JSON and form), and the hostile cases (CSRF, names, limit)."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

from tests.integration.auth.conftest import Stack


async def tracked(stack: Stack) -> list[str]:
    return [r["package"] for r in await stack.db.fetch("SELECT package FROM user_packages ORDER BY package")]


async def add(stack: Stack, package: object, csrf: str | None) -> tuple[int, dict[str, object]]:
    headers = {"X-CSRF-Token": csrf} if csrf is not None else {}
    response = await stack.client.post("/auth/me/packages", json={"package": package}, headers=headers)
    return response.status, await response.json()


async def test_add_list_remove_with_json(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    status, body = await add(stack, "Requests", csrf)
    assert status == 201 and body == {"package": "requests", "packages": ["requests"]}
    status, body = await add(stack, "requests", csrf)  # idempotent
    assert status == 200 and body["packages"] == ["requests"]
    status, _ = await add(stack, "Django", csrf)
    assert status == 201
    listing = await stack.client.get("/auth/me/packages")
    assert await listing.json() == ["django", "requests"]
    assert (await (await stack.client.get("/auth/me")).json())["packages"] == ["django", "requests"]

    removed = await stack.client.delete("/auth/me/packages/Django", headers={"X-CSRF-Token": csrf})
    assert removed.status == 200
    assert await removed.json() == {"package": "django", "packages": ["requests"], "removed": True}
    again = await stack.client.delete("/auth/me/packages/django", headers={"X-CSRF-Token": csrf})
    assert (await again.json())["removed"] is False
    assert await tracked(stack) == ["requests"]


async def test_add_and_remove_with_forms(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    response = await stack.client.post(
        "/auth/me/packages",
        data={"package": "flask", "csrf_token": csrf, "next": "/packages/flask"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/packages/flask"
    assert await tracked(stack) == ["flask"]
    response = await stack.client.post(
        "/auth/me/packages/flask/delete",
        data={"csrf_token": csrf, "next": "https://elsewhere.example/"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/"
    assert await tracked(stack) == []


async def test_packages_are_per_user(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    await add(stack, "flask", await stack.csrf())
    await stack.login(user="hubot")
    assert await (await stack.client.get("/auth/me/packages")).json() == []
    assert await tracked(stack) == ["flask"]


async def test_without_or_with_a_wrong_csrf_token_nothing_changes(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    await add(stack, "flask", csrf)
    other_session_token = "A" * len(csrf)
    for token in (None, "", "wrong", other_session_token, csrf + "x"):
        status, body = await add(stack, "django", token)
        assert status == 403 and body["error"]["parameter"] == "csrf_token"
        headers = {"X-CSRF-Token": token} if token is not None else {}
        assert (await stack.client.delete("/auth/me/packages/flask", headers=headers)).status == 403
        form = {"package": "django"} | ({"csrf_token": token} if token is not None else {})
        response = await stack.client.post("/auth/me/packages", data=form, allow_redirects=False)
        assert response.status == 403
        response = await stack.client.post(
            "/auth/me/packages/flask/delete", data={"csrf_token": token or ""}, allow_redirects=False
        )
        assert response.status == 403
    assert await tracked(stack) == ["flask"]


async def test_logged_out_writes_are_401(stack: Stack, packages: list[str]) -> None:
    status, _ = await add(stack, "flask", "anything")
    assert status == 401
    assert (await stack.client.delete("/auth/me/packages/flask", headers={"X-CSRF-Token": "x"})).status == 401
    assert await tracked(stack) == []


async def test_the_21st_package_is_refused(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    for name in packages[:20]:
        assert (await add(stack, name, csrf))[0] == 201
    status, body = await add(stack, packages[20], csrf)
    assert status == 409
    assert "20" in str(body["error"]["message"])  # type: ignore[index]
    assert len(await tracked(stack)) == 20 and packages[20] not in await tracked(stack)
    assert (await add(stack, packages[0], csrf))[0] == 200  # re-adding a tracked one is still fine
    await stack.client.delete(f"/auth/me/packages/{packages[0]}", headers={"X-CSRF-Token": csrf})
    assert (await add(stack, packages[20], csrf))[0] == 201


async def test_concurrent_adds_never_pass_the_limit(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    for name in packages[:18]:
        await add(stack, name, csrf)
    results = await asyncio.gather(*(add(stack, name, csrf) for name in packages[18:25]))
    assert sorted(status for status, _ in results) == [201, 201, 409, 409, 409, 409, 409]
    assert len(await tracked(stack)) == 20


async def test_unknown_package_is_404(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    status, body = await add(stack, "no-such-package", await stack.csrf())
    assert status == 404 and body["error"]["parameter"] == "package"
    assert await tracked(stack) == []


@pytest.mark.parametrize(
    "name",
    [
        "'; DROP TABLE users; --",
        "<script>alert(1)</script>",
        "../../etc/passwd",
        "x" * 10_000,
        "",
        "-leading-dash",
        "caf\u00e9",
        "a\x00b",
        42,
        None,
        ["requests"],
    ],
)
async def test_hostile_names_are_400(stack: Stack, packages: list[str], name: object) -> None:
    await stack.login()
    status, body = await add(stack, name, await stack.csrf())
    assert status == 400, body
    assert body["error"]["parameter"] == "package"  # type: ignore[index]
    assert await tracked(stack) == []
    assert await stack.db.fetchval("SELECT count(*) FROM users") == 1


async def test_hostile_delete_names_and_bodies(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    await add(stack, "flask", csrf)
    for path in ("%3Cscript%3E", "a%00b", "x" * 5000, "%27%3B%20DROP%20TABLE%20users"):
        response = await stack.client.delete(f"/auth/me/packages/{path}", headers={"X-CSRF-Token": csrf})
        assert response.status == 400, path
    for raw in (b"not json", b"[1, 2]", b"\xff\xfe", b""):
        response = await stack.client.post(
            "/auth/me/packages", data=raw, headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"}
        )
        assert response.status == 400
    big = await stack.client.post(
        "/auth/me/packages",
        data=b"x" * 200_000,
        headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"},
    )
    assert big.status == 413
    assert await tracked(stack) == ["flask"]


async def test_forms_with_a_refused_name_go_back_with_the_reason(stack: Stack, packages: list[str]) -> None:
    await stack.login()
    csrf = await stack.csrf()
    for name, code in (("no-such-package", "unknown"), ("<b>", "invalid")):
        response = await stack.client.post(
            "/auth/me/packages",
            data={"package": name, "csrf_token": csrf, "next": "/user"},
            allow_redirects=False,
        )
        assert response.status == 303
        assert response.headers["Location"] == "/user?" + urlencode({"error": code, "package": name})
    for name in packages[:20]:
        assert (await add(stack, name, csrf))[0] == 201
    response = await stack.client.post(
        "/auth/me/packages",
        data={"package": packages[20], "csrf_token": csrf, "next": "/user?x=1"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.headers["Location"] == f"/user?x=1&error=limit&package={packages[20]}"
    assert len(await tracked(stack)) == 20 and packages[20] not in await tracked(stack)
    # a wrong token is still a 403, never a redirect
    response = await stack.client.post(
        "/auth/me/packages",
        data={"package": "no-such-package", "csrf_token": "wrong", "next": "/user"},
        allow_redirects=False,
    )
    assert response.status == 403
