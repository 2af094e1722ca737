"""Builders of the page fragments: read PostgreSQL through shared.rollups, render a template.

Owns what each page shows. Every builder returns a JSON-serialisable payload
(``title``, ``html``, ``through`` and ``history_from``, the last and first complete days the
footer names, and, for search, maybe ``redirect``) that the page cache can store, because none
of it depends on who is asking; the personal parts (login state, track buttons, the ``/user``
dashboard) are rendered per request in ``views``. The chart pages resolve the visitor's
:class:`~services.web.ranges.Choice` against the kept history (``rollups.history_span``) and
read only the days the view needs.
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

from services.web import adoption, apidocs, charts, ranges
from services.web import ecosystem as ecosystem_core
from shared import rank, rollups, series, totals
from shared.db.layout import Dictionary
from shared.packages import ALL_PACKAGES

Payload = dict[str, Any]
#: The footer's days: ``{"through": last complete day, "history_from": first}`` (ISO or None).
Span = dict[str, str | None]
NO_SPAN: Span = {"through": None, "history_from": None}
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
    #: RETENTION_DAYS: None keeps every day (and bounds ``?lookback=`` only by MAX_LOOKBACK).
    retention_days: int | None
    #: Category names of the packed rows, learnt once per process (shared.db.layout).
    names: Dictionary = field(default_factory=Dictionary)

    def using(self, conn: rollups.Conn) -> Site:
        """The same site reading through ``conn`` (the connection the page cache picked)."""
        return replace(self, pool=conn)

    @property
    def max_lookback(self) -> int:
        """The largest ``?lookback=``: the days this deployment may keep."""
        return self.retention_days or ranges.MAX_LOOKBACK


def render(env: jinja2.Environment, template: str, **context: Any) -> str:
    return env.get_template(template).render(**context)


def script_json(data: Any) -> Markup:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` breakout)."""
    text = json.dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


async def history(site: Site) -> ranges.History | None:
    """The kept history (first and last complete day); None before the first day is complete."""
    first, last, _ = await rollups.history_span(site.pool)
    return ranges.History(first, last) if first is not None and last is not None else None


def span_of(found: ranges.History | None) -> Span:
    if found is None:
        return dict(NO_SPAN)
    return {"through": found.last.isoformat(), "history_from": found.first.isoformat()}


async def span(site: Site) -> Span:
    """What the footer of every page says: data through the last complete day, history from the first."""
    return span_of(await history(site))


def payload(title: str, html: str, days: Span, **extra: Any) -> Payload:
    return {"title": title, "html": html, **days, **extra}


async def home(site: Site) -> Payload:
    count = await rollups.count_packages(site.pool)
    top = await rollups.top(site.pool, "day", 10)
    html = render(site.env, "home.html", count=count, top=top)
    return payload("PyPI download statistics", html, await span(site))


async def search(site: Site, query: str) -> Payload:
    found = await rollups.search(site.pool, query, SEARCH_LIMIT) if query else []
    if len(found) == 1:
        return payload("Search", "", NO_SPAN, redirect=f"/packages/{found[0]}")
    html = render(site.env, "search.html", query=query, found=found)
    return payload(f"Search: {query}", html, await span(site))


async def view_of(site: Site, choice: ranges.Choice) -> ranges.View:
    """``choice`` resolved against the kept history; a 404 page before any day is complete."""
    found = await history(site)
    if found is None:
        raise PageError(404, "No data yet", "No day has been ingested yet; come back after the first run.")
    return ranges.resolve(choice, found)


async def not_found(site: Site, package: str) -> PageError:
    suggestions = [p for p in await rollups.search(site.pool, package, 10) if p != package]
    return PageError(404, "Package not found", f"We have no downloads recorded for {package}.", suggestions)


