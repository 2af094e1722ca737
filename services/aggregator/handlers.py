"""Decoding and dispatch of messages from the downloads stream (no I/O here).

Owns the boundary between raw JetStream messages and the aggregator's writers: a message is
decoded with :func:`shared.events.decode_event` into a package-day or a day manifest, or rejected
with a *bounded* reason label (used as a metric label and as the dead letter's reason prefix).
A batch is split into the three groups the consumer handles differently.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final

from pydantic import ValidationError

from shared.events import MAX_EVENT_BYTES, DayManifest, DeadLetter, PackageDay, Subjects, decode_event

#: Every reason a message can be rejected for; the metric label never takes another value.
REASONS: Final = (
    "oversize",
    "invalid_utf8",
    "invalid_json",
    "unknown_schema_version",
    "schema_violation",
    "subject_mismatch",
    "unknown_subject",
    "incomplete_run",
)
#: How much of a rejected payload the dead letter carries.
DEAD_PAYLOAD_CHARS: Final = 16 * 1024


@dataclass(frozen=True)
class Incoming:
    """What the aggregator needs of one JetStream message: subject, body, stream sequence."""

    subject: str
    data: bytes
    seq: int


@dataclass(frozen=True)
class Rejected:
    """A message that can never be applied, with its bounded reason label and a detail text."""

    incoming: Incoming
    reason: str
    detail: str

    def dead_letter(self, now: dt.datetime) -> DeadLetter:
        payload = self.incoming.data[: DEAD_PAYLOAD_CHARS * 4].decode("utf-8", errors="replace")
        return DeadLetter(
            subject=self.incoming.subject,
            reason=f"{self.reason}: {self.detail}"[:1000],
            payload=payload[:DEAD_PAYLOAD_CHARS],
            payload_bytes=len(self.incoming.data),
            dead_at=now,
        )


@dataclass
class Batch:
    """One fetch, split by what has to happen to each message."""

    package_days: list[tuple[PackageDay, Incoming]] = field(default_factory=list)
    manifests: list[tuple[DayManifest, Incoming]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def classify(incoming: Incoming, subjects: Subjects) -> PackageDay | DayManifest | Rejected:
    """Decode one message, or say why it is rejected (the reason is one of :data:`REASONS`)."""
    data = incoming.data
    if len(data) > MAX_EVENT_BYTES:
        return Rejected(incoming, "oversize", f"payload of {len(data)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected(incoming, "invalid_utf8", str(exc))
    try:
        return decode_event(incoming.subject, data, subjects)
    except ValidationError as exc:
        return Rejected(incoming, _validation_reason(exc), _summary(exc))
    except ValueError as exc:
        text = str(exc)
        if text.startswith("unexpected subject"):
            return Rejected(incoming, "unknown_subject", text)
        if text.startswith("subject day"):
            return Rejected(incoming, "subject_mismatch", text)
        return Rejected(incoming, "schema_violation", text)


def _validation_reason(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    if any(e["type"].startswith("json_") for e in errors):
        return "invalid_json"
    if any(e["loc"][:1] == ("schema_version",) for e in errors):
        return "unknown_schema_version"
    return "schema_violation"


def _summary(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def split(messages: list[Incoming], subjects: Subjects) -> Batch:
    """Classify every message of a fetch."""
    batch = Batch()
    for incoming in messages:
        event = classify(incoming, subjects)
        if isinstance(event, Rejected):
            batch.rejected.append(event)
        elif isinstance(event, PackageDay):
            batch.package_days.append((event, incoming))
        else:
            batch.manifests.append((event, incoming))
    return batch
