"""Pure parts of the api service: parameter parsing, badges, cache headers, client addresses, routes."""

from __future__ import annotations

import datetime as dt
import ipaddress
import xml.etree.ElementTree as ET

import pytest

from services.api import badges, params
from services.api.app import create_app
from services.api.cache import Entry, max_age
from services.api.config import ApiSettings, parse_overrides
from services.api.ratelimit import client_address, limit_for
from shared.openapi import openapi_document
from shared.web import etag_matches

UTC = dt.UTC


def test_package_names_are_normalised_or_refused() -> None:
    assert params.package("Django") == "django"
    assert params.package("zope.Interface") == "zope-interface"
    assert params.package("__all__") == "__all__"
    for bad in ("", "a b", "../x", "<b>", "x" * 201, "\udcff", "é"):
        with pytest.raises(params.ParamError) as exc:
            params.package(bad)
        assert exc.value.parameter == "package"


def test_series_parameters() -> None:
    assert params.overall({"mirrors": "TRUE"}).category == "with_mirrors"
    assert params.overall({}).category is None
    assert params.system({"os": "dArWiN"}).category == "Darwin"
    assert params.system({"os": "NULL"}).category == "null"
    assert params.python_minor({"version": "3.12"}).category == "3.12"
    assert params.python_major({"version": ""}).category is None  # empty means no filter
    q = params.overall({"start_date": "2026-01-01", "end_date": "2026-01-01"})
    assert (q.start, q.end) == (dt.date(2026, 1, 1), dt.date(2026, 1, 1))
    assert params.period({}, default="month") == "month" and params.period({"period": "Week"}) == "week"
    assert params.limit({}) == 20 and params.limit({"limit": "100"}) == 100
    for parse, query, name in (
        (params.overall, {"start_date": "2026-1-1"}, "start_date"),
        (params.overall, {"start_date": "2026-01-02", "end_date": "2026-01-01"}, "end_date"),
        (params.python_major, {"version": "3.1"}, "version"),
        (params.system, {"os": "Plan9"}, "os"),
        (params.limit, {"limit": "1" * 5000}, "limit"),
        (params.limit, {"limit": "-1"}, "limit"),
    ):
        with pytest.raises(params.ParamError) as exc:
            parse(query)  # type: ignore[operator]
        assert exc.value.parameter == name
        assert len(exc.value.message) < 200


def test_bin_parameter() -> None:
    assert params.overall({}).bin == "day" and params.overall({"bin": ""}).bin == "day"
    for value, expected in (("day", "day"), ("Week", "week"), ("MONTH", "month"), ("year", "year")):
        assert params.system({"bin": value}).bin == expected
    assert params.version({"bin": "month", "limit": "5"}) == params.SeriesQuery(None, None, None, 5, "month")
    for bad in ("fortnight", "days", "w", "week ", "1" * 5000):
        with pytest.raises(params.ParamError) as exc:
            params.ci({"bin": bad})
        assert exc.value.parameter == "bin" and len(exc.value.message) < 200
    # every bin has its own cache key; no bin and bin=day are the same answer, so the same key
    keys = {params.overall({"bin": b}).cache_part() for b in ("", "day", "week", "month", "year")}
    assert len(keys) == 4 and params.overall({}).cache_part() == params.overall({"bin": "DAY"}).cache_part()


def test_series_window() -> None:
    first, last = dt.date(2024, 3, 18), dt.date(2026, 3, 17)
    d = dt.date

    def window(**query: str) -> tuple[dt.date, dt.date] | None:
        return params.overall(query).window(first, last)

    # the default: 180 days before the last complete day, 181 dates, whatever else is kept
    assert window() == (d(2025, 9, 18), last) and (last - d(2025, 9, 18)).days == 180
    assert window(end_date="2026-01-01") == (d(2025, 9, 18), d(2026, 1, 1))  # end_date moves the end only
    assert window(end_date="2025-09-17") is None  # the default start is after it: nothing
    # any start back to the first day kept; earlier, or an end past the last complete day, is clipped
    assert window(start_date="2024-03-18") == (first, last)
    assert window(start_date="2000-01-01", end_date="2030-01-01") == (first, last)
    assert window(start_date="2025-01-15", end_date="2025-01-15") == (d(2025, 1, 15), d(2025, 1, 15))
    assert (
        window(start_date="2026-03-18") is None
        and window(end_date="2000-01-01", start_date="1999-01-01") is None
    )
    # a short history (a fresh install, or RETENTION_DAYS) is the whole default window
    assert params.overall({}).window(d(2026, 3, 1), last) == (d(2026, 3, 1), last)
    assert params.overall({}).window(None, None) is None  # no complete day yet


