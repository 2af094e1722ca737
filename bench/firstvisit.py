"""What a visitor's browser pays for a page: bytes transferred and time until the charts are drawn.

Owns the browser half of bench.web: Debian's Chromium, driven by Playwright, opens the page in a
fresh context (empty cache) and reads the Performance API: ``transferSize`` of the navigation and
of every resource (headers plus the body as sent, so compression counts), and the time from the
start of the navigation to the marks app.js sets once the charts of the first screen are drawn
(``first-screen-charts-drawn``) and once every chart is (``charts-drawn``; for a page without
these marks, the moment the ``chartsReady`` flag is seen), and the first contentful paint (the
first text on screen: what the first response's size and the deferred scripts decide). Charts
below the first screen are drawn when they come near it or when the browser is idle
(static/app.js), so "every chart drawn" is measured without scrolling. It then visits the
same page again in the same context: what a repeat visit fetches.
"""

from __future__ import annotations

import asyncio
import statistics
from dataclasses import dataclass
from typing import Any

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

READ = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource").map(r => ({
    name: r.name, transfer: r.transferSize, encoded: r.encodedBodySize, decoded: r.decodedBodySize
  }));
  const mark = performance.getEntriesByName("charts-drawn")[0];
  const first = performance.getEntriesByName("first-screen-charts-drawn")[0];
  const paint = performance.getEntriesByName("first-contentful-paint")[0];
  return {
    paintMs: paint ? paint.startTime : null,
    html: nav.transferSize,
    resources,
    chartsMs: mark ? mark.startTime : performance.now(),
    firstMs: first ? first.startTime : (mark ? mark.startTime : performance.now()),
  };
}"""


@dataclass(frozen=True)
class Visit:
    html_bytes: int
    resources: list[dict[str, Any]]
    charts_ms: float
    first_screen_ms: float
    #: First contentful paint (None when the browser did not report one).
    first_paint_ms: float | None = None

    @property
    def total_bytes(self) -> int:
        return self.html_bytes + sum(int(r["transfer"]) for r in self.resources)


@dataclass(frozen=True)
class FirstVisit:
    first: Visit
    repeat: Visit
    visits: list[Visit]

    @property
    def median_charts_ms(self) -> float:
        return statistics.median(v.charts_ms for v in self.visits)

    @property
    def median_first_screen_ms(self) -> float:
        return statistics.median(v.first_screen_ms for v in self.visits)

    @property
    def median_first_paint_ms(self) -> float | None:
        found = [v.first_paint_ms for v in self.visits if v.first_paint_ms is not None]
        return statistics.median(found) if found else None


async def _visit(page: Any, url: str) -> Visit:
    await page.goto(url)
    # a selector, not wait_for_function: its polling uses new Function, which the CSP refuses
    await page.locator("body[data-charts-ready='true']").wait_for(state="attached", timeout=60_000)
    found = await page.evaluate(READ)
    paint = found["paintMs"]
    return Visit(
        found["html"],
        found["resources"],
        float(found["chartsMs"]),
        float(found["firstMs"]),
        float(paint) if paint is not None else None,
    )


async def measure(url: str, runs: int = 5, chromium: str = CHROMIUM) -> FirstVisit:
    """``runs`` first visits (a new browser context each), then one repeat visit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=ARGS)
        try:
            visits: list[Visit] = []
            repeat: Visit | None = None
            for i in range(runs):
                context = await browser.new_context(viewport={"width": 1366, "height": 900})
                page = await context.new_page()
                visits.append(await _visit(page, url))
                if i == runs - 1:
                    repeat = await _visit(page, url)
                await context.close()
            assert repeat is not None
            return FirstVisit(visits[0], repeat, visits)
        finally:
            await browser.close()


def report(result: FirstVisit) -> list[str]:
    """Lines for the benchmark's output."""
    first = result.first
    lines = [f"first visit: {first.total_bytes:,} bytes transferred (HTML {first.html_bytes:,})"]
    for r in first.resources:
        name = r["name"].split("/")[-1].split("?")[0]
        lines.append(f"  {name:<40} {int(r['transfer']):>10,} transferred, {int(r['decoded']):>10,} decoded")
    lines.append(
        f"repeat visit: {result.repeat.total_bytes:,} bytes transferred (HTML {result.repeat.html_bytes:,})"
    )
    paint = result.median_first_paint_ms
    paints = ", ".join(f"{v.first_paint_ms:.0f}" for v in result.visits if v.first_paint_ms is not None)
    lines.append(f"first contentful paint: median {paint:.0f} ms ({paints})" if paint else "no paint timing")
    first_ms = ", ".join(f"{v.first_screen_ms:.0f}" for v in result.visits)
    all_ms = ", ".join(f"{v.charts_ms:.0f}" for v in result.visits)
    lines.append(f"first screen of charts drawn: median {result.median_first_screen_ms:.0f} ms ({first_ms})")
    lines.append(f"every chart drawn: median {result.median_charts_ms:.0f} ms ({all_ms})")
    return lines


def main() -> None:
    import sys

    for line in report(asyncio.run(measure(sys.argv[1]))):
        print(line)


if __name__ == "__main__":
    main()
