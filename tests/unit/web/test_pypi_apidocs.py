import pytest

from services.web import apidocs, pages
from services.web.pypi import Metadata, parse_metadata
from services.web.views import compare_list


def test_parse_metadata_extracts_header_fields() -> None:
    body = {
        "info": {
            "summary": "  HTTP   for humans ",
            "version": "2.0",
            "license": "UNKNOWN",
            "license_expression": None,
            "author": "",
            "author_email": "a@example.org",
            "home_page": "https://example.org",
            "project_urls": {
                "Docs": "https://docs.example.org",
                "Bad": "javascript:alert(1)",
                "Home": "https://example.org",
            },
            "requires_dist": [
                "charset_normalizer<4,>=2",
                "idna (>=2.5)",
                "PySocks!=1.5.7,>=1.5.6; extra == 'socks'",
                'chardet<6,>=3.0.2 ; extra == "use-chardet-on-py3"',
                "idna>=3",
                12,
                "",
            ],
        }
    }
    meta = parse_metadata(body)
    assert meta.summary == "HTTP for humans" and meta.version == "2.0"
    assert meta.license is None and meta.author == "a@example.org"
    assert meta.links == [("Homepage", "https://example.org"), ("Docs", "https://docs.example.org")]
    assert meta.requires == ["charset-normalizer", "idna"]
    assert meta.optional == {"socks": ["pysocks"], "use-chardet-on-py3": ["chardet"]}
    assert Metadata.from_json(meta.to_json()) == meta


@pytest.mark.parametrize("body", [None, [], {"info": None}, {"info": "x"}, {"info": {"requires_dist": None}}])
def test_parse_metadata_never_raises_on_odd_bodies(body: object) -> None:
    assert parse_metadata(body).summary is None


def test_long_summary_is_cut() -> None:
    meta = parse_metadata({"info": {"summary": "x" * 1000}})
    assert meta.summary is not None and len(meta.summary) == 300


DOC = {
    "openapi": "3.1.0",
    "info": {"title": "T", "version": "9"},
    "paths": {
        "/a/{p}": {
            "parameters": [{"$ref": "#/components/parameters/p"}],
            "get": {
                "summary": "Get a",
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                    }
                ],
                "responses": {"200": {"$ref": "#/components/responses/ok"}},
            },
            "post": "not an operation",
        },
        "/b": None,
    },
    "components": {
        "parameters": {
            "p": {
                "name": "p",
                "in": "path",
                "required": True,
                "schema": {"$ref": "#/components/schemas/Name"},
            }
        },
        "schemas": {"Name": {"type": "string", "format": "pep503"}},
        "responses": {"ok": {"description": "fine"}},
    },
}


def test_apidocs_walks_operations_and_resolves_refs() -> None:
    ops = apidocs.operations(DOC)
    assert len(ops) == 1
    op = ops[0]
    assert (op["method"], op["path"], op["summary"]) == ("GET", "/a/{p}", "Get a")
    assert [(p["name"], p["required"], p["schema"]) for p in op["parameters"]] == [
        ("p", True, "string (pep503)"),
        ("limit", False, "integer (1..100)"),
    ]
    assert op["responses"] == [{"status": "200", "description": "fine"}]
    assert apidocs.overview(DOC) == {"title": "T", "version": "9", "description": ""}
    assert apidocs.operations({}) == []


def test_apidocs_survives_reference_loops() -> None:
    doc = {"paths": {"/x": {"$ref": "#/paths/~1x"}}}
    assert apidocs.operations(doc) == []


def test_compare_list_normalises_dedupes_and_limits() -> None:
    assert compare_list("Django, requests,,django ,Requests") == ["django", "requests"]
    with pytest.raises(pages.PageError) as err:
        compare_list(",".join(f"p{i}" for i in range(11)))
    assert err.value.status == 400
    with pytest.raises(pages.PageError):
        compare_list("ok,<script>")


def test_script_json_cannot_close_the_script_element() -> None:
    text = str(pages.script_json({"name": "</script><script>alert(1)</script>&"}))
    assert "</script>" not in text and "<" not in text and "&" not in text


def test_inline_code_escapes_before_marking_up() -> None:
    from services.web.app import inline_code

    assert str(inline_code("use `period` <b>now</b>")) == "use <code>period</code> &lt;b&gt;now&lt;/b&gt;"
    assert "<script>" not in str(inline_code("`<script>`"))