async def package_data(
    site: Site, package: str, choice: ranges.Choice, *, page: bool = True
) -> tuple[ranges.View, dict[str, Any]]:
    """The chart data of a known package (a 404 PageError with suggestions otherwise): for the
    page (``page=True``), what it embeds, many-valued dimensions folded, and the adoption chart
    (``adoption``, when the package has versions); for a CSV, the view's window with every
    category."""
    if not await rollups.package_exists(site.pool, package):
        raise await not_found(site, package)
    view = await view_of(site, choice)
    win = view.embed if page else view.window
    by_dimension = await series.window_matrices(site.pool, site.names, package, win.start, win.end)
    people = await series.series_matrix(
        site.pool, site.names, package, "overall", "people", win.start, win.end
    )
    by_dimension["overall"] = series.joined([by_dimension.get("overall", series.Matrix.empty()), people])
    data = charts.matrix_charts(by_dimension, win, folded=page, bin=view.bin)
    if page:  # the adoption curves of the versions (services.web.adoption), beside the charts
        found = adoption.adoption_of(by_dimension.get("version", series.Matrix.empty()), win, view.bin)
        if found is not None:
            data["adoption"] = found
    return view, data


def shown(view: ranges.View, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``show``: how many of its last bins the view draws first (a daily page may
    carry more days than its range, for the other daily ranges)."""
    data["show"] = view.window.days if view.bin == "day" else len(data["dates"])
    return data


async def package(site: Site, package: str, choice: ranges.Choice) -> Payload:
    """The package page for ``choice``: the last day/week/month and all-time numbers, the range
    bar and every chart, drawn from the days the view needs (see services.web.ranges)."""
    view, data = await package_data(site, package, choice)
    recent = await rollups.recent(site.pool, package)
    total = await totals.package_totals(site.pool, site.names, package)
    found_rank = await rank.ranks(site.pool, package)
    html = render(
        site.env,
        "package.html",
        package=package,
        is_all=package == ALL_PACKAGES,
        recent=recent,
        totals=total,
        rank=found_rank,
        badge_url=f"/api/packages/{package}/badge.svg",
        page_url=f"/packages/{package}",
        charts=data["charts"],
        adoption=data.get("adoption"),
        partial=data["partial"],
        chart_json=script_json(shown(view, data)),
        view=view,
        bar=ranges.range_bar(f"/packages/{package}", {}, view),
        log_toggle=True,
        csv_query=urlencode(choice.params(log=False)),
    )
    return payload(package, html, span_of(view.history))


async def package_csv(site: Site, package: str, chart_id: str, choice: ranges.Choice) -> str:
    if chart_id not in charts.DIMENSION_NAMES:
        raise PageError(404, "No such chart", "That chart does not exist.")
    _, data = await package_data(site, package, choice, page=False)
    return charts.to_csv(data, chart_id)


async def top(site: Site) -> Payload:
    tables = {period: await rollups.top(site.pool, period, TOP_LIMIT) for period in rollups.PERIODS}
    html = render(site.env, "top.html", tables=tables, limit=TOP_LIMIT)
    return payload("Top packages", html, await span(site))


async def compare(
    site: Site,
    packages: list[str],
    choice: ranges.Choice,
    dimension: str = "overall",
    category: str | None = None,
) -> Payload:
    """One chart for ``packages`` (validated and normalised already; unknown ones are listed):
    downloads without mirrors, or the share of ``category`` in ``dimension`` (both checked),
    over the range and bin of ``choice``."""
    known = [p for p in packages if await rollups.package_exists(site.pool, p)]
    unknown = [p for p in packages if p not in known]
    data = bar = view = None
    found = await history(site)
    query = {"packages": ",".join(packages)}
    if dimension != "overall" and category is not None:
        query |= {"dimension": dimension, "category": category}
    if dimension == "people":
        query |= {"dimension": dimension}
    if known and found is not None:
        view = ranges.resolve(choice, found)
        win = view.embed
        if dimension == "people":
            by_package = await series.series_many(
                site.pool, site.names, known, "overall", "people", start=win.start, end=win.end
            )
            data = charts.compare_chart({p: by_package[p] for p in known}, win, view.bin, "people")
        elif dimension == "overall" or category is None:
            by_package = await series.series_many(
                site.pool, site.names, known, "overall", "without_mirrors", start=win.start, end=win.end
            )
            data = charts.compare_chart({p: by_package[p] for p in known}, win, view.bin)
        else:
            by_package = await series.series_many(
                site.pool, site.names, known, dimension, start=win.start, end=win.end
            )
            data = charts.share_chart({p: by_package[p] for p in known}, dimension, category, win, view.bin)
        shown(view, data)
        bar = ranges.range_bar("/compare", query, view)
    html = render(
        site.env,
        "compare.html",
        packages=packages,
        known=known,
        unknown=unknown,
        chart=data["charts"][0] if data else None,
        partial=data["partial"] if data else {},
        chart_json=script_json(data) if data else None,
        bar=bar,
        view=view,
        log_toggle=dimension in ("overall", "people")
        or category is None,  # a share on a log axis says nothing
        index_toggle=dimension in ("overall", "people") or category is None,  # growth of counts
        max_compare=MAX_COMPARE,
        dimensions=charts.COMPARE_DIMENSIONS,
        dimension=dimension,
        category=category or "",
    )
    title = "Compare: " + ", ".join(known) if known else "Compare packages"
    return payload(title, html, span_of(found))


async def static(site: Site, template: str, title: str) -> Payload:
    found = await history(site)
    html = render(
        site.env,
        template,
        retention_days=site.retention_days,
        history=found,
        max_lookback=site.max_lookback,
        ranges=ranges.RANGES,
    )
    return payload(title, html, span_of(found))


async def api_docs(site: Site, document: dict[str, Any] | None) -> Payload:
    if document is None:
        html = render(site.env, "api.html", info=None, operations=[])
    else:
        html = render(
            site.env, "api.html", info=apidocs.overview(document), operations=apidocs.operations(document)
        )
    return payload("API", html, await span(site))


async def suggest(site: Site, query: str) -> Payload:
    """Names for the search-as-you-type box: prefix matches first; never ``__all__``."""
    found = await rollups.search(site.pool, query, SUGGEST_LIMIT + 1) if query else []
    return {"query": query, "packages": [p for p in found if p != ALL_PACKAGES][:SUGGEST_LIMIT]}


async def dashboard(site: Site, user_id: int) -> dict[str, Any]:
    """The /user dashboard rows (personal: never cached)."""
    tracked = await rollups.tracked_packages(site.pool, user_id)
    found = await history(site)
    last = found.last if found else None
    rows: list[dict[str, Any]] = []
    if tracked:
        recent = await rollups.recent_many(site.pool, tracked)
        spark: dict[str, list[int]] = {p: [] for p in tracked}
        if last is not None:
            win = ranges.Window(last - dt.timedelta(days=charts.SPARKLINE_DAYS - 1), last)
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
    return {"rows": rows, **span_of(found)}


async def ecosystem(site: Site, choice: ranges.Choice) -> Payload:
    """The ecosystem page: ``__all__``'s shares by installer, Python version, operating system,
    country, file type and CI over the range and bin of ``choice``, and what changed in the last
    30 days (services.web.ecosystem). One read covers both the charts and the sentences."""
    view = await view_of(site, choice)
    win, last = view.embed, view.history.last
    enough = view.history.days >= ecosystem_core.SENTENCE_DAYS
    start = (
        min(win.start, last - dt.timedelta(days=ecosystem_core.SENTENCE_DAYS - 1)) if enough else win.start
    )
    by_dimension = await series.series_window(site.pool, site.names, ALL_PACKAGES, start, win.end)
    data = ecosystem_core.share_charts(by_dimension, win, view.bin)
    html = render(
        site.env,
        "ecosystem.html",
        sentences=ecosystem_core.changes(by_dimension, last) if enough else [],
        then=last - dt.timedelta(days=ecosystem_core.LOOKBACK_DAYS),
        last=last,
        week=ecosystem_core.WEEK,
        needed=ecosystem_core.SENTENCE_DAYS,
        min_points=ecosystem_core.MIN_POINTS,
        min_share=ecosystem_core.MIN_SHARE,
        charts=data["charts"],
        partial=data["partial"],
        chart_json=script_json(shown(view, data)),
        view=view,
        bar=ranges.range_bar("/ecosystem", {}, view),
        log_toggle=False,
    )
    return payload("The ecosystem", html, span_of(view.history))
