"""Settings of the auth service (env var = upper-cased field name).

Owns the GitHub OAuth application settings, the public URL the callback is built from, the fake
GitHub used when no GitHub app is configured, and the tracked-packages limit. Built in ``main()``,
never at import time.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, SecretStr

from shared.config import SessionSettings

#: The client id/secret pair the service and the fake GitHub agree on when no GitHub app is set.
FAKE_CLIENT_ID = "fake-github-client-id"
FAKE_CLIENT_SECRET = "fake-github-client-secret"  # a public constant of the local fake


class AuthSettings(SessionSettings):
    """Auth configuration on top of the common and session settings."""

    port: int = Field(8082, ge=0, le=65535, description="Port of the auth HTTP server.")
    public_url: str = Field(
        "http://127.0.0.1:8082",
        description="Base URL browsers reach the auth service at; the OAuth callback is <public_url>/auth/callback.",
    )
    github_client_id: str = Field(
        "", description="GitHub OAuth app client id; empty means log in against the fake GitHub."
    )
    github_client_secret: SecretStr = Field(SecretStr(""), description="GitHub OAuth app client secret.")
    github_authorize_url: str = Field(
        "https://github.com/login/oauth/authorize", description="GitHub's OAuth authorize endpoint."
    )
    github_token_url: str = Field(
        "https://github.com/login/oauth/access_token", description="GitHub's OAuth access-token endpoint."
    )
    github_api_url: str = Field(
        "https://api.github.com", description="GitHub REST API base URL (reads /user)."
    )
    github_timeout_seconds: float = Field(
        10.0, gt=0, le=120, description="Timeout of each request the auth service makes to GitHub."
    )
    fake_github_url: str = Field(
        "http://127.0.0.1:8083",
        description="Where the fake GitHub runs (used only when GITHUB_CLIENT_ID is empty).",
    )
    oauth_state_ttl_seconds: int = Field(
        600, ge=30, le=3600, description="How long a login may take between /auth/login and the callback."
    )
    max_tracked_packages: int = Field(
        20, ge=1, le=1000, description="Packages one user may track on the dashboard."
    )

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if not self.github_client_id or not self.github_client_secret.get_secret_value():
            problems.append(
                "GITHUB_CLIENT_ID and GITHUB_CLIENT_SECRET are required: without them the fake GitHub would be used"
            )
        if urlsplit(self.public_url).scheme != "https":
            problems.append("PUBLIC_URL must be an https URL (the session cookie is Secure in production)")
        return problems

    @property
    def uses_fake_github(self) -> bool:
        return not self.github_client_id

    @property
    def callback_url(self) -> str:
        return self.public_url.rstrip("/") + "/auth/callback"

    def oauth_endpoints(self) -> tuple[str, str, str, str, str]:
        """(client id, client secret, authorize URL, token URL, API URL) of the GitHub in use."""
        if self.uses_fake_github:
            base = self.fake_github_url.rstrip("/")
            return (
                FAKE_CLIENT_ID,
                FAKE_CLIENT_SECRET,
                f"{base}/login/oauth/authorize",
                f"{base}/login/oauth/access_token",
                base,
            )
        return (
            self.github_client_id,
            self.github_client_secret.get_secret_value(),
            self.github_authorize_url,
            self.github_token_url,
            self.github_api_url.rstrip("/"),
        )
