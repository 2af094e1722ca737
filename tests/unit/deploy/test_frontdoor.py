"""The one routing table of the front doors (shared.frontdoor): how it matches, that the files
generated from it are current, and that every public route of api, web and auth is reachable
through it while their ops routes are not."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp import web

from services.api.routes import setup_routes as api_routes
from services.auth.routes import setup_routes as auth_routes
from services.web.routes import setup_routes as web_routes
from shared import frontdoor
from shared.frontdoor import ROUTES, Route, route_for
from shared.web import OPS_PATHS
from tests.support.frontdoor import CASES

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(("path", "service"), list(CASES.items()))
def test_each_path_goes_to_its_service_or_nowhere(path: str, service: str | None) -> None:
    assert route_for(path) == service


def test_the_longest_path_wins_and_exact_beats_prefix() -> None:
    routes = (Route("/a", "one"), Route("/a/b", "two"), Route("/a", "three", exact=True))
    assert [route_for(p, routes) for p in ("/a", "/a/", "/a/b", "/a/b/c", "/a/bc", "/ab")] == [
        "three", "one", "two", "two", "one", None,
    ]  # fmt: skip


@pytest.mark.parametrize("relative", sorted(frontdoor.generated_files(), key=str))
def test_generated_files_are_current(relative: Path) -> None:
    expected = frontdoor.generated_files()[relative]
    assert (ROOT / relative).read_text() == expected, "run: python -m shared.frontdoor write"


def _paths(setup: object) -> list[str]:
    app = web.Application()
    setup(app)  # type: ignore[operator]
    paths = []
    for resource in app.router.resources():
        canonical = resource.canonical
        paths.append(re.sub(r"\{[^}]*\}", "x", canonical))
    return paths


@pytest.mark.parametrize(
    ("service", "setup"), [("api", api_routes), ("web", web_routes), ("auth", auth_routes)]
)
def test_every_public_route_of_a_service_reaches_it(service: str, setup: object) -> None:
    paths = _paths(setup)
    assert paths
    assert {p: route_for(p) for p in paths} == dict.fromkeys(paths, service)


def test_ops_routes_are_never_public() -> None:
    assert {p: route_for(p) for p in OPS_PATHS} == dict.fromkeys(OPS_PATHS)
    assert not any(r.matches(p) for r in ROUTES for p in OPS_PATHS)


def test_caddy_matchers_follow_the_table() -> None:
    text = frontdoor.caddyfile()
    matchers = re.findall(r"@(\w+) path (.+)", text)
    assert [m for m, _ in matchers].index("web_exact_api") < [m for m, _ in matchers].index("api_prefix_api")
    assert dict(matchers)["api_prefix_api"] == "/api /api/*"  # whole segments, never /api*
    assert dict(matchers)["web_exact_api"] == "/api"
    assert text.rstrip().endswith('handle {\n\t\trespond "Not Found" 404\n\t}\n}')


def test_compose_upstreams_are_the_services_ports() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    for service, upstream in frontdoor.COMPOSE_UPSTREAMS.items():
        host, port = upstream.split(":")
        assert host == service and compose["services"][service]["environment"]["PORT"] == port