def test_badge_numbers_and_svg_is_well_formed() -> None:
    cases = {0: "0", 999: "999", 1000: "1k", 1234: "1.2k", 12345: "12k", 999_999: "1M", 3_456_789: "3.5M"}
    assert {n: badges.compact(n) for n in cases} == cases
    assert [badges.count(1_234_567, u) for u in badges.UNITS] == ["1.2M", "1,234,567", "1234567"]
    for style in badges.STYLES:
        svg = badges.svg(badges.Badge("<lab>&\"'", "1.2k", style=style), "<pkg>&\"': 1.2k")
        root = ET.fromstring(svg)
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        texts = [
            t.text for t in root.iter("{http://www.w3.org/2000/svg}text") if "aria-hidden" not in t.attrib
        ]
        label = {"for-the-badge": "<LAB>&\"'", "social": "<lab>&\"'"}.get(style, "<lab>&\"'")
        assert texts == [label, "1.2K" if style == "for-the-badge" else "1.2k"], style
        assert root.find("{http://www.w3.org/2000/svg}title").text == "<pkg>&\"': 1.2k"  # type: ignore[union-attr]
    assert badges.shields("downloads/day", "3.4M") == {
        "schemaVersion": 1,
        "label": "downloads/day",
        "message": "3.4M",
        "color": "blue",
    }


def test_badge_colours_and_text_on_light_backgrounds() -> None:
    assert badges.color("brightgreen") == "#4c1" and badges.color("Blue") == "#007ec6"
    assert badges.color("ff0") == "#ff0" and badges.color("#A0B0C0") == "#a0b0c0"
    assert badges.color("nope") is None and badges.color("12345") is None
    light = badges.svg(badges.Badge("x", "y", "#ffff00"), "t")
    assert 'fill="#333">y<' in light  # dark text on yellow
    assert 'fill="#fff">x<' in light


def test_badge_query_parsing_and_labels() -> None:
    from services.api.badge_params import badge_query

    q = badge_query({})
    assert (q.period, q.people, q.units, q.style, q.default_label()) == (
        "month",
        False,
        "compact",
        "flat",
        "downloads/month",
    )
    assert badge_query({"period": "total"}).default_label() == "downloads"
    assert badge_query({"who": "people", "period": "week"}).default_label() == "people downloads/week"
    q = badge_query({"version": "2.*", "period": "year"})
    assert q.default_label() == "downloads 2.*/year"
    assert [q.counts_version(v) for v in ("2.31.0", "2", "20.1", "1.2")] == [True, True, False, False]
    assert badge_query({"version": "2.31.0"}).counts_version("2.31.0")
    assert not badge_query({"version": "2.31.0"}).counts_version("2.31.01")
    assert badge_query({"label": ""}).text(5) == ("", "5")
    assert badge_query({"label": "installs", "units": "full"}).text(1234) == ("installs", "1,234")
    assert badge_query({"metric": "rank"}).default_label() == "rank/month"
    for bad, name in (
        ({"period": "decade"}, "period"),
        ({"who": "robots"}, "who"),
        ({"units": "si"}, "units"),
        ({"style": "3d"}, "style"),
        ({"color": "notacolour"}, "color"),
        ({"label_color": "12"}, "label_color"),
        ({"label": "x" * 65}, "label"),
        ({"version": "2.*.1"}, "version"),
        ({"version": "2.*", "who": "people"}, "version"),
        ({"metric": "rank", "version": "1"}, "metric"),
    ):
        with pytest.raises(params.ParamError) as caught:
            badge_query(bad)
        assert caught.value.parameter == name, bad


def test_rank_and_percentile() -> None:
    from shared.rank import rank_of, top_percent

    assert rank_of(0, 1000).text() == "#1 \u00b7 top 0.1%"
    assert rank_of(0, 100_000).top_percent == 0.01
    assert top_percent(10, 1000) == 1 and top_percent(11, 1000) == 2 and top_percent(1000, 1000) == 100
    assert rank_of(1233, 600_000).text() == "#1,234 \u00b7 top 1%"


