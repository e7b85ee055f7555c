"""AsyncTessera: the same behaviour as Tessera, with await."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from conftest import FLAG_READER, Server, closed_port_url, unique

from tessera_client import AsyncTessera, CreatedToken, TesseraConfigError, TesseraError


def run(test: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(test())


def test_environment_and_repr(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    monkeypatch.setenv("TESSERA_TOKEN", server.owner_token)

    async def check() -> None:
        async with AsyncTessera() as tessera:
            assert server.owner_token not in repr(tessera)
            assert [t for t in await tessera.tokens.list() if t.name == "created by tessera init"]

    run(check)
    monkeypatch.delenv("TESSERA_URL")
    with pytest.raises(TesseraConfigError):
        AsyncTessera()


def test_verify_and_its_cache(server: Server) -> None:
    async def check() -> None:
        async with AsyncTessera(token=server.owner_token, url=server.url, cache_ttl=30) as tessera:
            created = await tessera.tokens.create(name=unique("async"), policy=FLAG_READER)
            allowed = await tessera.verify(created.token, "flag:read", "proj/web:flag/x")
            assert (allowed.valid, allowed.allowed) == (True, True)
            refused = await tessera.verify(created.token, "flag:update", "proj/web:flag/x")
            assert (refused.valid, refused.allowed) == (True, False)
            assert allowed.token is not None and allowed.token.id == created.id

            await tessera.tokens.delete(created.id)
            cached = await tessera.verify(created.token, "flag:read", "proj/web:flag/x")
            assert cached.valid  # within the TTL
            async with AsyncTessera(url=server.url) as fresh:
                assert (await fresh.verify(created.token)).code == "invalid_token"
            tessera.clear_cache()
            assert (await tessera.verify(created.token)).code == "invalid_token"

    run(check)


def test_token_api_round_trip_and_errors(server: Server) -> None:
    async def check() -> None:
        async with AsyncTessera(token=server.owner_token, url=server.url) as tessera:
            created = await tessera.tokens.create(name=unique("async"), expires_at="2099-01-01T00:00:00Z")
            assert isinstance(created, CreatedToken)
            assert created.id in {t.id for t in await tessera.tokens.list()}
            with pytest.raises(TesseraError) as caught:
                await tessera.tokens.create(name=created.name)
            assert (caught.value.status, caught.value.code) == (409, "already_exists")
            rotated = await tessera.tokens.rotate(created.id, expires_at="2099-02-01T00:00:00Z")
            assert rotated.token != created.token
            await tessera.tokens.delete(created.id)
            with pytest.raises(TesseraError) as caught:
                await tessera.tokens.delete(created.id)
            assert (caught.value.status, caught.value.code) == (404, "not_found")

    run(check)


def test_bad_credential_and_unreachable(server: Server) -> None:
    async def check() -> None:
        async with AsyncTessera(token="tsr_nope", url=server.url) as tessera:
            with pytest.raises(TesseraError) as caught:
                await tessera.tokens.list()
            assert caught.value.status == 401
            assert caught.value.code in ("invalid_token", "unauthenticated")
        async with AsyncTessera(url=closed_port_url()) as tessera:
            with pytest.raises(TesseraError) as caught:
                await tessera.verify("tsr_nope")
            assert (caught.value.code, caught.value.status) == ("unavailable", None)

    run(check)


def test_one_client_in_several_event_loops(server: Server) -> None:
    """As with a test client per test: each loop gets its own connection pool."""
    tessera = AsyncTessera(url=server.url, cache_ttl=0)

    async def check() -> None:
        assert (await tessera.verify(server.owner_token)).valid

    run(check)
    run(check)

    async def close() -> None:
        await tessera.aclose()

    run(close)
