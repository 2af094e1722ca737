"""A local stand-in of the BigQuery REST API, enough for the real client library to run a query.

Owns the fake the tests point the real client at (``BIGQUERY_API_ENDPOINT``): ``jobs.insert``
(dry run or real), ``jobs.get`` and ``jobs.getQueryResults`` with paging (``maxResults`` and
``pageToken``). It answers a query of the downloads with the rows its ``answer`` callback gives for
the bound parameters (tests use the raw source, so the real query text runs on DuckDB), and a
query of ``INFORMATION_SCHEMA.PARTITIONS`` by running that query's own text on DuckDB over the
partitions its ``partitions`` callback lists. It reports a configurable ``totalBytesProcessed``
for dry runs (the same for every day, or per day through ``bytes_for_day``) and records every
request it served. :func:`from_rows` builds one over a local ``file_downloads`` export, for
``python -m services.ingest fake-bigquery --port N --rows FILE``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

Answer = Callable[[str, dict[str, Any]], Sequence[tuple[Any, ...]]]
#: ``(partition_id, total_rows)`` of the ``file_downloads`` table's partitions.
Partitions = Callable[[], Sequence[tuple[str, int]]]

SCHEMA = {
    "fields": [
        {"name": "package", "type": "STRING", "mode": "NULLABLE"},
        {"name": "dimension", "type": "STRING", "mode": "NULLABLE"},
        {"name": "category", "type": "STRING", "mode": "NULLABLE"},
        {"name": "downloads", "type": "INTEGER", "mode": "NULLABLE"},
    ]
}


@dataclass
class FakeBigQuery:
    answer: Answer
    bytes_processed: int = 1_000_000
    bytes_for_day: Callable[[dt.date], int] | None = None
    partitions: Partitions | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    results: dict[str, Sequence[tuple[Any, ...]]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    def app(self) -> web.Application:
        app = web.Application()
        base = "/bigquery/v2/projects/{project}"
        app.router.add_post(base + "/jobs", self.insert_job)
        app.router.add_get(base + "/jobs/{job_id}", self.get_job)
        app.router.add_get(base + "/queries/{job_id}", self.get_query_results)
        app.middlewares.append(self._record)
        return app

    @web.middleware
    async def _record(self, request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.text() if request.can_read_body else ""
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": json.loads(body) if body else None,
            }
        )
        response: web.StreamResponse = await handler(request)
        return response

    @property
    def query_jobs(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["method"] == "POST" and r["path"].endswith("/jobs")]

    async def insert_job(self, request: web.Request) -> web.Response:
        body = await request.json()
        project = request.match_info["project"]
        query = body["configuration"]["query"]
        job_id = body.get("jobReference", {}).get("jobId") or f"job_{next(self._ids)}"
        params = {p["name"]: _param_value(p) for p in query.get("queryParameters", [])}
        dry_run = bool(body["configuration"].get("dryRun"))
        scanned = self.bytes_processed
        if self.bytes_for_day is not None and isinstance(params.get("day"), dt.date):
            scanned = self.bytes_for_day(params["day"])
        job: dict[str, Any] = {
            "kind": "bigquery#job",
            "id": f"{project}:US.{job_id}",
            "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
            "configuration": body["configuration"],
            "status": {"state": "DONE"},
            "statistics": {
                "creationTime": "1700000000000",
                "totalBytesProcessed": str(scanned),
                "query": {"totalBytesProcessed": str(scanned), "statementType": "SELECT"},
            },
        }
        if not dry_run:
            if "INFORMATION_SCHEMA.PARTITIONS" in query["query"]:
                self.schemas[job_id], self.results[job_id] = self._metadata(query["query"], params)
            else:
                self.schemas[job_id], self.results[job_id] = SCHEMA, list(self.answer(query["query"], params))
            self.jobs[job_id] = job
        return web.json_response(job)

    async def get_job(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return web.json_response({"error": {"code": 404, "message": "Not found: Job"}}, status=404)
        return web.json_response(job)

    async def get_query_results(self, request: web.Request) -> web.Response:
        project, job_id = request.match_info["project"], request.match_info["job_id"]
        rows = self.results.get(job_id)
        if rows is None:
            return web.json_response({"error": {"code": 404, "message": "Not found: Job"}}, status=404)
        start = int(request.query.get("pageToken") or request.query.get("startIndex") or 0)
        size = int(request.query.get("maxResults") or 100_000)
        page = rows[start : start + size]
        body: dict[str, Any] = {
            "kind": "bigquery#getQueryResultsResponse",
            "jobReference": {"projectId": project, "jobId": job_id, "location": "US"},
            "schema": self.schemas.get(job_id, SCHEMA),
            "totalRows": str(len(rows)),
            "jobComplete": True,
            "rows": [{"f": [{"v": None if v is None else str(v)} for v in row]} for row in page],
        }
        if start + size < len(rows):
            body["pageToken"] = str(start + size)
        return web.json_response(body)

    def _metadata(self, query: str, params: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[Any, ...]]]:
        """Run a query of INFORMATION_SCHEMA.PARTITIONS (its own text, on DuckDB) over ``partitions``."""
        import duckdb

        from .sources.raw import duckdb_query

        if self.partitions is None:
            raise web.HTTPBadRequest(text="this stand-in has no partitions to answer INFORMATION_SCHEMA")
        con = duckdb.connect(":memory:")
        try:
            con.execute(PARTITIONS_TABLE)
            listed = [("file_downloads", pid, rows) for pid, rows in self.partitions()]
            if listed:
                con.executemany(INSERT_PARTITION, listed)
            cursor = con.execute(duckdb_query(query), params)
            names = [d[0] for d in cursor.description or []]
            rows = [tuple(r) for r in cursor.fetchall()]
        finally:
            con.close()
        schema = {"fields": [{"name": n, "type": "STRING", "mode": "NULLABLE"} for n in names]}
        return schema, rows


PARTITIONS_TABLE = "CREATE TABLE partitions (table_name VARCHAR, partition_id VARCHAR, total_rows BIGINT)"
INSERT_PARTITION = "INSERT INTO partitions VALUES ($1, $2, $3)"


def _param_value(param: dict[str, Any]) -> Any:
    kind = param["parameterType"]["type"]
    value = param["parameterValue"]
    if kind == "ARRAY":
        return [v["value"] for v in value.get("arrayValues", [])]
    if kind == "DATE":
        return dt.date.fromisoformat(value["value"])
    return value.get("value")


def from_rows(path: str | Path, bytes_processed: int = 1_000_000) -> FakeBigQuery:
    """A stand-in answering each query by running it (as DuckDB) over the export at ``path``."""
    from .sources.raw import RawSource
    from .sources.rows import DEFAULT_MIRRORS

    if not Path(path).exists():
        raise ValueError(f"no file_downloads rows at {str(path)!r}")

    def answer(_query: str, params: dict[str, Any]) -> Sequence[tuple[Any, ...]]:
        mirrors = params.get("mirrors") or DEFAULT_MIRRORS
        return RawSource(path, mirrors=mirrors).rows(params["day"])

    return FakeBigQuery(
        answer=answer, bytes_processed=bytes_processed, partitions=lambda: RawSource(path).partitions()
    )
