"""The backfill's cost estimate: BigQuery's billing arithmetic, the sum over days and the budget."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from services.ingest.cost import (
    MIB,
    TIB,
    BudgetError,
    Estimate,
    billed_bytes,
    check_budget,
    estimate,
    human_bytes,
)
from services.ingest.sources.synthetic import SyntheticSource

D = dt.date
DAYS = [D(2024, 5, 9) - dt.timedelta(days=k) for k in range(20)]


def test_bigquery_bills_whole_mib_and_at_least_ten() -> None:
    assert billed_bytes(0) == 0
    assert billed_bytes(1) == 10 * MIB
    assert billed_bytes(10 * MIB + 1) == 11 * MIB
    assert billed_bytes(3 * TIB) == 3 * TIB


def test_dollars_follow_the_price_per_tib() -> None:
    found = Estimate("bigquery", 6.25, {D(2024, 5, 9): 2 * TIB, D(2024, 5, 8): TIB}, days=2, billed=True)
    assert found.bytes == 3 * TIB and found.usd == pytest.approx(18.75)
    assert found.report()["usd"] == 18.75 and found.report()["bytes"] == 3 * TIB
    assert "3.00 TiB" in found.sentence() and "18.75 USD" in found.sentence()
    assert human_bytes(1536) == "1.50 KiB" and human_bytes(12) == "12 B"


class Counting:
    """A source with a dry run: bytes per day, and the threads the dry runs ran on."""

    name = "bigquery"

    def __init__(self) -> None:
        self.asked: list[dt.date] = []
        self.threads: set[str] = set()

    def estimate_bytes(self, day: dt.date) -> int:
        self.asked.append(day)
        self.threads.add(threading.current_thread().name)
        return day.day * 100 * (1 << 30)  # the 9th: 900 GiB


async def test_every_day_is_dry_run_once_off_the_event_loop_and_summed() -> None:
    source = Counting()
    ticks: list[int] = []
    found = await estimate(source, "bigquery", DAYS, 6.25, progress=ticks.append)
    assert sorted(source.asked) == sorted(DAYS) and len(ticks) == len(DAYS)
    assert threading.current_thread().name not in source.threads
    assert found.bytes == sum(d.day * 100 * (1 << 30) for d in DAYS)
    assert found.usd == pytest.approx(found.bytes / TIB * 6.25)
    assert found.billed and found.days == 20


async def test_a_source_without_a_dry_run_costs_nothing() -> None:
    found = await estimate(SyntheticSource(5), "synthetic", DAYS, 6.25)
    assert (found.bytes, found.usd, found.billed, found.days) == (0, 0.0, False, 20)
    assert "no query cost" in found.sentence()
    check_budget(found, max_usd=0.0, max_bytes=None)  # within any budget


def test_the_budget_refuses_above_it_and_says_how_to_allow_it() -> None:
    found = Estimate("bigquery", 6.25, {D(2024, 5, 9): 16 * TIB}, days=1, billed=True)  # 100 USD
    check_budget(found, max_usd=100.0, max_bytes=None)
    with pytest.raises(
        BudgetError, match=r"about 100.00 USD .* above the budget of 99.00 USD .* --max-usd 100"
    ):
        check_budget(found, max_usd=99.0, max_bytes=None)


def test_a_day_above_the_per_query_cap_is_refused_whatever_the_budget() -> None:
    found = Estimate("bigquery", 6.25, {D(2024, 5, 9): 500, D(2024, 5, 8): 900, D(2024, 5, 7): 100}, 3, True)
    assert found.above(400) == [D(2024, 5, 9), D(2024, 5, 8)]
    with pytest.raises(BudgetError, match=r"2 day\(s\) .* BIGQUERY_MAX_BYTES=400 .* 2024-05-08, 900 bytes"):
        check_budget(found, max_usd=1e9, max_bytes=400)
