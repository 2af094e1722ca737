"""The fake PyPI ``make run`` starts: it invents a stable, plausible project for any name, which the
real parser reads as a summary, a latest version, a licence and links."""

from __future__ import annotations

from services.web.fakepypi import invented_project
from services.web.pypi import parse_metadata


def test_invented_projects_are_stable_and_parse_into_a_full_header() -> None:
    meta = parse_metadata(invented_project("tornado-kit"))
    assert meta == parse_metadata(invented_project("tornado-kit"))
    assert meta.summary is not None and meta.summary.startswith("tornado-kit: a synthetic project")
    assert meta.version is not None and meta.version.count(".") == 2
    assert meta.license and meta.author
    assert [name for name, _ in meta.links] == ["Homepage", "Source"]
    assert parse_metadata(invented_project("other")).version is not None
