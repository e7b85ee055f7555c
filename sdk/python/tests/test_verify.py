"""verify: the answers a service relies on, and the cache in front of them."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import Server, eventually, unique

from tessera_client import CreatedToken, Tessera, TesseraError, VerifyResult

READ = ("flag:read", "proj/web:flag/checkout")
UPDATE = ("flag:update", "proj/web:flag/checkout")


@pytest.fixture
def fresh(server: Server) -> Tessera:
    """A client without a token (verify needs none) and without a cache."""
    return Tessera(url=server.url, cache_ttl=0)


def test_valid_token_and_who_it_belongs_to(fresh: Tessera, flag_reader: CreatedToken) -> None:
    answer = fresh.verify(flag_reader.token)
    assert answer == VerifyResult(valid=True, code="valid", allowed=None, token=answer.token)
    assert answer.ok
    assert answer.token is not None
    assert answer.token.id == flag_reader.id
    assert answer.token.name == flag_reader.name
    assert answer.token.member == flag_reader.member_id
    assert answer.token.org == "acme"
    assert answer.token.projects == []
    assert answer.token.expires_at == datetime(2099, 1, 1, tzinfo=timezone.utc)


def test_a_service_accounts_token_names_the_account(server: Server, fresh: Tessera) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {server.owner_token}"}
    with httpx.Client(base_url=f"{server.url}/api/v1", headers=auth) as api:
        account = api.post("/service-accounts", json={"name": unique("ci"), "role": "reader"})
        assert account.status_code == 201, account.text
        created = api.post(f"/service-accounts/{account.json()['id']}/tokens", json={"name": "deploy"})
        assert created.status_code == 201, created.text
    answer = fresh.verify(created.json()["token"], *READ)
    assert (answer.valid, answer.allowed) == (True, True)
    assert answer.token is not None
    assert answer.token.member is None
    assert answer.token.service_account is not None
    assert answer.token.service_account.id == account.json()["id"]
    assert answer.token.service_account.name == account.json()["name"]


def test_allowed_and_not_allowed(fresh: Tessera, flag_reader: CreatedToken) -> None:
    allowed = fresh.verify(flag_reader.token, *READ)
    assert (allowed.valid, allowed.allowed, allowed.ok) == (True, True, True)
    refused = fresh.verify(flag_reader.token, *UPDATE)
    assert (refused.valid, refused.code, refused.allowed, refused.ok) == (True, "valid", False, False)
    assert refused.token is not None  # still says whose token it is


@pytest.mark.parametrize(
    ("presented", "code"),
    [("not-a-token", "malformed_token"), ("tsr_" + "A" * 60, "malformed_token")],
)
def test_malformed_tokens(fresh: Tessera, presented: str, code: str) -> None:
    answer = fresh.verify(presented, *READ)
    assert (answer.valid, answer.code, answer.allowed, answer.token) == (False, code, False, None)


def test_unknown_secret_is_invalid(fresh: Tessera, owner: Tessera) -> None:
    created = owner.tokens.create(name=unique("deleted"))
    owner.tokens.delete(created.id)
    answer = fresh.verify(created.token)
    assert (answer.valid, answer.code, answer.token) == (False, "invalid_token", None)


def test_a_malformed_question_is_an_error(fresh: Tessera, flag_reader: CreatedToken) -> None:
    with pytest.raises(TesseraError) as caught:
        fresh.verify(flag_reader.token, action="flag:read")  # resource missing
    assert (caught.value.status, caught.value.code) == (400, "bad_request")


def test_ip_is_recorded_as_last_used(server: Server, owner: Tessera, flag_reader: CreatedToken) -> None:
    """Needs a server whose /verify accepts `ip` (SPEC Part 2, Usage and limits)."""
    with Tessera(url=server.url, cache_ttl=0) as tessera:
        assert tessera.verify(flag_reader.token, ip="203.0.113.7").valid
        assert eventually(lambda: owner.tokens.get(flag_reader.id).last_used_ip == "203.0.113.7")
        assert tessera.verify(flag_reader.token, ip="2001:db8::1").valid
        assert eventually(lambda: owner.tokens.get(flag_reader.id).last_used_ip == "2001:db8::1")


# -- the cache


def test_revocation_shows_after_the_ttl_or_in_a_fresh_client(
    server: Server, owner: Tessera, flag_reader: CreatedToken
) -> None:
    with Tessera(url=server.url, cache_ttl=0.5) as cached:
        assert cached.verify(flag_reader.token, *READ).valid
        owner.tokens.delete(flag_reader.id)
        # Within the TTL the answer is reused: no round trip, still valid.
        assert cached.verify(flag_reader.token, *READ).valid
        # A fresh client asks Tessera.
        with Tessera(url=server.url) as fresh:
            assert fresh.verify(flag_reader.token, *READ).code == "invalid_token"
        # Another question is another cache entry.
        assert cached.verify(flag_reader.token).code == "invalid_token"
        time.sleep(0.6)
        assert cached.verify(flag_reader.token, *READ).code == "invalid_token"


def test_ttl_zero_asks_every_time(server: Server, owner: Tessera, flag_reader: CreatedToken) -> None:
    with Tessera(url=server.url, cache_ttl=0) as uncached:
        assert uncached.verify(flag_reader.token).valid
        owner.tokens.delete(flag_reader.id)
        assert uncached.verify(flag_reader.token).code == "invalid_token"


def test_clear_cache(server: Server, owner: Tessera, flag_reader: CreatedToken) -> None:
    with Tessera(url=server.url, cache_ttl=30) as cached:
        assert cached.verify(flag_reader.token).valid
        owner.tokens.delete(flag_reader.id)
        assert cached.verify(flag_reader.token).valid
        cached.clear_cache()
        assert cached.verify(flag_reader.token).code == "invalid_token"


def test_default_ttl_is_short_but_on(server: Server) -> None:
    with Tessera(url=server.url) as tessera:
        assert 5 <= tessera._cache.ttl <= 60


def test_cache_keys_are_hashes_not_tokens(server: Server, flag_reader: CreatedToken) -> None:
    with Tessera(url=server.url, cache_ttl=30) as tessera:
        tessera.verify(flag_reader.token)
        tessera.verify(flag_reader.token, *READ)
        tessera.verify(flag_reader.token, *READ, ip="203.0.113.7")
        entries = tessera._cache._entries
        assert len(entries) == 3
        assert all(isinstance(k, bytes) and len(k) == 32 for k in entries)
        assert flag_reader.token not in repr(entries)


def test_errors_are_not_cached(server: Server, flag_reader: CreatedToken) -> None:
    with Tessera(url=server.url, cache_ttl=30) as tessera:
        for _ in range(2):
            with pytest.raises(TesseraError):
                tessera.verify(flag_reader.token, resource="proj/web")
        assert len(tessera._cache) == 0


def test_a_cached_answer_never_outlives_the_token(server: Server, owner: Tessera) -> None:
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=2)
    short = owner.tokens.create(name=unique("short"), expires_at=expires)
    with Tessera(url=server.url, cache_ttl=30) as tessera:
        assert tessera.verify(short.token).valid
        time.sleep(max(0.0, (expires - datetime.now(timezone.utc)).total_seconds()) + 0.3)
        assert tessera.verify(short.token).code == "token_expired"
