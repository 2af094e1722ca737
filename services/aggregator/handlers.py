"""Decoding and dispatch of messages from the downloads stream (no I/O here).

Owns the boundary between raw JetStream messages and the aggregator's writers: a message is
decoded with :func:`shared.events.decode_event` into a package-day or a day manifest, or rejected
with a *bounded* reason label (used as a metric label and as the dead letter's reason prefix).

:func:`decode_batch` is the FastStream decoder of the durable batch subscriber: it turns each
message of a fetch into one typed :data:`Delivery`, so a message that fails typed decoding arrives
as its :class:`~shared.events.DeadLetter` (reason and original payload) instead of failing the
whole batch (FastStream's own decoding of ``list[PackageDay | DayManifest]`` would reject all
thousand messages for one bad one, and with manual acks they would come back for ever).
:func:`split` sorts a batch into the three groups the consumer handles differently.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final

from pydantic import Field, ValidationError

from shared.events import MAX_EVENT_BYTES, DayManifest, DeadLetter, PackageDay, Subjects, decode_event

#: What the aggregator's subscriber receives per message: a package-day, a day manifest, or the dead
#: letter of a message that could not be decoded (told apart by their ``kind``).
Delivery = Annotated[PackageDay | DayManifest | DeadLetter, Field(discriminator="kind")]

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
    """One fetch, split by what has to happen to each message (each with its index in the fetch)."""

    package_days: list[tuple[PackageDay, int]] = field(default_factory=list)
    manifests: list[tuple[DayManifest, int]] = field(default_factory=list)
    rejected: list[tuple[DeadLetter, int]] = field(default_factory=list)


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


def decode(
    subject: str, data: bytes, subjects: Subjects, now: dt.datetime
) -> DayManifest | PackageDay | DeadLetter:
    """One message as its event, or as its dead letter when it cannot be applied."""
    event = classify(Incoming(subject, data, 0), subjects)
    return event.dead_letter(now) if isinstance(event, Rejected) else event


def reason_of(letter: DeadLetter) -> str:
    """The bounded reason label of a dead letter made by :meth:`Rejected.dead_letter`."""
    label = letter.reason.split(":", 1)[0]
    return label if label in REASONS else "schema_violation"


class BatchDecoder:
    """The FastStream decoder of the downloads subscriber: one :data:`Delivery` per message."""

    def __init__(self, subjects: Subjects) -> None:
        self.subjects = subjects

    async def __call__(self, message: Any) -> list[DayManifest | PackageDay | DeadLetter]:
        now = dt.datetime.now(dt.UTC)
        return [decode(m.subject, m.data, self.subjects, now) for m in message.raw_message]


def split(events: Sequence[DayManifest | PackageDay | DeadLetter]) -> Batch:
    """Sort the events of a fetch by kind, keeping each one's index in the fetch."""
    batch = Batch()
    for i, event in enumerate(events):
        if isinstance(event, PackageDay):
            batch.package_days.append((event, i))
        elif isinstance(event, DayManifest):
            batch.manifests.append((event, i))
        else:
            batch.rejected.append((event, i))
    return batch
