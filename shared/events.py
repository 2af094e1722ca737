"""Event models exchanged on NATS JetStream (contracts.md section 3).

Owns the wire format shared by producer (ingest) and consumer (aggregator): the models, their
schema version, the subjects they travel on and the message ids that make a retried publish land
once. Models ignore unknown fields (a newer producer may add some) and reject unknown schema
versions, categories that do not exist and negative counts.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.packages import InvalidPackageName, validate

#: Version 2 added the dimensions version, installer, country, file_type and ci; version 3 the
#: overall category ``people`` (downloads by people: shared.installers); version 4 the dimensions
#: platform and abi (from wheel file names: shared.platforms).
SCHEMA_VERSION: Final = 4
#: Versions this build reads: events of versions 1 to 3 (no new dimensions, no ``people``, no
#: platform or abi) still replay from old streams; they simply count none of what they lack.
READABLE_VERSIONS: Final = frozenset({1, 2, 3, 4})

#: Every event must stay well below nats-server's default max_payload (1 MiB); a package-day of a
#: package with thousands of versions downloaded in one day takes about 100 kB.
MAX_EVENT_BYTES: Final = 512 * 1024

DIMENSIONS: Final = (
    "overall",
    "python_major",
    "python_minor",
    "system",
    "version",
    "installer",
    "country",
    "file_type",
    "ci",
    "platform",
    "abi",
)
#: Dimensions whose categories are free text as logged (any printable string up to a length);
#: platform and abi are named by shared.platforms, within the same lengths.
TEXT_DIMENSIONS: Final = {
    "version": 128, "installer": 64, "country": 16, "file_type": 32, "platform": 64, "abi": 32,
}  # fmt: skip
OVERALL_CATEGORIES: Final = frozenset({"with_mirrors", "without_mirrors", "people"})
SYSTEM_CATEGORIES: Final = frozenset({"Darwin", "Linux", "Windows", "other", "null"})
CI_CATEGORIES: Final = frozenset({"true", "false", "null"})
_MAJOR = re.compile(r"^(?:[0-9]+|null)$")
_MINOR = re.compile(r"^(?:[0-9]+\.[0-9]+|null)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Upper bound of categories in one dimension; real data has about thirty python minors.
MAX_CATEGORIES: Final = 200
#: Upper bounds above MAX_CATEGORIES: the busiest packages see a thousand or more versions a day.
#: Ingest folds the smallest categories beyond the bound into ``OTHER`` (services/ingest/validation.py).
CATEGORY_LIMITS: Final = {"version": 5000, "country": 300}
#: The category that sums what did not fit under a dimension's limit.
OTHER: Final = "other"


def category_limit(dimension: str) -> int:
    """The most categories one package-day may hold in ``dimension``."""
    return CATEGORY_LIMITS.get(dimension, MAX_CATEGORIES)


#: Installers whose downloads only ``with_mirrors`` and ``installer`` count (contracts.md section 2;
#: ingest's MIRROR_INSTALLERS setting may change the list).
DEFAULT_MIRRORS: Final = ("bandersnatch", "z3c.pypimirror", "Artifactory", "devpi")
#: The largest count of one category on one day that storage holds (shared.db.layout.MAX_DOWNLOADS,
#: 2**40 - 1): a larger one is rejected here, so it is dead-lettered instead of failing its batch.
MAX_COUNT: Final = (1 << 40) - 1


@functools.lru_cache(maxsize=1 << 18)
def valid_category(dimension: str, category: str) -> bool:
    """True when ``category`` is a legal category of ``dimension``."""
    if dimension == "overall":
        return category in OVERALL_CATEGORIES
    if dimension == "system":
        return category in SYSTEM_CATEGORIES
    if dimension == "python_major":
        return bool(_MAJOR.match(category))
    if dimension == "python_minor":
        return bool(_MINOR.match(category)) and len(category) <= 16
    if dimension == "ci":
        return category in CI_CATEGORIES
    longest = TEXT_DIMENSIONS.get(dimension)
    if longest is not None:
        return 0 < len(category) <= longest and not _CONTROL.search(category)
    return False


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    schema_version: int = SCHEMA_VERSION

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value not in READABLE_VERSIONS:
            readable = ", ".join(map(str, sorted(READABLE_VERSIONS)))
            raise ValueError(f"unknown schema version {value} (this build reads {readable})")
        return value

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Any:
        if len(data) > MAX_EVENT_BYTES:
            raise ValueError(f"payload of {len(data)} bytes exceeds {MAX_EVENT_BYTES}")
        return cls.model_validate_json(data)


def _check_package(value: str) -> str:
    try:
        normalised = validate(value)
    except InvalidPackageName as exc:
        raise ValueError(str(exc)) from exc
    if normalised != value:
        raise ValueError(f"package name {value!r} is not normalised (expected {normalised!r})")
    return value


class Counts(BaseModel):
    """One package-day's downloads per category, for every dimension."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    overall: dict[str, int] = Field(default_factory=dict)
    python_major: dict[str, int] = Field(default_factory=dict)
    python_minor: dict[str, int] = Field(default_factory=dict)
    system: dict[str, int] = Field(default_factory=dict)
    version: dict[str, int] = Field(default_factory=dict)
    installer: dict[str, int] = Field(default_factory=dict)
    country: dict[str, int] = Field(default_factory=dict)
    file_type: dict[str, int] = Field(default_factory=dict)
    ci: dict[str, int] = Field(default_factory=dict)
    platform: dict[str, int] = Field(default_factory=dict)
    abi: dict[str, int] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Counts:
        # The hot path of the aggregator (a package-day may hold hundreds of categories): the
        # checks run as whole-dict operations, and a category's validity is remembered.
        for dimension in DIMENSIONS:
            values: dict[str, int] = getattr(self, dimension)
            if not values:
                continue
            if len(values) > category_limit(dimension):
                raise ValueError(f"{dimension}: more than {category_limit(dimension)} categories")
            if not all([valid_category(dimension, c) for c in values]):
                bad = next(c for c in values if not valid_category(dimension, c))
                raise ValueError(f"{dimension}: unknown category {bad!r}")
            low, high = min(values.values()), max(values.values())
            if low < 0:
                category = min(values, key=values.__getitem__)
                raise ValueError(f"{dimension}/{category}: negative count {low}")
            if high > MAX_COUNT:
                category = max(values, key=values.__getitem__)
                raise ValueError(f"{dimension}/{category}: count {high} above {MAX_COUNT}")
        return self

    def dimensions(self) -> list[tuple[str, dict[str, int]]]:
        """``(dimension, {category: downloads})`` for every dimension, in a stable order."""
        return [(dimension, getattr(self, dimension)) for dimension in DIMENSIONS]

    def rows(self) -> list[tuple[str, str, int]]:
        """Non-zero ``(dimension, category, downloads)`` rows, in a stable order."""
        out: list[tuple[str, str, int]] = []
        for dimension in DIMENSIONS:
            values: dict[str, int] = getattr(self, dimension)
            out.extend((dimension, c, n) for c, n in sorted(values.items()) if n > 0)
        return out


