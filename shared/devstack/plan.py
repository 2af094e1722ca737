"""The pure core of ``make run``: settings, which days to fill, command lines, proxy headers.

Which days: the stack shows ``DEVSTACK_DAYS`` of history (two years by default), but it serves
once the newest ``DEVSTACK_FIRST_DAYS`` (30) are complete; the older days are filled afterwards,
in the background and newest first (:func:`fill_plan`). Both are ingest backfills over the
missing span: a backfill goes newest first and skips the complete days, so an interrupted fill
resumes on the next start.

The routing table of the proxy is every front door's, in shared.frontdoor.

No I/O here, so all of it is unit-tested: the shell in :mod:`shared.devstack.run` only executes
what these functions decide.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from multidict import CIMultiDict
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.logging import get_logger

log = get_logger(__name__)

HTTP_SERVICES = ("api", "web", "auth")
#: Written into the data folder while the stack is up: the URL and each process's port and pid.
STATE_FILE = "devstack.json"
PIPE_LIMIT = 1 << 20
WORKERS = ("aggregator", "ingest")
#: Synthetic packages a day: small enough for the newest 30 days to be aggregated within a minute
#: of the start on a 2-core machine (docs/operations.md gives the figures).
PACKAGES = 500
#: Headers that describe one connection, never forwarded by a proxy (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "content-length"}
)  # fmt: skip


class DevstackSettings(BaseSettings):
    """``make run`` settings. The service URLs stay unset to mean "start embedded servers"."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    devstack_host: str = Field("127.0.0.1", description="Address the local reverse proxy listens on.")
    devstack_port: int = Field(8000, ge=1, le=65535, description="Port of the local reverse proxy.")
    devstack_packages: int = Field(
        PACKAGES, ge=1, description="Synthetic packages a day (the stack's whole history has this many)."
    )
    devstack_days: int = Field(
        730, ge=1, le=3660, description="Closed days of synthetic history the stack holds (two years)."
    )
    devstack_first_days: int = Field(
        30,
        ge=1,
        le=3660,
        description="Newest days complete before the URL is printed; the older ones fill in the background, newest first.",
    )
    devstack_data_dir: Path = Field(Path(".run"), description="Folder of the embedded servers' data.")
    devstack_fill_timeout: float = Field(
        1800.0, gt=0, description="Seconds allowed for the first fill (the newest DEVSTACK_FIRST_DAYS)."
    )
    database_url: str | None = Field(None, description="PostgreSQL to use instead of the embedded one.")
    redis_url: str | None = Field(None, description="Redis to use instead of the embedded one.")
    nats_url: str | None = Field(None, description="NATS to use instead of the embedded one.")
    namespace: str = Field("", description="NATS subject/stream and Redis key prefix passed to services.")
    synthetic_seed: int = Field(42, description="Seed of the synthetic source.")
    github_client_id: str | None = Field(None, description="A real GitHub app; unset starts the fake.")
    pypi_url: str | None = Field(
        None,
        description="PyPI's JSON API for package pages; unset starts the fake PyPI (it invents metadata).",
    )


Span = tuple[dt.date, dt.date]


@dataclass(frozen=True)
class FillPlan:
    """What to fill: ``first`` before serving, ``rest`` in the background, each as the span
    ``(start, end)`` covering its missing days (``None``: nothing missing), with their counts."""

    first: Span | None
    rest: Span | None
    first_missing: int = 0
    rest_missing: int = 0
    first_days: int = 0
    days: int = 0

    @property
    def oldest(self) -> dt.date | None:
        """The oldest day of the history being filled."""
        return self.rest[0] if self.rest else self.first[0] if self.first else None


def _span(window: list[dt.date], done: set[dt.date]) -> tuple[Span | None, int]:
    missing = [d for d in window if d not in done]
    return ((min(missing), max(missing)) if missing else None), len(missing)


def fill_plan(complete: Iterable[dt.date], today: dt.date, days: int, first_days: int) -> FillPlan:
    """The missing days of the last ``days`` closed days: the newest ``first_days`` of them to fill
    first, the rest after."""
    end = today - dt.timedelta(days=1)
    window = [end - dt.timedelta(days=i) for i in range(days)]
    newest = min(first_days, days)
    done = set(complete)
    first, first_missing = _span(window[:newest], done)
    rest, rest_missing = _span(window[newest:], done)
    return FillPlan(first, rest, first_missing, rest_missing, newest, days)


def _days(n: int) -> str:
    return f"{n} day{'s' * (n != 1)}"


def first_fill_line(plan: FillPlan, packages: int) -> str:
    """The console line announcing the fill done before the URL."""
    if plan.rest is None and plan.first_missing == plan.days:
        what = f"{_days(plan.first_missing)} of {packages} synthetic packages"
    else:
        what = f"the newest {_days(plan.first_missing)} of {packages} synthetic packages"
    return f"  first fill: {what}, through ingest -> NATS -> aggregator"


