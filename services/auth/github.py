"""GitHub as an OAuth2 identity provider: the provider protocol and its authlib implementation.

Owns the two steps of the authorization-code flow the auth service needs: building the authorize
URL for a state, and turning a callback code into the GitHub user (token exchange, then ``GET /user``).
The access token lives only inside :meth:`AuthlibGitHub.fetch_user` and is dropped when it
returns: nothing stores it. :func:`parse_user` is the pure core that validates GitHub's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx2 as httpx  # the HTTP client authlib uses (a dependency; plain httpx is authlib's deprecated fallback)
from authlib.integrations.base_client import OAuthError
from authlib.integrations.httpx_client import AsyncOAuth2Client

MAX_FIELD_LENGTH = 1000


@dataclass(frozen=True)
class GitHubUser:
    id: int
    login: str
    name: str | None
    avatar_url: str | None


class OAuthRefused(Exception):
    """GitHub refused the code (unknown, used, expired, wrong client) or answered nonsense: a 4xx."""


class OAuthUnavailable(Exception):
    """GitHub could not be reached or failed: a 502, the user may retry."""


class OAuthProvider(Protocol):
    def authorize_url(self, state: str, redirect_uri: str) -> str:
        """Where to send the browser to ask the user for consent."""
        ...

    async def fetch_user(self, code: str, redirect_uri: str) -> GitHubUser:
        """Exchange ``code`` and read the user; raises OAuthRefused or OAuthUnavailable."""
        ...


def parse_user(body: Any) -> GitHubUser:
    """Validate GitHub's ``/user`` answer; raises :class:`OAuthRefused` on anything unexpected."""
    if not isinstance(body, dict):
        raise OAuthRefused("GitHub's user answer is not an object")
    user_id, login = body.get("id"), body.get("login")
    if not isinstance(user_id, int) or isinstance(user_id, bool) or user_id <= 0:
        raise OAuthRefused("GitHub's user answer has no valid id")
    if not isinstance(login, str) or not login or len(login) > MAX_FIELD_LENGTH:
        raise OAuthRefused("GitHub's user answer has no valid login")
    return GitHubUser(
        id=user_id,
        login=login,
        name=_optional(body.get("name")),
        avatar_url=_optional(body.get("avatar_url")),
    )


def _optional(value: Any) -> str | None:
    if isinstance(value, str) and value and len(value) <= MAX_FIELD_LENGTH:
        return value
    return None


class AuthlibGitHub:
    """The real provider: authlib's async httpx client against GitHub (or the fake, over HTTP).

    One OAuth client per login (it holds that login's token), all sharing one HTTP transport, so
    connections and the TLS context are set up once, not per login. Call :meth:`aclose` at exit.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        authorize_endpoint: str,
        token_endpoint: str,
        api_url: str,
        timeout: float = 10.0,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.authorize_endpoint = authorize_endpoint
        self.token_endpoint = token_endpoint
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._transport: httpx.AsyncHTTPTransport | None = None
        self._url_builder: AsyncOAuth2Client | None = None

    def _client(self, redirect_uri: str | None = None) -> AsyncOAuth2Client:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport()
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            redirect_uri=redirect_uri,
            timeout=self.timeout,
            follow_redirects=False,
            transport=self._transport,
            trust_env=False,
        )

    def authorize_url(self, state: str, redirect_uri: str) -> str:
        # Building the URL does no I/O and keeps no per-login state: one client serves every login.
        if self._url_builder is None:
            self._url_builder = self._client()
        url, _ = self._url_builder.create_authorization_url(
            self.authorize_endpoint, state=state, redirect_uri=redirect_uri
        )
        return str(url)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    async def fetch_user(self, code: str, redirect_uri: str) -> GitHubUser:
        client = self._client(redirect_uri)  # not closed per login: that would close the shared transport
        try:
            await client.fetch_token(self.token_endpoint, code=code, grant_type="authorization_code")
            response = await client.get(
                f"{self.api_url}/user",
                headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"},
            )
        except OAuthError as exc:
            raise OAuthRefused(f"GitHub refused the code: {exc.error}") from exc
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code >= 500:
                raise OAuthUnavailable(f"GitHub answered {exc.response.status_code}") from exc
            raise OAuthRefused(f"GitHub answered {exc.response.status_code}") from exc
        except ValueError as exc:  # a token answer that is not a JSON object
            raise OAuthRefused("GitHub's token answer is not JSON") from exc
        except httpx.HTTPError as exc:
            raise OAuthUnavailable(f"GitHub is unreachable: {type(exc).__name__}") from exc
        finally:
            client.token = None  # never kept beyond this call
        if response.status_code >= 500:
            raise OAuthUnavailable(f"GitHub's /user answered {response.status_code}")
        if response.status_code != 200:
            raise OAuthRefused(f"GitHub's /user answered {response.status_code}")
        try:
            body = response.json()
        except ValueError as exc:
            raise OAuthRefused("GitHub's /user answer is not JSON") from exc
        return parse_user(body)
