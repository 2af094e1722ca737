"""The auth service's URL map (handlers live in :mod:`services.auth.views`)."""

from __future__ import annotations

from aiohttp import web

from services.auth import views


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/auth/login", views.login)
    app.router.add_get("/auth/callback", views.callback)
    app.router.add_post("/auth/logout", views.logout)
    app.router.add_get("/auth/me", views.me)
    app.router.add_get("/auth/me/packages", views.list_packages)
    app.router.add_post("/auth/me/packages", views.add_package)
    app.router.add_delete("/auth/me/packages/{package}", views.remove_package)
    app.router.add_post("/auth/me/packages/{package}/delete", views.remove_package)