def history_line(plan: FillPlan) -> str:
    """The console line announcing the background fill of the older days."""
    assert plan.rest is not None
    start, end = plan.rest
    return (
        f"  history: {_days(plan.rest_missing)} from {start.isoformat()} to {end.isoformat()} filling in"
        " the background, newest first"
    )


def history_done_line(plan: FillPlan) -> str:
    oldest = plan.oldest
    assert oldest is not None
    return f"  history complete: {_days(plan.days)} from {oldest.isoformat()}"


@dataclass(frozen=True)
class Command:
    """One process to start: its name (the log prefix), argv, extra env and HTTP port."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)
    port: int | None = None
    #: Up when ``/health`` answers 200; the fake GitHub has no ops routes, any HTTP answer will do.
    any_answer: bool = False


def common_env(urls: Mapping[str, str], settings: DevstackSettings) -> dict[str, str]:
    return {
        "ENV": "local",
        "DATABASE_URL": urls["postgres"],
        "REDIS_URL": urls["redis"],
        "NATS_URL": urls["nats"],
        "NAMESPACE": settings.namespace,
        "OPS_HOST": "127.0.0.1",
        "SOURCE": "synthetic",
        "SYNTHETIC_PACKAGES": str(settings.devstack_packages),
        "SYNTHETIC_SEED": str(settings.synthetic_seed),
        # The daily bulk exports: written by the aggregator, served by the api at /api/exports.
        "EXPORT_DIR": str(settings.devstack_data_dir / "exports"),
    }


def migrate_command(python: str) -> Command:
    return Command("migrate", (python, "-m", "shared.db.migrate"))


def backfill_command(python: str, start: dt.date, end: dt.date, name: str = "backfill") -> Command:
    """An ingest backfill of the span: newest first, the complete days skipped."""
    argv = (python, "-m", "services.ingest", "backfill", "--start", start.isoformat(), "--end",
            end.isoformat(), "--source", "synthetic", "--no-progress")  # fmt: skip
    return Command(name, argv)


def service_commands(
    python: str,
    ports: Mapping[str, int],
    public_url: str,
    fake_github: bool,
    fake_pypi: bool = True,
    gap_days: int = 29,
) -> list[Command]:
    """The long-running processes, in start order; ``ports`` has one entry per name. The ingest
    scheduler fills gaps only in the last closed day and the ``gap_days`` before it (the first
    fill's days): the older history is the devstack's background backfill (the two would
    otherwise publish the same days)."""
    worker_env = {"aggregator": {}, "ingest": {"INGEST_GAP_DAYS": str(gap_days)}}
    commands = [
        Command(
            name,
            (python, "-m", f"services.{name}", "serve"),
            {"OPS_PORT": str(ports[name]), **worker_env[name]},
            ports[name],
        )
        for name in WORKERS
    ]
    web_env = {"PORT": str(ports["web"]), "PUBLIC_URL": public_url}
    if fake_pypi:  # the synthetic packages are not on PyPI: package pages read made-up metadata
        argv = (python, "-m", "services.web", "fake-pypi", "--port", str(ports["fake-pypi"]))
        commands.append(Command("fake-pypi", argv, {}, ports["fake-pypi"], any_answer=True))
        web_env["PYPI_URL"] = f"http://127.0.0.1:{ports['fake-pypi']}"
    auth_env = {"PORT": str(ports["auth"]), "PUBLIC_URL": public_url}
    if fake_github:  # auth logs in against the fake when GITHUB_CLIENT_ID is empty
        argv = (python, "-m", "services.auth", "fake-github", "--port", str(ports["fake-github"]))
        commands.append(Command("fake-github", argv, {}, ports["fake-github"], any_answer=True))
        auth_env.update(FAKE_GITHUB_URL=f"http://127.0.0.1:{ports['fake-github']}", GITHUB_CLIENT_ID="")
    for name in HTTP_SERVICES:
        env = {"auth": auth_env, "web": web_env}.get(
            name, {"PORT": str(ports[name]), "PUBLIC_URL": public_url}
        )
        if name == "api":
            env = {**env, "TRUSTED_PROXY_COUNT": "1"}  # the devstack proxy appends X-Forwarded-For
        commands.append(Command(name, (python, "-m", f"services.{name}", "serve"), env, ports[name]))
    return commands


def forward_headers(headers: Mapping[str, str], client: str, host: str, scheme: str) -> CIMultiDict[str]:
    """Request headers for the upstream: hop-by-hop ones dropped, ``X-Forwarded-*`` appended."""
    out: CIMultiDict[str] = CIMultiDict(
        (k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP | {"host"}
    )
    previous = out.popall("X-Forwarded-For", [])
    out["X-Forwarded-For"] = ", ".join([*previous, client])
    out["X-Forwarded-Host"] = host
    out["X-Forwarded-Proto"] = scheme
    out["Host"] = host
    return out
