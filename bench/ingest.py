"""Ingest benchmark: package-days published per second for one synthetic day, against a baseline.

Against the NATS server at ``NATS_URL`` (default ``nats://127.0.0.1:4222``), in a throw-away
namespace whose streams are deleted afterwards, it measures:

1. ``publish_day``: the whole ingest path for a day of N packages (generate with the synthetic
   source, normalise and validate, encode the ``PackageDay``, pipelined JetStream publishes with
   ``Nats-Msg-Id`` and dedup, then the manifest), in package-days per second;
2. baseline, same run, same stream: ``js.publish_async`` of the same payloads pre-encoded in memory,
   with the same ``Nats-Msg-Id`` headers and the same window of unacknowledged publishes;
3. for reference, the synthetic source alone (generation without publishing);
4. with ``--faststream``: the same pre-encoded payloads through ingest's FastStream publisher of
   ``downloads.daily.v1.{day}`` (services/ingest/channels.py), once awaiting each publish's PubAck
   before the next (what a FastStream publisher does) and once with ``--max-in-flight`` such
   publishes running as concurrent tasks. This is why package-days bypass the FastStream publisher
   and go through the broker's JetStream context.

It prints each rate and the ratio ``publish_day / baseline``. Median of ``--repeat`` runs each.

Usage: ``.venv/bin/python bench/ingest.py [--packages 100000] [--max-in-flight 1024] [--repeat 3] [--faststream]``
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import time
import uuid
from collections import deque

from faststream.nats import NatsBroker
from faststream.nats.publisher.usecase import LogicPublisher
from nats.js import JetStreamContext
from tqdm import tqdm

from services.ingest.channels import Outlet, connected, ingest_channels
from services.ingest.publisher import RunResult, inspect_day, package_days, publish_day
from services.ingest.sources.synthetic import SyntheticSource
from shared.events import Subjects
from shared.messaging import StreamPolicy, delete_streams

DAY = dt.date(2024, 3, 4)


async def encoded_day(source: SyntheticSource) -> list[tuple[str, bytes]]:
    result = RunResult(run_id="baseline", day=DAY, source=source.name)
    return [(event.msg_id, event.payload) async for event in package_days(source, DAY, result)]


async def baseline(
    js: JetStreamContext, subjects: Subjects, messages: list[tuple[str, bytes]], window: int, tag: str
) -> float:
    """Pre-encoded payloads through ``publish_async`` with the same window; returns seconds."""
    subject = subjects.daily(DAY)
    pending: deque[asyncio.Future[object]] = deque()
    started = time.perf_counter()
    for msg_id, payload in tqdm(messages, desc=f"baseline {tag}", unit="msg", leave=False):
        if len(pending) >= window:
            await pending.popleft()
        pending.append(await js.publish_async(subject, payload, headers={"Nats-Msg-Id": f"{msg_id}/{tag}"}))
    while pending:
        await pending.popleft()
    return time.perf_counter() - started


async def through_faststream(
    publisher: LogicPublisher,
    subjects: Subjects,
    messages: list[tuple[str, bytes]],
    window: int,
    tag: str,
) -> float:
    """The payloads through a FastStream publisher, ``window`` at once (1: one after the other)."""
    subject = subjects.daily(DAY)
    stream = subjects.downloads_stream
    slots = asyncio.Semaphore(window)
    tasks: set[asyncio.Task[object]] = set()

    async def one(msg_id: str, payload: bytes) -> None:
        try:
            await publisher.publish(
                payload, subject, headers={"Nats-Msg-Id": f"{msg_id}/{tag}"}, stream=stream, timeout=30
            )
        finally:
            slots.release()

    started = time.perf_counter()
    for msg_id, payload in tqdm(messages, desc=f"faststream {tag}", unit="msg", leave=False):
        await slots.acquire()
        if window == 1:
            await one(msg_id, payload)
            continue
        task = asyncio.create_task(one(msg_id, payload))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)
    return time.perf_counter() - started


async def faststream_comparison(
    broker: NatsBroker,
    js: JetStreamContext,
    subjects: Subjects,
    messages: list[tuple[str, bytes]],
    args: argparse.Namespace,
) -> None:
    """Rates of the FastStream publisher next to the baseline, on the same connection and stream."""
    channels = ingest_channels(subjects)
    broker.include_router(channels.router)
    one_by_one = messages[: min(len(messages), 20_000)]
    rows: dict[str, list[float]] = {"baseline": [], "sequential": [], "concurrent": []}
    for k in range(args.repeat):
        rows["baseline"].append(
            len(messages) / await baseline(js, subjects, messages, args.max_in_flight, f"fb{k}")
        )
        seconds = await through_faststream(channels.daily, subjects, one_by_one, 1, f"fs{k}")
        rows["sequential"].append(len(one_by_one) / seconds)
        seconds = await through_faststream(channels.daily, subjects, messages, args.max_in_flight, f"fc{k}")
        rows["concurrent"].append(len(messages) / seconds)
    base = statistics.median(rows["baseline"])
    for name, rates in rows.items():
        rate = statistics.median(rates)
        print(
            f"faststream comparison, {name}: {rate:,.0f} msg/s ({rate / base:.2f} of baseline; runs {[round(r) for r in rates]})"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--max-in-flight", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--faststream", action="store_true", help="also measure the FastStream publisher")
    args = parser.parse_args()

    url = os.environ.get("NATS_URL", "nats://127.0.0.1:4222")
    subjects = Subjects(f"bench{uuid.uuid4().hex[:8]}")
    async with connected(url, subjects, StreamPolicy(retention_days=180), name="bench-ingest") as (
        broker,
        outlet,
    ):
        try:
            await run(broker, outlet.js, outlet, subjects, args)
        finally:
            await delete_streams(outlet.js, subjects)


async def run(
    broker: NatsBroker, js: JetStreamContext, outlet: Outlet, subjects: Subjects, args: argparse.Namespace
) -> None:
    source = SyntheticSource(args.packages, seed=0)
    print(f"preparing {args.packages} package-days for the baseline ...", flush=True)
    messages = await encoded_day(source)
    size = statistics.mean(len(p) for _m, p in messages)
    ours: list[float] = []
    base: list[float] = []
    gen: list[float] = []
    for k in range(args.repeat):
        # interleaved, so both pay the same machine noise and the same growing stream
        base.append(await baseline(js, subjects, messages, args.max_in_flight, f"r{k}"))
        with tqdm(total=args.packages, desc=f"publish_day run {k}", unit="pkg", leave=False) as bar:
            result = await publish_day(
                outlet, source, DAY, max_in_flight=args.max_in_flight, progress=bar.update
            )
        assert result.packages == len(messages) and result.skipped == 0
        ours.append(result.seconds)
        gen_started = time.perf_counter()
        await inspect_day(source, DAY)
        gen.append(time.perf_counter() - gen_started)
    n = len(messages)
    ours_rate = n / statistics.median(ours)
    base_rate = n / statistics.median(base)
    gen_rate = n / statistics.median(gen)
    print(f"package-days per run: {n} (mean payload {size:.0f} B), max in flight {args.max_in_flight}")
    print(
        f"publish_day (generate+validate+encode+publish): {ours_rate:,.0f} package-days/s "
        f"(median {statistics.median(ours):.2f} s of {[round(s, 2) for s in ours]})"
    )
    print(
        f"baseline publish_async of pre-encoded payloads: {base_rate:,.0f} msg/s "
        f"(median {statistics.median(base):.2f} s of {[round(s, 2) for s in base]})"
    )
    print(f"synthetic source + validation alone, no NATS: {gen_rate:,.0f} package-days/s")
    print(f"ratio publish_day / baseline: {ours_rate / base_rate:.2f}")
    if args.faststream:
        await faststream_comparison(broker, js, subjects, messages, args)


if __name__ == "__main__":
    asyncio.run(main())
