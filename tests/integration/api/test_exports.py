"""The api serves the bulk exports: the index, the files (ETag, 304, Range, CORS), 404 and 400 as
JSON, and nothing outside EXPORT_DIR whatever the name asked for. The DuckDB query of
docs/operations.md is run on a file fetched from the api."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from pathlib import Path

import asyncpg
import duckdb
import pyarrow.parquet as pq
import pytest
from aiohttp.test_utils import TestClient
from yarl import URL

from services.aggregator.exporter import export_day
from shared.db.layout import Dictionary
from tests.integration.api.conftest import END, ApiFactory, without_mirrors

DOCS = Path(__file__).resolve().parents[3] / "docs" / "operations.md"
DAYS = (END, END - dt.timedelta(days=1))


@pytest.fixture
async def exports(seeded: asyncpg.Pool, tmp_path: Path) -> Path:
    directory = tmp_path / "exports"
    names = Dictionary()
    for day in DAYS:
        assert await export_day(seeded, names, directory, day) is not None
    (tmp_path / "secret.parquet").write_bytes(b"not for you")  # beside EXPORT_DIR: never served
    return directory


@pytest.fixture
async def client(exports: Path, api_factory: ApiFactory) -> TestClient:
    return await api_factory(export_dir=exports)


async def test_the_index_lists_every_file_newest_first(client: TestClient) -> None:
    response = await client.get("/api/exports")
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "max-age=" in response.headers["Cache-Control"]
    body = await response.json()
    assert body["type"] == "exports"
    data = body["data"]
    assert [(d["day"], d["format"]) for d in data] == [
        (day.isoformat(), fmt) for day in DAYS for fmt in ("parquet", "csv.gz")
    ]
    for entry in data:
        assert entry["url"] == f"/api/exports/{entry['day']}.{entry['format']}"
        assert entry["packages"] == 2
        file = await client.get(entry["url"])
        content = await file.read()
        assert file.status == 200
        assert file.headers["ETag"] == entry["etag"]
        assert len(content) == entry["bytes"]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
    again = await client.get("/api/exports", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


async def test_a_file_has_its_etag_ranges_and_cors(client: TestClient, seeded: asyncpg.Pool) -> None:
    url = f"/api/exports/{END}.parquet"
    response = await client.get(url)
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/vnd.apache.parquet"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cache-Control"] == "public, max-age=3600"
    content = await response.read()
    table = pq.read_table(io.BytesIO(content))
    overall = {
        r["package"]: r["downloads"]
        for r in table.to_pylist()
        if r["dimension"] == "overall" and r["category"] == "without_mirrors"
    }
    assert overall == {p: without_mirrors(p, END) for p in ("requests", "my-package")}
    etag = response.headers["ETag"]
    assert not etag.startswith("W/")  # strong
    cached = await client.get(url, headers={"If-None-Match": etag})
    assert cached.status == 304 and await cached.read() == b""
    part = await client.get(url, headers={"Range": "bytes=-8"})  # DuckDB reads the footer so
    assert part.status == 206 and await part.read() == content[-8:]
    head = await client.head(url)
    assert head.status == 200 and int(head.headers["Content-Length"]) == len(content)
    csv = await client.get(f"/api/exports/{END}.csv.gz")
    assert csv.status == 200 and csv.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in csv.headers  # the client gets the .gz file as it is


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/exports/2020-01-01.parquet", 404),
        ("/api/exports/2020-01-01.csv.gz", 404),
        ("/api/exports/2026-13-01.parquet", 400),
        ("/api/exports/2026-03-31.json", 400),
        ("/api/exports/2026-03-31.csv", 400),
        ("/api/exports/latest", 400),
        ("/api/exports/..%2Fsecret.parquet", 400),
        ("/api/exports/%2e%2e%2fsecret.parquet", 400),
        ("/api/exports/..%5Csecret.parquet", 400),
        ("/api/exports/.tmp-abc-2026-03-31.parquet", 400),
        ("/api/exports/2026-03-31.parquet%00.json", 400),
        ("/api/exports/../secret.parquet", 404),  # normalised by the client: no such route
        ("/api/exports/%252e%252e%252fsecret.parquet", 400),
    ],
)
async def test_bad_and_missing_names_are_json_errors(client: TestClient, path: str, status: int) -> None:
    response = await client.get(URL(path, encoded=True))
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["error"]["status"] == status
    assert b"not for you" not in await response.read()


async def test_without_export_dir_the_index_is_empty(seeded: asyncpg.Pool, api_factory: ApiFactory) -> None:
    client = await api_factory()
    response = await client.get("/api/exports")
    assert response.status == 200 and (await response.json())["data"] == []
    missing = await client.get(f"/api/exports/{END}.parquet")
    assert missing.status == 404 and (await missing.json())["error"]["parameter"] == "file"


async def test_the_documented_duckdb_query_reads_an_export(client: TestClient, tmp_path: Path) -> None:
    """The one-liner of docs/operations.md, on a file fetched from the api (DuckDB's httpfs
    extension, which reads the URL itself, is not installed in the test environment)."""
    found = re.search(r'duckdb -c "(.+?read_parquet\(\'(https?://[^\']+)\'\).+?)"', DOCS.read_text())
    assert found is not None, "the DuckDB one-liner is missing from docs/operations.md"
    query, url = found.group(1), found.group(2)
    assert re.fullmatch(r"/api/exports/[0-9]{4}-[0-9]{2}-[0-9]{2}\.parquet", URL(url).path)
    response = await client.get(f"/api/exports/{END}.parquet")
    assert response.status == 200
    local = tmp_path / "downloaded.parquet"
    local.write_bytes(await response.read())
    rows = duckdb.connect().execute(query.replace(url, str(local))).fetchall()
    assert rows == [
        ("requests", without_mirrors("requests", END)),
        ("my-package", without_mirrors("my-package", END)),
    ]
