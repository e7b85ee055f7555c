"""The asynchronous client, `AsyncTessera`: `Tessera` with `await`.

Only the sending differs; every call, request and answer comes from
`_core`, and the cache is the same class.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TypeVar

import httpx

from . import _core
from ._cache import DEFAULT_CACHE_SIZE, DEFAULT_CACHE_TTL, VerifyCache
from ._client import DEFAULT_TIMEOUT, check_timeout
from ._config import Config
from ._errors import unavailable
from ._models import JSON, CreatedToken, Token, VerifyResult

__all__ = ["AsyncTessera", "AsyncTokens"]

T = TypeVar("T")


class AsyncTessera:
    """The async twin of `Tessera`, for asyncio apps (FastAPI, Starlette, ...).

    Same arguments, same environment variables, same cache semantics;
    methods are coroutines. Close it with `await client.aclose()` or
    `async with`. It may be used from several event loops one after another
    (each gets its own connection pool), as test clients do.
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
        # Made on first use, in the running event loop (see `_client`).
        self._http: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.tokens = AsyncTokens(self)

    @property
    def url(self) -> str:
        return self._config.url

    def __repr__(self) -> str:
        token = "<redacted>" if self._config.token is not None else None
        return f"AsyncTessera(url={self.url!r}, token={token!s})"

    async def verify(
        self,
        token: str,
        action: str | None = None,
        resource: str | None = None,
        ip: str | None = None,
    ) -> VerifyResult:
        """See `Tessera.verify`."""
        key = self._cache.key(token, action, resource, ip)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        answer = await self._send(_core.verify(token, action, resource, ip))
        self._cache.put(key, answer)
        return answer

    def clear_cache(self) -> None:
        """Forgets every cached `verify` answer."""
        self._cache.clear()

    async def aclose(self) -> None:
        if self._http is not None and self._loop is asyncio.get_running_loop():
            await self._http.aclose()
        self._http = None
        self._loop = None

    async def __aenter__(self) -> AsyncTessera:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _client(self) -> httpx.AsyncClient:
        """The connection pool of the running event loop.

        Connections belong to the loop that opened them. An app run in
        several loops one after another (a test client per test, say) would
        otherwise reuse a connection of a closed loop and fail, so a new loop
        gets a new pool; the old one went with its loop.
        """
        loop = asyncio.get_running_loop()
        if self._http is None or self._loop is not loop:
            # Redirects are not followed: a credential is never replayed elsewhere.
            self._http = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
            self._loop = loop
        return self._http

    async def _send(self, call: _core.Call[T]) -> T:
        request = _core.build_request(self._config, call)
        try:
            response = await self._client().send(request)
        except httpx.HTTPError as exc:
            raise unavailable(self.url, exc, self._timeout) from exc
        return _core.handle_response(call, response)


class AsyncTokens:
    """The token API, as coroutines. See `Tokens`."""

    def __init__(self, client: AsyncTessera) -> None:
        self._client = client

    async def list(self) -> builtins.list[Token]:
        return await self._client._send(_core.list_tokens())

    async def get(self, id: str) -> Token:
        return await self._client._send(_core.get_token(id))

    async def create(
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
        return await self._client._send(
            _core.create_token(
                name, role=role, custom_roles=custom_roles, policy=policy,
                projects=projects, expires_at=expires_at, allowed_ips=allowed_ips,
                rate_limit=rate_limit, quota=quota,
            )
        )

    async def rotate(
        self, id: str, *, expires_at: datetime | str, grace_period_seconds: int | None = None
    ) -> CreatedToken:
        return await self._client._send(
            _core.rotate_token(id, expires_at=expires_at, grace_period_seconds=grace_period_seconds)
        )

    async def delete(self, id: str) -> None:
        await self._client._send(_core.delete_token(id))
