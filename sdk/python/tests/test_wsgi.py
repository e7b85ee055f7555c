"""TesseraMiddleware around a tiny WSGI app, called as a WSGI server would."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from conftest import FLAG_READER, Server, closed_port_url, eventually, unique

from tessera_client import CreatedToken, Tessera, VerifiedToken
from tessera_client.wsgi import TesseraMiddleware


def hello(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    token: VerifiedToken = environ["tessera.token"]
    body = json.dumps({"member": token.member, "name": token.name}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def call(app: Any, path: str = "/", token: str | None = None,
         header: str | None = None) -> tuple[int, dict[str, str], Any]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    setup_testing_defaults(environ)
    if header is not None:
        environ["HTTP_AUTHORIZATION"] = header
    elif token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = int(status.split()[0])
        seen["headers"] = {k.lower(): v for k, v in headers}

    body = b"".join(app(environ, start_response))
    return seen["status"], seen["headers"], json.loads(body)


@pytest.fixture(scope="module")
def client(server: Server) -> Tessera:
    return Tessera(url=server.url, cache_ttl=0)


@pytest.fixture(scope="module")
def reader(server: Server) -> CreatedToken:
    with Tessera(token=server.owner_token, url=server.url) as owner:
        return owner.tokens.create(name=unique("wsgi"), policy=FLAG_READER)


def test_no_token_is_401(client: Tessera) -> None:
    status, headers, body = call(TesseraMiddleware(hello, client=client))
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "unauthenticated"


def test_invalid_token_is_401(client: Tessera) -> None:
    status, headers, body = call(TesseraMiddleware(hello, client=client), token="tsr_nope")
    assert status == 401
    assert headers["www-authenticate"].startswith("Bearer")
    assert body["error"]["code"] == "invalid_token"


def test_valid_token_reaches_the_app_with_its_identity(client: Tessera, reader: CreatedToken) -> None:
    status, _, body = call(TesseraMiddleware(hello, client=client), token=reader.token)
    assert (status, body) == (200, {"member": reader.member_id, "name": reader.name})


def test_action_and_resource(client: Tessera, reader: CreatedToken) -> None:
    readers = TesseraMiddleware(hello, action="flag:read", resource="proj/web", client=client)
    assert call(readers, token=reader.token)[0] == 403  # proj/web:* needs a segment below
    flags = TesseraMiddleware(
        hello, action="flag:read", resource=lambda environ: "proj/web:flag" + environ["PATH_INFO"],
        client=client,
    )
    assert call(flags, "/checkout", token=reader.token)[0] == 200
    writers = TesseraMiddleware(hello, action="flag:update", resource="proj/web:flag/x", client=client)
    status, _, body = call(writers, token=reader.token)
    assert status == 403
    assert body == {"error": {"code": "forbidden", "message": "not permitted: flag:update on proj/web:flag/x"}}


def test_client_from_the_environment(server: Server, reader: CreatedToken,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    assert call(TesseraMiddleware(hello), header=f"ApiKey {reader.token}")[0] == 200


def test_unreachable_tessera_fails_closed(reader: CreatedToken) -> None:
    app = TesseraMiddleware(hello, client=Tessera(url=closed_port_url()))
    status, _, body = call(app, token=reader.token)
    assert (status, body["error"]["code"]) == (503, "unavailable")


def test_action_without_resource_is_refused_at_setup(client: Tessera) -> None:
    with pytest.raises(ValueError):
        TesseraMiddleware(hello, action="flag:read", client=client)


def test_forward_ip_records_remote_addr(server: Server, client: Tessera, reader: CreatedToken) -> None:
    app = TesseraMiddleware(hello, client=client, forward_ip=True)
    environ_ip = "2001:db8::7"

    def with_peer(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        environ["REMOTE_ADDR"] = environ_ip
        return app(environ, start_response)

    assert call(with_peer, token=reader.token)[0] == 200
    with Tessera(token=server.owner_token, url=server.url) as owner:
        assert eventually(lambda: owner.tokens.get(reader.id).last_used_ip == environ_ip)
