"""Decoding and rejection of downloads-stream messages, and the other pure parts of the aggregator."""

from __future__ import annotations

import datetime as dt

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from services.aggregator.config import AggregatorSettings
from services.aggregator.consumer import durable_name
from services.aggregator.handlers import REASONS, Incoming, Rejected, classify, split
from services.aggregator.metrics import AggregatorMetrics
from services.aggregator.recent import recent_affected
from services.aggregator.replay import day_filter, days_between
from services.aggregator.store import latest_by_key
from shared.events import MAX_EVENT_BYTES, Counts, DayManifest, PackageDay, Subjects

SUBJECTS = Subjects("ns")
DAY = dt.date(2024, 5, 1)
GOOD = PackageDay(
    day=DAY,
    package="requests",
    counts=Counts(overall={"with_mirrors": 3, "without_mirrors": 2}, system={"Linux": 2}),
    run_id="r1",
    source="test",
)


def _in(data: bytes, subject: str | None = None, seq: int = 1) -> Incoming:
    return Incoming(subject or SUBJECTS.daily(DAY), data, seq)


def _reason(data: bytes, subject: str | None = None) -> str:
    result = classify(_in(data, subject), SUBJECTS)
    assert isinstance(result, Rejected), result
    assert result.reason in REASONS
    return result.reason


def test_good_package_day_and_manifest_decode() -> None:
    assert classify(_in(GOOD.to_bytes()), SUBJECTS) == GOOD
    manifest = DayManifest(day=DAY, run_id="r1", packages=1, rows=3, downloads_with_mirrors=3)
    assert classify(_in(manifest.to_bytes(), SUBJECTS.manifest(DAY)), SUBJECTS) == manifest


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"{not json", "invalid_json"),
        (GOOD.to_bytes()[:-7], "invalid_json"),  # truncated
        (b"\xff\xfe\x00garbage", "invalid_utf8"),
        (GOOD.to_bytes().replace(b'"schema_version":2', b'"schema_version":9'), "unknown_schema_version"),
        (GOOD.to_bytes().replace(b'"Linux"', b'"Plan9"'), "schema_violation"),
        (GOOD.to_bytes().replace(b":2}", b":-2}"), "schema_violation"),
        (GOOD.to_bytes().replace(b'"requests"', b'"Requests"'), "schema_violation"),
        (b"[]", "schema_violation"),
        (b"x" * (MAX_EVENT_BYTES + 1), "oversize"),
    ],
)
def test_bad_messages_get_a_bounded_reason(data: bytes, reason: str) -> None:
    assert _reason(data) == reason


def test_subject_problems() -> None:
    assert _reason(GOOD.to_bytes(), SUBJECTS.daily(DAY + dt.timedelta(days=1))) == "subject_mismatch"
    assert _reason(GOOD.to_bytes(), "ns.something.else") == "unknown_subject"


def test_dead_letter_keeps_subject_reason_and_payload() -> None:
    data = b'{"day": "2024-05-01", "package": \xff'
    rejected = classify(_in(data), SUBJECTS)
    assert isinstance(rejected, Rejected)
    letter = rejected.dead_letter(dt.datetime(2024, 5, 2, tzinfo=dt.UTC))
    assert letter.subject == SUBJECTS.daily(DAY)
    assert letter.reason.startswith("invalid_utf8: ")
    assert letter.payload.startswith('{"day": "2024-05-01"') and letter.payload_bytes == len(data)
    big = classify(_in(b"y" * (MAX_EVENT_BYTES + 10)), SUBJECTS)
    assert isinstance(big, Rejected)
    assert len(big.dead_letter(dt.datetime.now(dt.UTC)).to_bytes()) < 2 * MAX_EVENT_BYTES


def test_split_groups_a_batch() -> None:
    manifest = DayManifest(day=DAY, run_id="r1", packages=1, rows=3, downloads_with_mirrors=3)
    batch = split(
        [
            _in(GOOD.to_bytes(), seq=1),
            _in(b"{", seq=2),
            _in(manifest.to_bytes(), SUBJECTS.manifest(DAY), seq=3),
        ],
        SUBJECTS,
    )
    assert [inc.seq for _, inc in batch.package_days] == [1]
    assert [r.incoming.seq for r in batch.rejected] == [2]
    assert [inc.seq for _, inc in batch.manifests] == [3]


def test_latest_by_key_keeps_the_highest_sequence() -> None:
    newer = GOOD.model_copy(update={"run_id": "r2"})
    best = latest_by_key([(newer, 9), (GOOD, 5)])
    assert best == {(DAY, "requests"): (newer, 9)}


def test_recent_is_only_recomputed_when_it_can_change() -> None:
    anchor = dt.date(2024, 5, 31)
    assert recent_affected(anchor, None, anchor)
    assert recent_affected(dt.date(2024, 1, 1), dt.date(2024, 5, 30), anchor)  # anchor moved
    assert recent_affected(anchor - dt.timedelta(days=29), anchor, anchor)
    assert not recent_affected(anchor - dt.timedelta(days=30), anchor, anchor)


def test_replay_filter_matches_both_kinds_of_one_day() -> None:
    assert day_filter(SUBJECTS.daily_prefix, DAY) == "ns.downloads.*.v1.2024-05-01"
    assert day_filter(Subjects().daily_prefix, DAY) == "downloads.*.v1.2024-05-01"
    assert days_between(DAY, DAY + dt.timedelta(days=2))[-1] == dt.date(2024, 5, 3)
    with pytest.raises(ValueError, match="before start"):
        days_between(DAY, DAY - dt.timedelta(days=1))


def test_durable_name_includes_the_namespace() -> None:
    assert durable_name("t123", "aggregator") == "t123-aggregator"
    assert durable_name("", "aggregator") == "aggregator"


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "250")
    settings = AggregatorSettings()
    assert settings.batch_size == 250 and settings.ops_port == 9102
    monkeypatch.setenv("CONSUMER_NAME", "bad.name")
    with pytest.raises(ValueError):
        AggregatorSettings()


def test_metric_names_follow_the_convention() -> None:
    registry = CollectorRegistry()
    metrics = AggregatorMetrics(registry)
    metrics.set_last_complete_day(dt.date(2024, 1, 2))
    text = generate_latest(registry).decode()
    for name in (
        "pypistats_aggregator_messages_total",
        "pypistats_aggregator_rows_written_total",
        "pypistats_aggregator_batch_duration_seconds_bucket",
        "pypistats_aggregator_consumer_pending",
        'pypistats_aggregator_dead_letters_total{reason="invalid_json"}',
        "pypistats_aggregator_last_complete_day_timestamp_seconds 1.7041536e+09",
    ):
        assert name in text, name
