"""Settings shared by every service, read from the environment with pydantic-settings.

Owns the base settings classes, the deployment profiles (``ENV`` = local | test | production) and
their safety rules, secrets read from ``*_FILE`` variables, the ``python -m shared.config`` command
(``check [--service NAME]`` and ``docs``) and the generated table of every environment variable in
``docs/configuration.md``. Each service subclasses :class:`ServiceSettings` in its own ``config.py``,
registers it as an entry point in the ``pypistats.settings`` group, and builds it in ``main()`` with
:func:`load_settings`; nothing reads the environment at import time.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tempfile
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Profile = Literal["local", "test", "production"]
ENTRY_POINT_GROUP = "pypistats.settings"
EXIT_BAD_CONFIG = 2

#: The local/test default; the production profile refuses it.
INSECURE_SESSION_SECRET = "insecure-local-session-secret-change-me"
MIN_SECRET_LENGTH = 32

#: Variables read outside the settings classes (tests, the local stack), documented with the rest.
OTHER_VARIABLES: dict[str, tuple[str, str]] = {
    "TEST_DATABASE_URL": (
        "tests",
        "Admin DSN of a PostgreSQL for the test run (each run creates and drops its own database).",
    ),
    "TEST_REDIS_URL": ("tests", "Redis for the test run (keys are namespaced per test)."),
    "TEST_NATS_URL": ("tests", "NATS with JetStream for the test run (streams are namespaced per test)."),
    "PYPISTATS_TEST_SERVICES": (
        "tests",
        "`containers` to start servers with testcontainers when a Docker engine answers.",
    ),
    "PROMETHEUS_MULTIPROC_DIR": (
        "api, web, auth workers",
        "Set by the supervisor of several workers (WEB_CONCURRENCY): where they keep their metrics, summed by `/metrics`.",
    ),
    "PYPISTATS_LISTEN_FD": (
        "api, web, auth workers",
        "Set by the supervisor of several workers: the listening socket a worker inherits. Not for operators.",
    ),
    "XDG_RUNTIME_DIR": (
        "embedded servers",
        "Where the embedded PostgreSQL keeps its runtime files (set when missing).",
    ),
}


#: The window a series answers without ``start_date`` (pypistats.org's 180 days before the last
#: complete day, 181 dates), and the scheduler's window for re-ingesting missing days.
DEFAULT_WINDOW_DAYS: Final = 180


class _FileSecretsSource(PydanticBaseSettingsSource):
    """``<NAME>_FILE=/path`` reads the value of ``<NAME>`` from a file, as Kubernetes mounts secrets."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        path = os.environ.get(f"{field_name.upper()}_FILE")
        if not path:
            return None, field_name, False
        try:
            return Path(path).read_text().strip(), field_name, False
        except OSError as exc:
            raise ValueError(f"{field_name.upper()}_FILE: cannot read {path}: {exc.strerror}") from exc

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, field in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(field, name)
            if value is not None:
                values[name] = value
        return values


