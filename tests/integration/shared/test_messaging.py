import datetime as dt

from nats.js import JetStreamContext

from shared.events import DayManifest, Subjects
from shared.messaging import StreamPolicy, ensure_streams


async def test_streams_dedup_a_retried_publish(js: JetStreamContext, subjects: Subjects) -> None:
    day = dt.date(2026, 11, 24)
    manifest = DayManifest(day=day, run_id="r1", packages=0, rows=0, downloads_with_mirrors=0)
    first = await js.publish(
        subjects.manifest(day), manifest.to_bytes(), headers={"Nats-Msg-Id": manifest.msg_id}
    )
    again = await js.publish(
        subjects.manifest(day), manifest.to_bytes(), headers={"Nats-Msg-Id": manifest.msg_id}
    )
    assert not first.duplicate and again.duplicate
    info = await js.stream_info(subjects.downloads_stream)
    assert info.state.messages == 1
    assert info.config.max_age is not None and info.config.max_age >= 180 * 86400
    assert info.config.duplicate_window and info.config.duplicate_window > 0


async def test_ensure_streams_is_idempotent_and_updates_age(js: JetStreamContext, subjects: Subjects) -> None:
    await ensure_streams(js, subjects, StreamPolicy(retention_days=400))
    info = await js.stream_info(subjects.downloads_stream)
    assert info.config.max_age is not None and info.config.max_age >= 400 * 86400
