"""The synchronous client, `Tessera`."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from . import _core
from ._cache import DEFAULT_CACHE_SIZE, DEFAULT_CACHE_TTL, VerifyCache
from ._config import Config
from ._errors import unavailable
from ._models import JSON, CreatedToken, Token, VerifyResult

__all__ = ["Tessera", "Tokens", "DEFAULT_TIMEOUT", "check_timeout"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0
"""Seconds allowed for each network step of a request to Tessera.

Connecting, sending, and each wait for (more of) the answer: a server that
accepts the connection but never answers fails after `timeout` seconds
with `unavailable`.
"""


def check_timeout(timeout: float) -> float:
    """A timeout as httpx wants it; 0, negative or infinite would mean "wait forever"."""
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout < float("inf"):
        raise ValueError("timeout must be a finite number of seconds > 0")
    return float(timeout)


class Tessera:
    """A client of one Tessera server.

    `Tessera()` reads `TESSERA_URL` (required) and `TESSERA_TOKEN` from the
    environment; arguments given win over the environment. The token is only
    needed for the token API: `verify` sends none.

    `cache_ttl` is how many seconds a `verify` answer is reused (0 turns the
    cache off, at most 60). The client is thread-safe; reuse one per process
    and close it with `close()` or a `with` block.
    """

    def __init__(
        self,
        token: str | None = None,
        url: str | None = None,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        cache_max_entries: int = DEFAULT_CACHE_SIZE,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._config = Config.resolve(token, url)
        self._cache = VerifyCache(cache_ttl, cache_max_entries)
        self._timeout = check_timeout(timeout)
        # Redirects are not followed: a credential is never replayed elsewhere.
        self._http = httpx.Client(timeout=self._timeout, follow_redirects=False)
        self.tokens = Tokens(self)

    @property
    def url(self) -> str:
        return self._config.url

    def __repr__(self) -> str:
        token = "<redacted>" if self._config.token is not None else None
        return f"Tessera(url={self.url!r}, token={token!s})"

    def verify(
        self,
        token: str,
        action: str | None = None,
        resource: str | None = None,
        ip: str | None = None,
    ) -> VerifyResult:
        """Asks Tessera whether `token` is valid (and may do `action` on `resource`).

        `ip` is the address the token was presented from, recorded by Tessera
        as the token's last-used IP. Answers are reused for `cache_ttl`
        seconds; errors (`TesseraError`) are never cached.
        """
        key = self._cache.key(token, action, resource, ip)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        answer = self._send(_core.verify(token, action, resource, ip))
        self._cache.put(key, answer)
        return answer

    def clear_cache(self) -> None:
        """Forgets every cached `verify` answer (e.g. right after revoking a token)."""
        self._cache.clear()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Tessera:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: _core.Call[T]) -> T:
        request = _core.build_request(self._config, call)
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise unavailable(self.url, exc, self._timeout) from exc
        return _core.handle_response(call, response)


class Tokens:
    """The token API (`/tokens`), authenticated with the client's own token."""

    def __init__(self, client: Tessera) -> None:
        self._client = client

    def list(self) -> builtins.list[Token]:
        """The tokens of the client's member (metadata only), newest first."""
        return self._client._send(_core.list_tokens())

    def get(self, id: str) -> Token:
        """One token's metadata; `"self"` is the client's own token."""
        return self._client._send(_core.get_token(id))

    def create(
        self,
        name: str,
        *,
        role: str | None = None,
        custom_roles: Sequence[str] | None = None,
        policy: Sequence[JSON] | None = None,
        projects: Sequence[str] | None = None,
        expires_at: datetime | str | None = None,
        allowed_ips: Sequence[str] | None = None,
        rate_limit: JSON | None = None,
        quota: JSON | None = None,
    ) -> CreatedToken:
        """Creates a token; the answer's `token` is the only time its value is shown."""
        return self._client._send(
            _core.create_token(
                name, role=role, custom_roles=custom_roles, policy=policy,
                projects=projects, expires_at=expires_at, allowed_ips=allowed_ips,
                rate_limit=rate_limit, quota=quota,
            )
        )

    def rotate(
        self, id: str, *, expires_at: datetime | str, grace_period_seconds: int | None = None
    ) -> CreatedToken:
        """Gives the token a new value (in the answer's `token`) and a new expiry."""
        return self._client._send(
            _core.rotate_token(id, expires_at=expires_at, grace_period_seconds=grace_period_seconds)
        )

    def delete(self, id: str) -> None:
        """Revokes the token at once; a second delete is a `404 not_found`."""
        self._client._send(_core.delete_token(id))
