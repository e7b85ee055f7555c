"""The token API round trip, and errors carrying the API's code and status."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from conftest import FLAG_READER, Server, unique

from tessera_client import CreatedToken, Tessera, TesseraError, Token


def test_create_list_rotate_delete(server: Server, owner: Tessera) -> None:
    name = unique("round-trip")
    expires = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=30)
    created = owner.tokens.create(name=name, role="reader", expires_at=expires)
    assert isinstance(created, CreatedToken)
    assert (created.name, created.role, created.expires_at) == (name, "reader", expires)
    assert created.token.startswith("tsr_") and created.snippet.startswith("tsr_...")
    assert created.snippet.endswith(created.token[-4:])

    listed = {t.id: t for t in owner.tokens.list()}
    assert created.id in listed
    assert isinstance(listed[created.id], Token)
    assert not hasattr(listed[created.id], "token")  # metadata only
    assert owner.tokens.get(created.id).name == name

    with Tessera(url=server.url, cache_ttl=0) as verifier:
        assert verifier.verify(created.token).valid
        rotated = owner.tokens.rotate(created.id, expires_at=expires + timedelta(days=1))
        assert rotated.id == created.id and rotated.token != created.token
        assert rotated.rotated_at is not None
        assert rotated.expires_at == expires + timedelta(days=1)
        assert verifier.verify(created.token).code == "invalid_token"  # no grace period
        assert verifier.verify(rotated.token).valid

        owner.tokens.delete(created.id)
        assert verifier.verify(rotated.token).code == "invalid_token"
    assert created.id not in {t.id for t in owner.tokens.list()}
    with pytest.raises(TesseraError) as caught:
        owner.tokens.delete(created.id)
    assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_create_with_scope_and_projects(server: Server, owner: Tessera) -> None:
    project = unique("web")
    answer = httpx.post(
        f"{server.url}/api/v1/projects", json={"key": project},
        headers={"Authorization": f"Bearer {server.owner_token}"},
    )
    assert answer.status_code == 201, answer.text
    created = owner.tokens.create(name=unique("scoped"), policy=FLAG_READER, projects=[project])
    assert created.policy == FLAG_READER and created.projects == [project]
    assert created.role is None and created.custom_roles is None and created.expires_at is None
    verified = Tessera(url=server.url, cache_ttl=0).verify(created.token)
    assert verified.token is not None and verified.token.projects == [project]
    owner.tokens.delete(created.id)


def test_rotate_with_a_grace_period_keeps_the_old_string(server: Server, owner: Tessera,
                                                         flag_reader: CreatedToken) -> None:
    rotated = owner.tokens.rotate(
        flag_reader.id, expires_at="2099-06-01T00:00:00Z", grace_period_seconds=300
    )
    with Tessera(url=server.url, cache_ttl=0) as verifier:
        assert verifier.verify(flag_reader.token).valid
        assert verifier.verify(rotated.token).valid


def test_duplicate_name_is_409_already_exists(owner: Tessera, flag_reader: CreatedToken) -> None:
    with pytest.raises(TesseraError) as caught:
        owner.tokens.create(name=flag_reader.name)
    error = caught.value
    assert (error.status, error.code) == (409, "already_exists")
    assert error.message and "already" in error.message


def test_bad_credential_is_401_invalid_token(server: Server, owner: Tessera) -> None:
    revoked = owner.tokens.create(name=unique("revoked"))
    owner.tokens.delete(revoked.id)
    with Tessera(token=revoked.token, url=server.url) as tessera:
        with pytest.raises(TesseraError) as caught:
            tessera.tokens.list()
    assert (caught.value.status, caught.value.code) == (401, "invalid_token")


def test_rules_are_422_and_limits_429(owner: Tessera, flag_reader: CreatedToken) -> None:
    with pytest.raises(TesseraError) as caught:
        owner.tokens.create(name=unique("past"), expires_at="2001-01-01T00:00:00Z")
    assert (caught.value.status, caught.value.code) == (422, "validation_failed")

    forever = owner.tokens.create(name=unique("forever"))
    with pytest.raises(TesseraError) as caught:
        owner.tokens.rotate(forever.id, expires_at="2099-01-01T00:00:00Z")
    assert (caught.value.status, caught.value.code) == (422, "not_rotatable")
    owner.tokens.delete(forever.id)

    owner.tokens.rotate(flag_reader.id, expires_at="2099-02-01T00:00:00Z")
    with pytest.raises(TesseraError) as caught:
        owner.tokens.rotate(flag_reader.id, expires_at="2099-03-01T00:00:00Z")
    assert (caught.value.status, caught.value.code) == (429, "rate_limited")
    assert caught.value.retry_after is not None and caught.value.retry_after > 0


def test_ids_are_one_path_segment(owner: Tessera) -> None:
    with pytest.raises(TesseraError) as caught:
        owner.tokens.delete("../members")
    assert (caught.value.status, caught.value.code) == (400, "bad_request")
    with pytest.raises(TesseraError) as caught:
        owner.tokens.get("3N8w9b7Evcc4k1hryShdGwQpmco")
    assert (caught.value.status, caught.value.code) == (404, "not_found")


def test_self_is_the_clients_own_token(server: Server, owner: Tessera) -> None:
    assert owner.tokens.get("self").name == "created by tessera init"


def test_naive_datetimes_are_refused_before_sending(owner: Tessera) -> None:
    with pytest.raises(ValueError):
        owner.tokens.create(name=unique("naive"), expires_at=datetime(2099, 1, 1))
