"""The API's route table.

Owns which URL reaches which handler. Every route here is described in shared/openapi.py and a
test checks both lists agree. Ops routes (/health, /ready, /metrics) come from shared.web.init_ops.
"""

from __future__ import annotations

from aiohttp import web

from services.api import badge_views, discovery_views, exports, views

PACKAGE = "/api/packages/{package}"
#: Routes counted against the badge rate limit (services.api.middleware), not the JSON API's.
BADGE_ROUTES = frozenset({"badge_svg", "shields_json"})


def setup_routes(app: web.Application) -> None:
    app.router.add_get(f"{PACKAGE}/recent", views.recent, name="recent")
    app.router.add_get(f"{PACKAGE}/overall", views.overall, name="overall")
    app.router.add_get(f"{PACKAGE}/python_major", views.python_major, name="python_major")
    app.router.add_get(f"{PACKAGE}/python_minor", views.python_minor, name="python_minor")
    app.router.add_get(f"{PACKAGE}/system", views.system, name="system")
    app.router.add_get(f"{PACKAGE}/version", views.version, name="version")
    app.router.add_get(f"{PACKAGE}/installer", views.installer, name="installer")
    app.router.add_get(f"{PACKAGE}/country", views.country, name="country")
    app.router.add_get(f"{PACKAGE}/file_type", views.file_type, name="file_type")
    app.router.add_get(f"{PACKAGE}/ci", views.ci, name="ci")
    app.router.add_get(f"{PACKAGE}/platform", views.platform, name="platform")
    app.router.add_get(f"{PACKAGE}/abi", views.abi, name="abi")
    app.router.add_get(f"{PACKAGE}/totals", views.package_totals, name="totals")
    app.router.add_get(f"{PACKAGE}/badge.svg", badge_views.badge_svg, name="badge_svg")
    app.router.add_get(f"{PACKAGE}/shields.json", badge_views.shields_json, name="shields_json")
    app.router.add_get("/api/top", views.top, name="top")
    app.router.add_get("/api/trending", discovery_views.trending, name="trending")
    app.router.add_get("/api/status", views.status, name="status")
    app.router.add_get(exports.PREFIX, exports.index, name="exports")
    app.router.add_get(f"{exports.PREFIX}/{{file}}", exports.export_file, name="export_file")
    app.router.add_get("/api/openapi.json", views.openapi, name="openapi")
    app.router.add_get("/api/asyncapi.json", views.asyncapi, name="asyncapi")