class ServiceSettings(BaseSettings):
    """Fields common to every service. Env var names are the upper-cased field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    env: Profile = Field("local", description="Deployment profile: local, test or production.")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log format; auto means JSON in production, console elsewhere."
    )
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/pypistats",
        description="PostgreSQL DSN (a password in it is redacted wherever it is shown).",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0", description="Redis URL (a password in it is redacted)."
    )
    nats_url: str = Field(
        "nats://127.0.0.1:4222",
        description="NATS server URL, or a comma-separated list of a JetStream cluster's nodes (clients fail over between them).",
    )
    stream_replicas: int = Field(
        1,
        ge=1,
        le=5,
        description="Replicas of each JetStream stream (1 on one server; 3 on a three-node cluster, which then survives losing a node).",
    )
    nats_retry_seconds: float = Field(
        120.0,
        gt=0,
        le=3600,
        description=(
            "How long a JetStream call or publish is retried (backoff 0.1 s doubling to 2-5 s, a publish "
            "under its same message id) through a leader election, a lost node or a NATS restart before "
            "it fails with a clear error."
        ),
    )
    namespace: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_-]*$",
        description="Prefix for NATS subjects/streams and Redis keys, to run several stacks on one server.",
    )
    retention_days: int | None = Field(
        None,
        ge=1,
        le=36_600,
        description=(
            "Days of history kept before the last complete day (180 keeps 181 dates, as pypistats.org); "
            "unset keeps every day. Older days are hidden at once and dropped a whole period at a time."
        ),
    )
    stream_retention_days: int = Field(
        187,
        ge=1,
        le=3660,
        description=(
            "Days the JetStream downloads stream keeps package-day events: what `aggregator replay` can "
            "rebuild without the source (older history is rebuilt with `ingest backfill`)."
        ),
    )
    ops_host: str = Field("0.0.0.0", description="Bind address of the HTTP/ops server.")
    allow_loopback_services: bool = Field(
        False,
        description="Production only: allow DATABASE_URL/REDIS_URL/NATS_URL on loopback or a local socket (one-box installs).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _FileSecretsSource(settings_cls), file_secret_settings)

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "production"
        return self.log_format == "json"

    @property
    def redis_prefix(self) -> str:
        return f"{self.namespace}:" if self.namespace else "pypistats:"

    def production_problems(self) -> list[str]:
        """What makes this configuration unfit for ``ENV=production`` (one sentence each).

        Subclasses extend the list with their own rules.
        """
        problems: list[str] = []
        for name in ("database_url", "redis_url", "nats_url"):
            problem = _local_server_problem(getattr(self, name), self.allow_loopback_services)
            if problem:
                problems.append(f"{name.upper()} {problem}")
        return problems


def _local_server_problem(url: str, allow_loopback: bool) -> str | None:
    """Why ``url`` points at an embedded (or, unless allowed, loopback) server, or None."""
    for single in url.split(","):
        parts = urlsplit(single.strip())
        socket_dirs = parse_qs(parts.query).get("host", [])
        if not parts.hostname and socket_dirs:
            directory = socket_dirs[0]
            if "/.run/" in directory:
                return "points at the embedded server of the local stack (a socket in .run/)"
            if not allow_loopback and (
                directory.startswith(tempfile.gettempdir()) or "pgserver" in directory
            ):
                return "points at an embedded server (a socket in a temporary folder)"
            continue
        host = parts.hostname or ""
        if allow_loopback:
            continue
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if loopback:
            return "points at a loopback address (an embedded or local server); set ALLOW_LOOPBACK_SERVICES=true for a one-box install"
    return None


def usable_cores() -> int:
    """The cores this process may run on (at least one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # a platform without affinity masks
        return max(1, os.cpu_count() or 1)


class HttpSettings(ServiceSettings):
    """Fields of the HTTP services (api, web, auth)."""

    web_concurrency: int | None = Field(
        None,
        ge=1,
        description="Worker processes serving the HTTP port (shared.workers); unset: one per core the process may use in production (ENV=production), one otherwise. The Helm chart sets 1 per pod.",
    )

    @property
    def workers(self) -> int:
        """``WEB_CONCURRENCY`` when set; else, in production, one per core this process may run
        on (its CPU affinity, which a container's cpuset narrows); else one."""
        if self.web_concurrency is not None:
            return self.web_concurrency
        if self.env == "production":
            return usable_cores()
        return 1


class SessionSettings(HttpSettings):
    """Fields of the services that read or write login sessions (auth writes, web reads)."""

    session_secret: SecretStr = Field(
        SecretStr(INSECURE_SESSION_SECRET),
        description="Secret that signs session cookies and OAuth state (at least 32 random characters in production).",
    )
    session_ttl_seconds: int = Field(14 * 86400, ge=60, description="Lifetime of a login session.")
    cookie_secure: bool = Field(
        False, description="Mark the session cookie Secure (HTTPS only); defaults to true in production."
    )

    @model_validator(mode="after")
    def _secure_cookies_in_production(self) -> SessionSettings:
        if self.env == "production" and "cookie_secure" not in self.model_fields_set:
            object.__setattr__(self, "cookie_secure", True)
        return self

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        secret = self.session_secret.get_secret_value()
        if secret == INSECURE_SESSION_SECRET or not secret:
            problems.append("SESSION_SECRET is missing (the built-in local default is not allowed)")
        elif len(secret) < MIN_SECRET_LENGTH or len(set(secret)) < 10:
            problems.append(f"SESSION_SECRET is weak (use at least {MIN_SECRET_LENGTH} random characters)")
        if not self.cookie_secure:
            problems.append("COOKIE_SECURE=false: session cookies must be Secure in production")
        return problems


def reads_elsewhere(database_url: str, read_database_url: str) -> bool:
    """Whether ``read_database_url`` names another server than ``database_url`` (then reads are
    checked against the cache version's WAL position; otherwise there is one pool and no check)."""
    return bool(read_database_url) and read_database_url != database_url


class ReadReplicaSettings(HttpSettings):
    """Fields of the services that only read the rollups (api, web): where they read from.

    ``DATABASE_URL`` stays the primary (a read-only role on it, where the deployment has one);
    ``READ_DATABASE_URL`` names a streaming replica. shared.db.replica says how a lagging replica
    is kept out of the caches.
    """

    read_database_url: str = Field(
        "",
        description="PostgreSQL DSN of a read replica (or a service balancing over replicas) the service reads from; empty means DATABASE_URL. Bodies are cached only when built on a server that has replayed the cache version's WAL position.",
    )
    replica_wait_seconds: float = Field(
        0.5,
        ge=0,
        le=30,
        description="With READ_DATABASE_URL: how long reads wait, per cache version, for the replica to replay the version's WAL position before reading from the primary (DATABASE_URL) instead.",
    )
    primary_pool_size: int = Field(
        2,
        ge=1,
        le=100,
        description="With READ_DATABASE_URL: connections to DATABASE_URL for the reads a lagging replica cannot serve (opened on demand).",
    )

    @property
    def separate_reads(self) -> bool:
        """Whether reads go to another server than ``DATABASE_URL``."""
        return reads_elsewhere(self.database_url, self.read_database_url)

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.read_database_url:
            problem = _local_server_problem(self.read_database_url, self.allow_loopback_services)
            if problem:
                problems.append(f"READ_DATABASE_URL {problem}")
        return problems


S = TypeVar("S", bound=ServiceSettings)


def load_settings(cls: type[S], argv_env: dict[str, str] | None = None) -> S:
    """Build ``cls`` from the environment; on a bad value or an unsafe production profile, print one
    clear line per problem to stderr and exit with code 2."""
    try:
        settings = cls(**(argv_env or {}))  # type: ignore[arg-type]
    except (ValidationError, ValueError) as exc:
        for line in _validation_lines(exc):
            print(f"configuration error: {line}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_CONFIG) from None
    if settings.env == "production":
        problems = settings.production_problems()
        if problems:
            for problem in problems:
                print(f"configuration error: {problem}", file=sys.stderr)
            raise SystemExit(EXIT_BAD_CONFIG)
    return settings


def _validation_lines(exc: Exception) -> list[str]:
    if isinstance(exc, ValidationError):
        return [
            f"{'.'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        ]
    return [str(exc)]


def redacted(settings: ServiceSettings) -> dict[str, Any]:
    """The effective configuration with every secret replaced by ``**********``."""
    out: dict[str, Any] = {}
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "**********" if value.get_secret_value() else ""
        elif isinstance(value, str) and name.endswith("_url"):
            value = ",".join(strip_password(u) for u in value.split(","))
        out[name.upper()] = value
    return out


def strip_password(url: str) -> str:
    """``url`` without its password, for log lines."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":**********@")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


#: Entry points that are not services (left out of "all" in the table, never `check`ed as one).
TOOLS = frozenset({"devstack"})


def registered_settings() -> dict[str, type[BaseSettings]]:
    """Every settings class, by service name (entry points, so shared imports no service)."""
    found: dict[str, type[BaseSettings]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found[ep.name] = ep.load()
    return dict(sorted(found.items()))


def configuration_table(classes: dict[str, type[BaseSettings]] | None = None) -> str:
    """The Markdown of docs/configuration.md, generated from the settings classes."""
    classes = registered_settings() if classes is None else classes
    rows: dict[str, dict[str, Any]] = {}
    for service, cls in classes.items():
        for name in cls.model_fields:
            row = rows.setdefault(name.upper(), {"services": [], "classes": []})
            row["services"].append(service)
            row["classes"].append(cls)
    lines = [
        "# Configuration",
        "",
        "Every environment variable, generated from the settings classes by `python -m shared.config docs`",
        "(a test fails when this file is stale or when code reads a variable listed nowhere here).",
        "Any variable `NAME` can instead be given as a file: `NAME_FILE=/path` (how Kubernetes mounts secrets).",
        "`python -m shared.config check --service NAME` validates the environment of a service and prints the",
        "effective configuration with secrets redacted. With `ENV=production` a service refuses to start",
        "(exit code 2, one line per problem) when a secret is missing or weak, the fake GitHub would be used,",
        "a URL points at an embedded or loopback server, or a proxy setting is missing.",
        "",
        "| variable | services | default (local, test) | default (production) | secret | description |",
        "|---|---|---|---|---|---|",
    ]
    all_services = set(classes) - TOOLS
    for var in sorted(rows):
        row = rows[var]
        name = var.lower()
        field: FieldInfo = row["classes"][0].model_fields[name]
        services = (
            "all" + "".join(f", {t}" for t in row["services"] if t in TOOLS)
            if all_services <= set(row["services"])
            else ", ".join(f"{t} (`make run`)" if t in TOOLS else t for t in row["services"])
        )
        secret = "yes" if field.annotation is SecretStr else "no"
        local, production = (_per_service(row, name, profile) for profile in ("local", "production"))
        descriptions = sorted({(c.model_fields[name].description or "") for c in row["classes"]})
        description = " / ".join(descriptions).replace("|", "\\|")
        lines.append(f"| `{var}` | {services} | {local} | {production} | {secret} | {description} |")
    lines += ["", "## Outside the services", "", "| variable | used by | description |", "|---|---|---|"]
    for var, (where, description) in sorted(OTHER_VARIABLES.items()):
        lines.append(f"| `{var}` | {where} | {description} |")
    return "\n".join(lines) + "\n"


def _per_service(row: dict[str, Any], name: str, profile: str) -> str:
    """One default, or ``service: default`` pairs where the services' defaults differ."""
    texts = [_default_text(cls, name, profile) for cls in row["classes"]]
    pairs = list(zip(row["services"], texts, strict=True))
    if len(set(texts)) == len(texts) > 1:
        return "; ".join(f"{service}: {text}" for service, text in pairs)
    common = max(set(texts), key=texts.count)
    exceptions = "; ".join(f"{service}: {text}" for service, text in pairs if text != common)
    return f"{common} ({exceptions})" if exceptions else common


def _default_text(cls: type[BaseSettings], name: str, profile: str) -> str:
    field = cls.model_fields[name]
    if field.annotation is SecretStr:
        default = field.get_default(call_default_factory=True)
        value = default.get_secret_value() if isinstance(default, SecretStr) else default
        if name == "session_secret":
            return "built-in insecure value" if profile != "production" else "required"
        return f"`{value}`" if value else "(empty)"
    value = field.get_default(call_default_factory=True)
    if name == "cookie_secure":
        value = profile == "production"
    if name == "log_format":
        return "`auto` (console)" if profile != "production" else "`auto` (JSON)"
    if value in ("", None):
        return "(empty)"
    return f"`{value}`"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.config")
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("check", help="validate the environment and print the effective configuration")
    check.add_argument("--service", help="service name (default: the settings common to all)")
    sub.add_parser("docs", help="print docs/configuration.md")
    args = parser.parse_args(argv)
    if args.command == "docs":
        sys.stdout.write(configuration_table())
        return 0
    classes = {k: v for k, v in registered_settings().items() if k not in TOOLS}
    if args.service and args.service not in classes:
        print(
            f"configuration error: unknown service {args.service!r} (known: {', '.join(classes)})",
            file=sys.stderr,
        )
        return EXIT_BAD_CONFIG
    cls = classes[args.service] if args.service else ServiceSettings
    assert issubclass(cls, ServiceSettings)
    settings = load_settings(cls)
    for key, value in redacted(settings).items():
        print(f"{key}={value}")
    print(f"configuration ok ({args.service or 'common'}, profile {settings.env})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    from shared.config import main as _main  # the importable module, not this __main__ copy

    sys.exit(_main())
