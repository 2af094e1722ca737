import datetime as dt

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext

from shared.events import DayManifest, Subjects
from shared.messaging import StreamPolicy, ensure_streams, guard_fetch_timeouts


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


async def test_expired_fetches_raise_the_nats_timeout_that_faststream_catches(
    js: JetStreamContext, subjects: Subjects
) -> None:
    """Without the guard, about one in ten of these fetches raises the builtin TimeoutError."""
    guard_fetch_timeouts(js)
    sub = await js.pull_subscribe(subjects.daily_prefix + ".*", stream=subjects.downloads_stream)
    kinds: dict[str, int] = {}
    for timeout in [0.0005, 0.001, 0.002, 0.005] * 25:
        try:
            await sub.fetch(10, timeout=timeout)
        except TimeoutError as exc:
            kind = "nats" if isinstance(exc, NatsTimeoutError) else "builtin"
            kinds[kind] = kinds.get(kind, 0) + 1
    await sub.unsubscribe()
    assert "builtin" not in kinds and kinds["nats"] > 0, kinds  # the others returned nothing
