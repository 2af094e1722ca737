"""Builders of the page fragments: read PostgreSQL through shared.rollups, render a template.

Owns what each page shows. Every builder returns a JSON-serialisable payload
(``title``, ``html``, ``through`` and, for search, maybe ``redirect``) that the page cache can
store, because none of it depends on who is asking; the personal parts (login state, track
buttons, the ``/user`` dashboard) are rendered per request in ``views``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

import asyncpg
import jinja2
from markupsafe import Markup

from services.web import apidocs, charts
from shared import rollups, series
from shared.db.layout import Dictionary
from shared.packages import ALL_PACKAGES

Payload = dict[str, Any]
SEARCH_LIMIT = 20
TOP_LIMIT = 20
MAX_COMPARE = 10
SUGGEST_LIMIT = 10


class PageError(Exception):
    """An error page: status, a title, a message shown as text, and search suggestions."""

    def __init__(self, status: int, title: str, message: str, suggestions: list[str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.title = title
        self.message = message
        self.suggestions = suggestions or []


@dataclass(frozen=True)
class Site:
    pool: asyncpg.Pool
    env: jinja2.Environment
    retention_days: int
    #: Category names of the packed rows, learnt once per process (shared.db.layout).
    names: Dictionary = field(default_factory=Dictionary)

    def using(self, conn: rollups.Conn) -> Site:
        """The same site reading through ``conn`` (the connection the page cache picked)."""
        return replace(self, pool=conn)


def render(env: jinja2.Environment, template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


def script_json(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


async def through(site: Site) -> str | None:
    day = await rollups.last_complete_day(site.pool)
    return day.isoformat() if day else None


def payload(title: str, html: str, through_day: str | None, **extra: Any) -> Payload:
    return {"title": title, "html": html, "through": through_day, **extra}


async def home(site: Site) -> Payload:
    count = await rollups.count_packages(site.pool)
    top = await rollups.top(site.pool, "day", 10)
    html = render(site.env, "home.html", count=count, top=top)
    return payload("PyPI download statistics", html, await through(site))


async def search(site: Site, query: str) -> Payload:
    found = await rollups.search(site.pool, query, SEARCH_LIMIT) if query else []
    if len(found) == 1:
        return payload("Search", "", None, redirect=f"/packages/{found[0]}")
    html = render(site.env, "search.html", query=query, found=found)
    return payload(f"Search: {query}", html, await through(site))


async def _window(site: Site, lookback: int | None) -> tuple[dt.date, charts.Window]:
    last = await rollups.last_complete_day(site.pool)
    if last is None:
        raise PageError(404, "No data yet", "No day has been ingested yet; come back after the first run.")
    return last, charts.window(last, lookback, site.retention_days)


async def not_found(site: Site, package: str) -> PageError:
    suggestions = [p for p in await rollups.search(site.pool, package, 10) if p != package]
    return PageError(404, "Package not found", f"We have no downloads recorded for {package}.", suggestions)


async def package_data(
    site: Site, package: str, lookback: int | None, *, folded: bool = True
) -> tuple[dt.date, dict[str, Any]]:
    """The chart data of a known package; raises a 404 PageError with suggestions otherwise."""
    if not await rollups.package_exists(site.pool, package):
        raise await not_found(site, package)
    last, win = await _window(site, lookback)
    by_dimension = await series.series_window(site.pool, site.names, package, win.start, win.end)
    return last, charts.package_charts(by_dimension, win, folded=folded)


def range_links(path: str, query: dict[str, str], lookback: int | None) -> list[dict[str, Any]]:
    """The range buttons (links: the range lives in the URL): 30d..120d, ``lookback`` when it is
    another value, and "all"; the one matching ``lookback`` is current."""
    days = sorted(set(charts.RANGES) | ({lookback} if lookback else set()))
    links: list[dict[str, Any]] = []
    for value in [*days, None]:
        params = {**query, "lookback": str(value)} if value else dict(query)
        links.append(
            {
                "label": f"{value}d" if value else "all",
                "days": value,
                "href": path + ("?" + urlencode(params, safe=",") if params else ""),
                "current": value == lookback,
            }
        )
    return links


async def package(site: Site, package: str, lookback: int | None) -> Payload:
    """The page always carries every retained day, so every range button can be drawn without
    a reload; ``lookback`` picks the range shown first (and the CSV links)."""
    last, data = await package_data(site, package, None)
    recent = await rollups.recent(site.pool, package)
    csv_query = f"?lookback={lookback}" if lookback else ""
    html = render(
        site.env,
        "package.html",
        package=package,
        is_all=package == ALL_PACKAGES,
        recent=recent,
        charts=data["charts"],
        chart_json=script_json(data),
        lookback=lookback,
        ranges=range_links(f"/packages/{package}", {}, lookback),
        csv_query=csv_query,
    )
    return payload(package, html, last.isoformat())


async def package_csv(site: Site, package: str, chart_id: str, lookback: int | None) -> str:
    if chart_id not in charts.DIMENSION_NAMES:
        raise PageError(404, "No such chart", "That chart does not exist.")
    _, data = await package_data(site, package, lookback, folded=False)
    return charts.to_csv(data, chart_id)


async def top(site: Site) -> Payload:
    tables = {period: await rollups.top(site.pool, period, TOP_LIMIT) for period in rollups.PERIODS}
    html = render(site.env, "top.html", tables=tables, limit=TOP_LIMIT)
    return payload("Top packages", html, await through(site))


async def compare(
    site: Site,
    packages: list[str],
    lookback: int | None = None,
    dimension: str = "overall",
    category: str | None = None,
) -> Payload:
    """One chart for ``packages`` (validated and normalised already; unknown ones are listed):
    downloads without mirrors, or the share of ``category`` in ``dimension`` (both checked)."""
    known = [p for p in packages if await rollups.package_exists(site.pool, p)]
    unknown = [p for p in packages if p not in known]
    data = None
    last = await rollups.last_complete_day(site.pool)
    if known and last is not None:
        win = charts.window(last, None, site.retention_days)
        if dimension == "overall" or category is None:
            by_package = await series.series_many(
                site.pool, site.names, known, "overall", "without_mirrors", start=win.start, end=win.end
            )
            data = charts.compare_chart({p: by_package[p] for p in known}, win)
        else:
            by_package = await series.series_many(
                site.pool, site.names, known, dimension, start=win.start, end=win.end
            )
            data = charts.share_chart({p: by_package[p] for p in known}, dimension, category, win)
    query = {"packages": ",".join(packages)}
    if dimension != "overall" and category is not None:
        query |= {"dimension": dimension, "category": category}
    html = render(
        site.env,
        "compare.html",
        packages=packages,
        known=known,
        unknown=unknown,
        chart=data["charts"][0] if data else None,
        chart_json=script_json(data) if data else None,
        ranges=range_links("/compare", query, lookback),
        max_compare=MAX_COMPARE,
        dimensions=charts.COMPARE_DIMENSIONS,
        dimension=dimension,
        category=category or "",
    )
    title = "Compare: " + ", ".join(known) if known else "Compare packages"
    return payload(title, html, last.isoformat() if last else None)


async def static(site: Site, template: str, title: str) -> Payload:
    html = render(site.env, template, retention_days=site.retention_days)
    return payload(title, html, await through(site))


async def api_docs(site: Site, document: dict[str, Any] | None) -> Payload:
    if document is None:
        html = render(site.env, "api.html", info=None, operations=[])
    else:
        html = render(
            site.env, "api.html", info=apidocs.overview(document), operations=apidocs.operations(document)
        )
    return payload("API", html, await through(site))


async def suggest(site: Site, query: str) -> Payload:
    """Names for the search-as-you-type box: prefix matches first; never ``__all__``."""
    found = await rollups.search(site.pool, query, SUGGEST_LIMIT + 1) if query else []
    return {"query": query, "packages": [p for p in found if p != ALL_PACKAGES][:SUGGEST_LIMIT]}


async def dashboard(site: Site, user_id: int) -> dict[str, Any]:
    """The /user dashboard rows (personal: never cached)."""
    tracked = await rollups.tracked_packages(site.pool, user_id)
    last = await rollups.last_complete_day(site.pool)
    rows: list[dict[str, Any]] = []
    if tracked:
        recent = await rollups.recent_many(site.pool, tracked)
        spark: dict[str, list[int]] = {p: [] for p in tracked}
        if last is not None:
            win = charts.window(last, charts.SPARKLINE_DAYS, site.retention_days)
            by_package = await series.series_many(
                site.pool, site.names, tracked, "overall", "without_mirrors", start=win.start, end=win.end
            )
            spark = {
                p: charts.compare_chart({p: by_package[p]}, win)["charts"][0]["series"][0]["values"]
                for p in tracked
            }
        for p in tracked:
            rows.append(
                {
                    "package": p,
                    "recent": recent[p],
                    "sparkline": charts.sparkline(spark[p]),
                    "values": spark[p],
                }
            )
    return {"rows": rows, "through": last.isoformat() if last else None}
