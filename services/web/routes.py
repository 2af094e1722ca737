"""The URL map of the web site (ops routes come from shared.web.init_ops)."""

from __future__ import annotations

from aiohttp import web

from services.web import package_page, static, views


def setup_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", views.home, name="home")
    r.add_get("/search", views.search_form, name="search_form")
    r.add_get("/search/{query}", views.search, name="search")
    r.add_get("/packages/{name}", package_page.package, name="package")
    r.add_get("/packages/{name}/{chart}.csv", views.package_csv, name="package_csv")
    r.add_get("/top", views.top, name="top")
    r.add_get("/trending", views.trending, name="trending")
    r.add_get("/compare", views.compare, name="compare")
    r.add_get("/ecosystem", views.ecosystem, name="ecosystem")
    r.add_get("/suggest", views.suggest, name="suggest")
    r.add_get("/about", views.static_page("about.html", "About"), name="about")
    r.add_get("/faqs", views.static_page("faqs.html", "FAQs"), name="faqs")
    r.add_get("/api", views.api_docs, name="api")
    r.add_get("/user", views.user, name="user")
    r.add_get("/static/{version:[0-9a-f]{16}}/{name}", static.serve, name="static")
    r.add_get("/static/{name}", static.serve, name="static_unversioned")
    r.add_get("/favicon.ico", static.favicon, name="favicon")
