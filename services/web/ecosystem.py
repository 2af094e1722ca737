"""The ecosystem page's pure core (no I/O): ``__all__``'s dimensions as shares over time, and what
changed in the last 30 days, said in a few plain sentences computed from the data.

Owns :data:`ECOSYSTEM` (one :class:`Share` per chart: which stored dimension, which categories
are left out of the whole, how many are drawn before the rest become "other", how a sentence
names them), :func:`share_charts` (the JSON the browser draws, the same frame as every chart page:
services.web.charts) and :func:`changes` (the sentences).

The sentence rules (also in docs/architecture.md): each share is taken over a week, the 7 days
ending on the last complete day ("now") against the 7 days ending 30 days earlier ("then"), so
weekday swings cancel out; a share is a category's downloads over its dimension's (installers
without mirrors and unreported installers). Said only when true of the data and large enough:

* *passed*: two categories, each at least :data:`MIN_SHARE` % now, whose order changed;
* *rose*/*fell*: per dimension, the category that moved most, if by at least
  :data:`MIN_POINTS` percentage points;

"other" and unknown (``null``) categories are never the subject of a sentence. Passings come first,
then moves by size, at most :data:`MAX_SENTENCES`; with none, one sentence says nothing moved.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.web import charts
from services.web.charts import ChartSpec, PointLike
from services.web.ranges import Window
from shared.bins import Bin
from shared.events import DEFAULT_MIRRORS

#: "then" is the week ending this many days before the last complete day.
LOOKBACK_DAYS = 30
#: Each side of the comparison is a week of days.
WEEK = 7
#: The days the sentences read, ending on the last complete day.
SENTENCE_DAYS = LOOKBACK_DAYS + WEEK
#: A move is said when a share changed by at least this many percentage points.
MIN_POINTS = 1.0
#: A passing is said when both categories hold at least this share (%) now.
MIN_SHARE = 5.0
MAX_SENTENCES = 6
#: Categories never the subject of a sentence.
UNNAMED = ("other", "null")


@dataclass(frozen=True)
class Share:
    """One chart of the page: a stored dimension of ``__all__`` as stacked shares."""

    id: str
    title: str
    #: How a sentence names a category's share, ``{label}`` the category's label (as written:
    #: a label such as "uv" starts a sentence in lower case).
    subject: str
    #: What the shares are of, in a passing ("of installs").
    whole: str
    #: Draw the ``top`` categories with the most downloads in the range, the rest as "other".
    top: int | None = None
    #: Categories left out of the whole (not part of the comparison).
    exclude: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    prefix: str = ""
    #: Whether "A passed B" makes sense for this dimension.
    passings: bool = True
    #: Stack the categories by size (the largest at the bottom); else in category order (versions).
    by_size: bool = True

    @property
    def spec(self) -> ChartSpec:
        return ChartSpec(
            self.id, self.title, kind="stacked", percent=False, labels=self.labels, prefix=self.prefix
        )

    def label(self, category: str) -> str:
        return self.spec.label(category)


ECOSYSTEM: tuple[Share, ...] = (
    Share(
        "installer",
        "Installers: share of installs (mirrors left out)",
        "{label}'s share of installs",
        "installs",
        top=6,
        exclude=(*DEFAULT_MIRRORS, "null"),
    ),
    Share(
        "python_minor",
        "Python versions",
        "{label}'s share of downloads",
        "downloads",
        top=8,
        prefix="Python ",
        by_size=False,
    ),
    Share("system", "Operating systems", "{label}'s share of downloads", "downloads"),
    Share("country", "Countries", "The share of downloads from {label}", "downloads", top=10),
    Share(
        "file_type",
        "File types",
        "The share of downloads that are {label}",
        "downloads",
        top=4,
        labels={"bdist_wheel": "wheels", "sdist": "sdists", "bdist_egg": "eggs"},
    ),
    Share(
        "ci",
        "Continuous integration",
        "The share of downloads {label}",
        "downloads",
        labels={"true": "in CI", "false": "not in CI", "null": "not reported"},
        passings=False,
    ),
)


def shares(filled: Mapping[str, Sequence[int]]) -> dict[str, list[float]]:
    """Each category's percentage of the bin's total, bin by bin (0 in bins without downloads),
    rounded to 2 decimals."""
    series = list(filled.values())
    totals = [sum(column) for column in zip(*series, strict=True)] if series else []
    return {
        category: [round(100 * v / t, 2) if t else 0.0 for v, t in zip(values, totals, strict=True)]
        for category, values in filled.items()
    }


def kept(points: Iterable[PointLike], share: Share) -> list[PointLike]:
    return [p for p in points if p.category not in share.exclude]


def ordered(filled: Mapping[str, Sequence[int]], share: Share) -> dict[str, Sequence[int]]:
    """The categories as they are stacked: by downloads, largest first, when ``share.by_size``
    (else as given), with "other" and unknown last."""
    named = [c for c in filled if c not in UNNAMED]
    if share.by_size:
        named.sort(key=lambda c: -sum(filled[c]))
    return {c: filled[c] for c in [*named, *(c for c in UNNAMED if c in filled)]}


def share_charts(by_dimension: Mapping[str, Sequence[PointLike]], win: Window, bin: Bin) -> dict[str, Any]:
    """The page's JSON: one stacked chart of shares (``unit: "%"``) per :data:`ECOSYSTEM` entry,
    its ``top`` categories over the window kept and the rest folded into "other" before the
    shares are taken, stacked as :func:`ordered` says."""
    drawn = []
    for share in ECOSYSTEM:
        filled = charts.zero_fill(kept(by_dimension.get(share.id, ()), share), win, bin)
        if share.top is not None and len(filled) > share.top:
            filled = charts.fold(filled, share.top)
        chart = charts.chart(share.spec, shares(ordered(filled, share)))  # type: ignore[arg-type]
        chart["unit"] = "%"
        drawn.append(chart)
    return charts.frame(win, bin, drawn)


def week_shares(points: Iterable[PointLike], share: Share, last: dt.date) -> dict[str, float]:
    """Each category's share (%) of the 7 days ending on ``last``; {} without downloads."""
    first = last - dt.timedelta(days=WEEK - 1)
    sums: dict[str, int] = {}
    for p in kept(points, share):
        if first <= p.day <= last:
            sums[p.category] = sums.get(p.category, 0) + p.downloads
    total = sum(sums.values())
    return {c: 100 * n / total for c, n in sums.items()} if total else {}


