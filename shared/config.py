"""Settings shared by every service, read from the environment with pydantic-settings.

Owns the base settings class and the fields every service has (profile, logging, service URLs,
namespace, retention). Each service subclasses :class:`ServiceSettings` in its own ``config.py``
and builds it in ``main()``; nothing here reads the environment at import time. The table of every
environment variable lives in ``docs/configuration.md`` and a test keeps it complete.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

Profile = Literal["local", "test", "production"]


class ServiceSettings(BaseSettings):
    """Fields common to every service. Env var names are the upper-cased field names."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    env: Profile = Field("local", description="Deployment profile: local, test or production.")
    log_level: str = Field("INFO", description="Log level (DEBUG, INFO, WARNING, ERROR).")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="Log format; auto means JSON in production, console elsewhere."
    )
    database_url: str = Field("postgresql://postgres@127.0.0.1:5432/pypistats", description="PostgreSQL DSN.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis URL.")
    nats_url: str = Field("nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated.")
    namespace: str = Field(
        "",
        description="Prefix for NATS subjects/streams and Redis keys, to run several stacks on one server.",
    )
    retention_days: int = Field(
        180, ge=1, le=3660, description="Days of history kept after the last complete day."
    )
    ops_host: str = Field("0.0.0.0", description="Bind address of the HTTP/ops server.")

    @property
    def json_logs(self) -> bool:
        if self.log_format == "auto":
            return self.env == "production"
        return self.log_format == "json"

    @property
    def redis_prefix(self) -> str:
        return f"{self.namespace}:" if self.namespace else "pypistats:"


#: The local/test default; the production profile refuses it.
INSECURE_SESSION_SECRET = "insecure-local-session-secret-change-me"


class SessionSettings(ServiceSettings):
    """Fields of the services that read or write login sessions (auth writes, web reads)."""

    session_secret: SecretStr = Field(
        SecretStr(INSECURE_SESSION_SECRET),
        description="Secret that signs session cookies and OAuth state (at least 32 random characters in production).",
    )
    session_ttl_seconds: int = Field(14 * 86400, ge=60, description="Lifetime of a login session.")
    cookie_secure: bool = Field(False, description="Mark the session cookie Secure (HTTPS only).")