def test_max_age_until_the_next_update() -> None:
    day = dt.date(2026, 3, 31)
    at = dt.time(1, 30, tzinfo=UTC)
    now = dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
    assert max_age(day, now, at, 300) == 13 * 3600 + 30 * 60
    assert max_age(day, dt.datetime(2026, 4, 2, 2, 0, tzinfo=UTC), at, 300) == 300  # overdue
    assert max_age(None, now, at, 300) == 300


def test_etags_and_entries() -> None:
    entry = Entry.build(b'{"a":1}', "application/json", dt.date(2026, 3, 31))
    assert Entry.load(entry.dump()) == entry
    assert Entry.load(Entry.build(b"x\ny", "image/svg+xml", None).dump()).body == b"x\ny"
    assert etag_matches(entry.etag, entry.etag) and etag_matches(f'"zzz", W/{entry.etag}', entry.etag)
    assert etag_matches("*", entry.etag) and not etag_matches('"other"', entry.etag)
    assert not etag_matches(None, entry.etag)


def test_client_address_through_trusted_proxies() -> None:
    assert client_address("192.0.2.1", "6.6.6.6", 0) == "192.0.2.1"
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7", 1) == "198.51.100.7"
    assert client_address("10.0.0.1", "6.6.6.6, 198.51.100.7, 10.0.0.2", 2) == "198.51.100.7"
    assert client_address("10.0.0.1", "198.51.100.7", 2) == "10.0.0.1"  # too few hops: the peer
    assert client_address("10.0.0.1", "not-an-ip", 1) == "10.0.0.1"
    assert client_address("2001:db8::1", None, 0) == "2001:db8::/64"
    assert client_address("::ffff:192.0.2.9", None, 0) == "192.0.2.9"
    assert client_address(None, None, 0) == "unknown"


def test_overrides() -> None:
    overrides = parse_overrides("10.0.0.0/8=0, 203.0.113.7=100000,10.1.0.0/16=5,2001:db8::/32=9")
    assert overrides[0][0] == ipaddress.ip_network("203.0.113.7/32")
    assert limit_for("203.0.113.7", 60, overrides) == 100000
    assert limit_for("10.1.2.3", 60, overrides) == 5
    assert limit_for("10.2.2.3", 60, overrides) == 0
    assert limit_for("2001:db8::/64", 60, overrides) == 9
    assert limit_for("192.0.2.1", 60, overrides) == 60
    assert limit_for("unknown", 60, overrides) == 60
    for bad in ("10.0.0.0/8", "nope=1", "10.0.0.1=-1", "10.0.0.1=x"):
        with pytest.raises(ValueError):
            parse_overrides(bad)
    with pytest.raises(ValueError):
        ApiSettings(rate_limit_overrides="1.2.3.4=lots")
    with pytest.raises(ValueError):
        ApiSettings(update_time_utc="25:00")


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    app = create_app(ApiSettings())  # the factory opens nothing; resources open on startup
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }
    documented = {(method, path) for path, item in openapi_document()["paths"].items() for method in item}
    assert served == documented


def test_the_badge_parameters_are_documented_as_parsed() -> None:
    from services.api import badge_params
    from shared import openapi_badges

    assert openapi_badges.BADGE_PERIODS == list(badge_params.PERIODS)
    assert openapi_badges.STYLES == list(badges.STYLES) and openapi_badges.UNITS == list(badges.UNITS)
    documented = {p["name"] for p in openapi_badges.badge_parameters()}
    assert documented == {
        "period",
        "who",
        "version",
        "units",
        "style",
        "label",
        "label_color",
        "color",
        "metric",
    }


def test_overall_who_people() -> None:
    assert params.overall({"who": "people"}).category == "people"
    assert params.overall({"who": "PEOPLE"}).category == "people"
    assert params.overall({"who": "all"}).category is None
    assert params.overall({"who": "all", "mirrors": "true"}).category == "with_mirrors"
    for bad in ({"who": "robots"}, {"who": "people", "mirrors": "false"}):
        with pytest.raises(params.ParamError) as caught:
            params.overall(bad)
        assert caught.value.parameter == "who"


def test_the_people_allowlist_is_documented_where_it_is_used() -> None:
    from shared.installers import PEOPLE_INSTALLERS

    who = next(
        p
        for p in openapi_document()["paths"]["/api/packages/{package}/overall"]["get"]["parameters"]
        if p.get("name") == "who"
    )
    assert all(name in who["description"] for name in PEOPLE_INSTALLERS)
    assert not {"Browser", "requests", "OS", "Bazel", "twine", "bandersnatch", "null"} & set(
        PEOPLE_INSTALLERS
    )
