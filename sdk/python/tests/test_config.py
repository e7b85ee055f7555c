"""Where the client finds its server and token, and what it never shows."""

from __future__ import annotations

import pytest
from conftest import Server, closed_port_url, unique

from tessera_client import Tessera, TesseraConfigError, TesseraError


def test_reads_url_and_token_from_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    monkeypatch.setenv("TESSERA_TOKEN", server.owner_token + "\n")  # as $(cat file) leaves it
    with Tessera() as tessera:
        assert tessera.url == server.url
        names = [t.name for t in tessera.tokens.list()]
        assert "created by tessera init" in names
        assert tessera.verify(server.owner_token).valid


def test_arguments_win_over_the_environment(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", closed_port_url())
    monkeypatch.setenv("TESSERA_TOKEN", "tsr_not-a-token")
    with Tessera(token=server.owner_token, url=server.url + "/") as tessera:
        assert tessera.url == server.url
        assert tessera.tokens.list()


def test_no_url_anywhere_is_a_clear_error() -> None:
    with pytest.raises(TesseraConfigError) as caught:
        Tessera()
    assert caught.value.code == "missing_url"
    assert "TESSERA_URL" in caught.value.message
    assert isinstance(caught.value, TesseraError)


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", "  ")
    with pytest.raises(TesseraConfigError):
        Tessera()


def test_verify_needs_no_token_but_the_token_api_does(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    with Tessera() as tessera:
        assert tessera.verify(server.owner_token).valid
        with pytest.raises(TesseraConfigError) as caught:
            tessera.tokens.list()
        assert caught.value.code == "missing_token"
        assert "TESSERA_TOKEN" in caught.value.message


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "127.0.0.1:8080", "http://user:pw@example.com", "http://h/?q=1"]
)
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(TesseraConfigError) as caught:
        Tessera(url=url)
    assert caught.value.code == "invalid_url"
    assert "pw" not in str(caught.value)


def test_cache_ttl_is_bounded() -> None:
    with pytest.raises(ValueError):
        Tessera(url="http://127.0.0.1:1", cache_ttl=61)
    with pytest.raises(ValueError):
        Tessera(url="http://127.0.0.1:1", cache_ttl=-1)


def test_secrets_stay_out_of_reprs_and_errors(server: Server, owner: Tessera) -> None:
    secret = server.owner_token
    with Tessera(token=secret, url=server.url) as tessera:
        assert secret not in repr(tessera)
        assert "<redacted>" in repr(tessera)
        created = tessera.tokens.create(name=unique("repr"))
        assert created.token.startswith("tsr_")
        assert created.token not in repr(created)
        assert created.token not in str(created)
        with pytest.raises(TesseraError) as caught:
            tessera.tokens.create(name=created.name)
        assert secret not in str(caught.value) and secret not in repr(caught.value)
        owner.tokens.delete(created.id)


def test_unreachable_server_is_a_tessera_error_not_an_httpx_one() -> None:
    with Tessera(token="tsr_whatever", url=closed_port_url()) as tessera:
        with pytest.raises(TesseraError) as caught:
            tessera.verify("tsr_whatever")
        assert caught.value.code == "unavailable"
        assert caught.value.status is None
        assert "tsr_whatever" not in str(caught.value)
        with pytest.raises(TesseraError) as caught:
            tessera.tokens.list()
        assert caught.value.code == "unavailable"
