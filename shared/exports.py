"""Daily bulk exports: file names, the sidecar of a day's files and the index (writer and reader).

Owns what the export directory (``EXPORT_DIR``) holds and how it is named; the aggregator writes
it (services/aggregator/exporter.py) and the api serves it (services/api/exports.py). Per complete
day ``D`` there are three files:

* ``D.parquet`` and ``D.csv.gz``: every package's every count of the day in long format, the
  columns of :data:`COLUMNS` (``overall`` has the categories ``with_mirrors``,
  ``without_mirrors`` and ``people``); only non-zero counts, sorted by package, dimension and
  category; ``__all__`` is left out (it is the sum of the packages);
* ``D.json``: the *sidecar*, written last: which completion of the day the files hold (the run
  and its manifest's stream sequence), their sizes and SHA-256 digests, and the row and package
  counts. A day whose sidecar names another completion than ``ingest_days`` is owed an export.

Every file is replaced whole by a rename (never visible half written); temporary files start
with a dot and are never listed or served. The ETag of a file is the one aiohttp's
``FileResponse`` sends (modification time and size, :func:`etag_of`), so the index and the file
answer agree.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from pydantic import BaseModel, ValidationError

EXPORT_DIR_DESCRIPTION: Final = (
    "Folder of the daily bulk exports (Parquet and gzip-compressed CSV of every package and dimension, written "
    "by the aggregator when a day completes, served by the api at /api/exports); shared by both (a volume). "
    "Unset: the aggregator exports nothing and the api lists none."
)
#: The served formats, as file-name suffixes.
FORMATS: Final = ("parquet", "csv.gz")
MEDIA_TYPES: Final = {"parquet": "application/vnd.apache.parquet", "csv.gz": "application/gzip"}
#: The columns of both formats, in order.
COLUMNS: Final = ("day", "package", "dimension", "category", "downloads")
SCHEMA_VERSION: Final = 1
#: A served name: the day, then a format. Anything else is refused before touching the disk.
_NAME: Final = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})\.(parquet|csv\.gz)")
#: Prefix of temporary files (hidden, never served); :func:`is_temporary` tells them.
TEMP_PREFIX: Final = ".tmp-"


class BadExportName(ValueError):
    """A requested export name that is not ``YYYY-MM-DD.parquet`` or ``YYYY-MM-DD.csv.gz``."""


def parse_name(name: str) -> tuple[dt.date, str]:
    """``(day, format)`` of a served file name; :class:`BadExportName` for anything else."""
    found = _NAME.fullmatch(name)
    if found is None:
        raise BadExportName(f"{name[:100]!r} is not YYYY-MM-DD.parquet or YYYY-MM-DD.csv.gz")
    try:
        day = dt.date.fromisoformat(found.group(1))
    except ValueError as exc:
        raise BadExportName(f"{found.group(1)!r} is not a date") from exc
    return day, found.group(2)


def file_name(day: dt.date, fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadExportName(f"unknown format {fmt!r}")
    return f"{day.isoformat()}.{fmt}"


def sidecar_name(day: dt.date) -> str:
    return f"{day.isoformat()}.json"


def is_temporary(name: str) -> bool:
    return name.startswith(TEMP_PREFIX)


class FileInfo(BaseModel):
    bytes: int
    sha256: str


class Sidecar(BaseModel):
    """What a day's files hold (``D.json``)."""

    schema_version: int = SCHEMA_VERSION
    day: dt.date
    run_id: str
    manifest_seq: int
    completed_at: dt.datetime
    packages: int
    rows: int
    files: dict[str, FileInfo]

    def holds(self, run_id: str, manifest_seq: int) -> bool:
        """Whether the files are of this completion of the day (and of this format version)."""
        return (
            self.schema_version == SCHEMA_VERSION
            and self.run_id == run_id
            and self.manifest_seq == manifest_seq
            and set(self.files) == set(FORMATS)
        )


def read_sidecar(directory: Path, day: dt.date) -> Sidecar | None:
    """The day's sidecar, or None when missing or unreadable (then the day is owed an export)."""
    try:
        return Sidecar.model_validate_json((directory / sidecar_name(day)).read_bytes())
    except (OSError, ValidationError):
        return None


def etag_of(st: os.stat_result) -> str:
    """The strong ETag aiohttp's ``FileResponse`` sends for a file of this ``stat``."""
    return f'"{st.st_mtime_ns:x}-{st.st_size:x}"'


@dataclass(frozen=True)
class IndexEntry:
    day: dt.date
    format: str
    bytes: int
    sha256: str
    etag: str
    rows: int
    packages: int
    completed_at: dt.datetime

    @property
    def name(self) -> str:
        return file_name(self.day, self.format)


def scan_index(directory: Path) -> list[IndexEntry]:
    """Every exported file with its sidecar, newest day first (parquet before csv.gz)."""
    days = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    for name in names:
        stem, dot, ext = name.partition(".")
        if ext != "json" or is_temporary(name):
            continue
        try:
            days.append(dt.date.fromisoformat(stem))
        except ValueError:
            continue
    entries: list[IndexEntry] = []
    for day in sorted(days, reverse=True):
        sidecar = read_sidecar(directory, day)
        if sidecar is None:
            continue
        for fmt in FORMATS:
            info = sidecar.files.get(fmt)
            try:
                st = os.stat(directory / file_name(day, fmt))
            except FileNotFoundError:
                continue
            if info is None:
                continue
            entries.append(
                IndexEntry(
                    day, fmt, st.st_size, info.sha256, etag_of(st), sidecar.rows, sidecar.packages,
                    sidecar.completed_at,
                )
            )  # fmt: skip
    return entries