def percent_pair(a: float, b: float) -> tuple[str, str]:
    """Two shares as text, whole percents from 10 % up and tenths below, with tenths for both
    when rounding would show them equal."""

    def text(x: float, digits: int) -> str:
        return f"{x:.{digits}f}%"

    pair = tuple(text(x, 0 if x >= 10 else 1) for x in (a, b))
    if pair[0] == pair[1]:
        pair = (text(a, 1), text(b, 1))
    return pair[0], pair[1]


@dataclass(frozen=True, order=True)
class Sentence:
    #: Sort key: passings (0) before moves (1), then larger first.
    rank: tuple[int, float]
    text: str


def passings(share: Share, then: Mapping[str, float], now: Mapping[str, float]) -> list[Sentence]:
    """Says "A passed B" for every pair of named categories, both at least MIN_SHARE now, whose order
    changed between the two weeks."""
    if not share.passings:
        return []
    named = [c for c in now if c not in UNNAMED and now[c] >= MIN_SHARE and c in then]
    out = []
    for a in named:
        for b in named:
            if then[a] < then[b] and now[a] > now[b]:
                shown = percent_pair(now[a], now[b])
                text = (
                    f"{share.label(a)} passed {share.label(b)}: "
                    f"{shown[0]} of {share.whole} against {shown[1]}."
                )
                out.append(Sentence((0, -now[a]), text))
    return out


def biggest_move(share: Share, then: Mapping[str, float], now: Mapping[str, float]) -> Sentence | None:
    """The named category whose share moved most, if by at least MIN_POINTS; ties go to the rise."""
    moves = [(now.get(c, 0.0) - then.get(c, 0.0), c) for c in {*then, *now} if c not in UNNAMED]
    if not moves:
        return None
    delta, category = max(moves, key=lambda m: (abs(m[0]), m[0], m[1]))
    if abs(delta) < MIN_POINTS:
        return None
    a, b = percent_pair(then.get(category, 0.0), now.get(category, 0.0))
    subject = share.subject.format(label=share.label(category))
    verb = "rose" if delta > 0 else "fell"
    return Sentence((1, -abs(delta)), f"{subject} {verb} from {a} to {b}.")


def changes(by_dimension: Mapping[str, Sequence[PointLike]], last: dt.date) -> list[str]:
    """What changed in the 30 days to ``last`` (the module docstring's rules); ``by_dimension``
    holds at least the :data:`SENTENCE_DAYS` days ending on ``last``."""
    found: list[Sentence] = []
    for share in ECOSYSTEM:
        points = by_dimension.get(share.id, ())
        then = week_shares(points, share, last - dt.timedelta(days=LOOKBACK_DAYS))
        now = week_shares(points, share, last)
        if not then or not now:
            continue
        found += passings(share, then, now)
        move = biggest_move(share, then, now)
        if move is not None:
            found.append(move)
    if not found:
        return [
            f"No share moved by {MIN_POINTS:g} percentage point or more in the last {LOOKBACK_DAYS} days"
            " (unknown and “other” left aside)."
        ]
    return [s.text for s in sorted(found)[:MAX_SENTENCES]]
