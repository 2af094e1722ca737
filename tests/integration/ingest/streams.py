"""Reading back what ingest published: every message of a test's downloads stream, decoded."""

from __future__ import annotations

from dataclasses import dataclass, field

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.events import DayManifest, PackageDay, Subjects, decode_event


@dataclass
class StreamContents:
    package_days: list[PackageDay] = field(default_factory=list)
    manifests: list[DayManifest] = field(default_factory=list)
    msg_ids: list[str] = field(default_factory=list)

    def by_run(self, run_id: str) -> list[PackageDay]:
        return [e for e in self.package_days if e.run_id == run_id]

    def rows(self, run_id: str) -> set[tuple[str, str, str, int]]:
        return {(e.package, d, c, n) for e in self.by_run(run_id) for d, c, n in e.counts.rows()}


async def stream_message_count(js: JetStreamContext, subjects: Subjects) -> int:
    info = await js.stream_info(subjects.downloads_stream)
    return int(info.state.messages)


async def read_stream(js: JetStreamContext, subjects: Subjects) -> StreamContents:
    """Every message currently in the downloads stream, in stream order (one direct get each;
    sequences purged from the middle are skipped)."""
    info = await js.stream_info(subjects.downloads_stream)
    out = StreamContents()
    if info.state.messages == 0:
        return out
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        try:
            msg = await js.get_msg(subjects.downloads_stream, seq)
        except NotFoundError:  # purged from the middle of the stream
            continue
        assert msg.subject is not None and msg.data is not None
        event = decode_event(msg.subject, msg.data, subjects)
        out.msg_ids.append((msg.headers or {}).get("Nats-Msg-Id", ""))
        if isinstance(event, PackageDay):
            out.package_days.append(event)
        else:
            out.manifests.append(event)
    return out
