"""Grouping a package's version downloads: by major, by minor, or by PEP 440 specifiers (pure).

Owns which group a logged version string falls in (:class:`Grouping` and its :meth:`~Grouping.label`)
and summing a version :class:`~shared.series.Matrix` by group (:func:`group_matrix`), for the
API's ``/version?group=...&spec=...`` and the package page's adoption curves. Versions are parsed
with ``packaging`` (PEP 440).

The rule, the same in the API and on the page:

* ``group=major`` labels a version by the first number of its release (``2.1.0`` -> ``2``),
  ``group=minor`` by the first two (``2.1.0`` and ``2.1`` -> ``2.1``, ``2`` -> ``2.0``); a non-zero
  epoch is kept in front (``1!2``). Pre-, post-, dev-releases and local labels do not change the
  group: ``2.0rc1`` counts under ``2`` and under ``2.0``, beside the ``2.0.0`` it leads to.
* ``spec`` (repeatable) names groups by PEP 440 specifier sets (``<2``, ``>=2,<3``, ``~=1.4``);
  a version goes under the first one it matches, labelled by the specifier as written
  (normalised by ``packaging``). A pre-release or dev-release is matched as the release it leads
  to (``2.0rc1`` as ``2.0``, so ``>=2`` takes it and ``<2`` does not, as for majors), unless the
  specifier itself names a pre-release (``>=2.0rc1``): then versions are compared as they are,
  pre-releases included (PEP 440 ordering).
* with both, the specifiers are tried first and the rest grouped by major or minor; with
  specifiers alone the rest go under ``other``.
* a version ``packaging`` cannot parse (``null``, ``latest``, ``1.0-custom build``) is kept under
  ``other``, as is a stored ``other``: every download is in exactly one group, so the groups of a
  day sum to the day's downloads.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from shared.series import Matrix

GroupBy = Literal["major", "minor"]
GROUPS: tuple[GroupBy, ...] = ("major", "minor")
OTHER = "other"
#: At most this many ``spec`` parameters in one request.
MAX_SPECS = 10
#: At most this many characters in one ``spec``.
MAX_SPEC_CHARS = 100


class GroupingError(ValueError):
    """A ``group`` or ``spec`` that cannot be used; ``parameter`` names which."""

    def __init__(self, parameter: str, message: str) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.message = message


@functools.lru_cache(maxsize=65536)
def parse(version: str) -> Version | None:
    """The PEP 440 version of a logged string, or None when it is not one."""
    try:
        return Version(version)
    except InvalidVersion:
        return None


def released(version: Version) -> Version:
    """The release a pre- or dev-release leads to (``2.0rc1`` -> ``2.0``; ``1.0.post1.dev2`` ->
    ``1.0.post1``); any other version as it is."""
    if version.pre is None and version.dev is None:
        return version
    text = ".".join(str(n) for n in version.release)
    if version.epoch:
        text = f"{version.epoch}!{text}"
    if version.post is not None:
        text += f".post{version.post}"
    if version.local is not None:
        text += f"+{version.local}"
    return Version(text)


def _names_prerelease(spec: SpecifierSet) -> bool:
    """Whether one of the specifiers names a pre- or dev-release (``>=2.0rc1``)."""
    for one in spec:
        found = parse(one.version)
        if found is not None and found.is_prerelease:
            return True
    return False


@dataclass(frozen=True)
class Spec:
    """One ``spec`` group: the specifier set, its label, and whether it names a pre-release."""

    label: str
    specifiers: SpecifierSet
    exact: bool

    def matches(self, version: Version) -> bool:
        candidate = version if self.exact else released(version)
        return self.specifiers.contains(candidate, prereleases=True)


def spec_of(text: str) -> Spec:
    """A ``spec`` parameter; raises :class:`GroupingError` naming ``spec`` when it is not a PEP 440
    specifier set (a bare version such as ``2.0`` is not one: ``==2.0`` is)."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    if len(text) > MAX_SPEC_CHARS:
        raise GroupingError("spec", f"spec must be at most {MAX_SPEC_CHARS} characters (got {shown!r})")
    try:
        found = SpecifierSet(text)
    except InvalidSpecifier:
        found = None
    if found is None or not len(found):
        raise GroupingError(
            "spec", f"spec must be a PEP 440 version specifier such as >=2 or >=1.4,<2 (got {shown!r})"
        )
    return Spec(str(found), found, _names_prerelease(found))


@dataclass(frozen=True)
class Grouping:
    """How versions are grouped: ``by`` major or minor (or None), then ``specs`` tried first."""

    by: GroupBy | None = None
    specs: tuple[Spec, ...] = ()

    @classmethod
    def of(cls, group: str | None, specs: list[str]) -> Grouping | None:
        """The grouping of a request's ``group`` (major or minor, any letter case) and ``spec``
        values; None when neither is given (versions as logged)."""
        by: GroupBy | None = None
        if group is not None:
            lowered = group.lower()
            if lowered not in GROUPS:
                shown = group if len(group) <= 40 else group[:40] + "..."
                raise GroupingError("group", f"group must be major or minor (got {shown!r})")
            by = "major" if lowered == "major" else "minor"
        if len(specs) > MAX_SPECS:
            raise GroupingError("spec", f"at most {MAX_SPECS} spec parameters (got {len(specs)})")
        parsed = tuple(spec_of(s) for s in specs)
        if by is None and not parsed:
            return None
        return cls(by, parsed)

    def key(self) -> str:
        """A text naming the grouping in cache keys (specifiers as normalised)."""
        return f"{self.by or ''}|{'|'.join(repr(s.label) for s in self.specs)}"

    def label(self, version: str) -> str:
        """The group of one logged version string (see the module's rule)."""
        parsed = parse(version) if version != OTHER else None
        if parsed is None:
            return OTHER
        for spec in self.specs:
            if spec.matches(parsed):
                return spec.label
        if self.by is None:
            return OTHER
        return group_label(parsed, self.by)


def group_label(version: Version, by: GroupBy) -> str:
    """``2`` (major) or ``2.1`` (minor) of a version, its epoch in front when not 0."""
    release = version.release
    text = str(release[0]) if by == "major" else f"{release[0]}.{release[1] if len(release) > 1 else 0}"
    return f"{version.epoch}!{text}" if version.epoch else text


def group_matrix(matrix: Matrix, grouping: Grouping) -> Matrix:
    """``matrix`` (one row per logged version) summed into one row per group, groups in string
    order (as every :class:`Matrix`); each day's downloads are unchanged in sum."""
    if not matrix.categories:
        return matrix
    labels = [grouping.label(c) for c in matrix.categories]
    names = sorted(set(labels))
    index = {name: i for i, name in enumerate(names)}
    rows = np.fromiter((index[label] for label in labels), dtype=np.intp, count=len(labels))
    counts = np.zeros((len(names), matrix.span), dtype=np.int64)
    np.add.at(counts, rows, matrix.counts)
    keep = np.flatnonzero(counts.any(axis=1))
    if len(keep) < len(names):
        counts = counts[keep]
        names = [names[i] for i in keep.tolist()]
    return Matrix(matrix.start, names, counts)