class PackageDay(_Event):
    """``downloads.daily.v1.<day>``: one package's counts for one UTC day, from one ingest run."""

    kind: Literal["package_day"] = "package_day"
    day: dt.date
    package: str
    counts: Counts
    run_id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=32)

    @field_validator("package")
    @classmethod
    def _package(cls, value: str) -> str:
        return _check_package(value)

    @property
    def msg_id(self) -> str:
        return package_day_msg_id(self.day, self.package, self.run_id)


class DayManifest(_Event):
    """``downloads.manifest.v1.<day>``: published after the last package-day of a run."""

    kind: Literal["manifest"] = "manifest"
    day: dt.date
    run_id: str = Field(min_length=1, max_length=64)
    packages: int = Field(ge=0)
    rows: int = Field(ge=0)
    downloads_with_mirrors: int = Field(ge=0)
    source: str = "unknown"

    @property
    def msg_id(self) -> str:
        return f"{self.day.isoformat()}/manifest/{self.run_id}"


class RollupsUpdated(_Event):
    """``rollups.updated.v1.<day>``: the aggregator committed every rollup of a day."""

    kind: Literal["rollups_updated"] = "rollups_updated"
    day: dt.date
    run_id: str
    packages: int = Field(ge=0)


class DeadLetter(_Event):
    """``downloads.dead.v1``: a message the aggregator could not apply, with the reason."""

    kind: Literal["dead_letter"] = "dead_letter"
    subject: str
    reason: str
    payload: str  # the original bytes, decoded as UTF-8 with replacement, truncated
    payload_bytes: int = Field(ge=0)
    dead_at: dt.datetime


def package_day_msg_id(day: dt.date, package: str, run_id: str) -> str:
    """The ``Nats-Msg-Id`` of a package-day: ``<day>/<package>/<run_id>``."""
    return f"{day.isoformat()}/{package}/{run_id}"


class Subjects:
    """Subject and stream names, optionally under a namespace prefix (used to isolate test runs)."""

    def __init__(self, namespace: str = "") -> None:
        if namespace and not re.fullmatch(r"[A-Za-z0-9_-]+", namespace):
            raise ValueError("namespace may only contain letters, digits, '_' and '-'")
        self.namespace = namespace
        prefix = f"{namespace}." if namespace else ""
        stream_prefix = f"{namespace.upper().replace('-', '_')}_" if namespace else ""
        self.daily_prefix = f"{prefix}downloads.daily.v1"
        self.manifest_prefix = f"{prefix}downloads.manifest.v1"
        self.rollups_prefix = f"{prefix}rollups.updated.v1"
        self.dead = f"{prefix}downloads.dead.v1"
        self.downloads_stream = f"{stream_prefix}DOWNLOADS"
        self.rollups_stream = f"{stream_prefix}ROLLUPS"
        self.dead_stream = f"{stream_prefix}DOWNLOADS_DEAD"

    def daily(self, day: dt.date) -> str:
        return f"{self.daily_prefix}.{day.isoformat()}"

    def manifest(self, day: dt.date) -> str:
        return f"{self.manifest_prefix}.{day.isoformat()}"

    def rollups(self, day: dt.date) -> str:
        return f"{self.rollups_prefix}.{day.isoformat()}"

    @property
    def downloads_subjects(self) -> list[str]:
        return [f"{self.daily_prefix}.*", f"{self.manifest_prefix}.*"]


def decode_event(subject: str, data: bytes, subjects: Subjects) -> PackageDay | DayManifest:
    """Decode a message from the downloads stream by its subject; raises ``ValueError`` when bad."""
    if subject.startswith(subjects.daily_prefix + "."):
        event: PackageDay | DayManifest = PackageDay.from_bytes(data)
    elif subject.startswith(subjects.manifest_prefix + "."):
        event = DayManifest.from_bytes(data)
    else:
        raise ValueError(f"unexpected subject {subject!r}")
    if subject.rsplit(".", 1)[-1] != event.day.isoformat():
        raise ValueError(f"subject day does not match body day {event.day.isoformat()}")
    return event
