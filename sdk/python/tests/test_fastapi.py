"""require_token as a FastAPI dependency, through Starlette's test client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import FLAG_READER, Server, closed_port_url, eventually, unique
from fastapi import Depends, FastAPI
from starlette.requests import Request
from starlette.testclient import TestClient

from tessera_client import AsyncTessera, CreatedToken, Tessera, VerifyResult
from tessera_client.fastapi import require_token


def flag_resource(request: Request) -> str:
    return f"proj/web:flag/{request.path_params['key']}"


def make_app(client: AsyncTessera | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(answer: VerifyResult = Depends(require_token(client=client))) -> dict[str, str | None]:
        assert answer.token is not None
        return {"member": answer.token.member, "token": answer.token.name}

    @app.get("/flags")
    async def flags(
        answer: VerifyResult = Depends(require_token("flag:read", "proj/web:flag/any", client=client)),
    ) -> dict[str, str | None]:
        assert answer.token is not None
        return {"member": answer.token.member}

    @app.put("/flags/{key}")
    async def update(
        key: str,
        answer: VerifyResult = Depends(require_token("flag:update", flag_resource, client=client)),
    ) -> dict[str, str]:
        return {"updated": key}

    return app


@pytest.fixture(scope="module")
def http(server: Server) -> Iterator[TestClient]:
    # One TestClient for the module: starting one per test costs time.
    with TestClient(make_app(AsyncTessera(url=server.url, cache_ttl=0))) as client:
        yield client


@pytest.fixture(scope="module")
def reader(server: Server) -> CreatedToken:
    with Tessera(token=server.owner_token, url=server.url) as owner:
        return owner.tokens.create(name=unique("fastapi"), policy=FLAG_READER)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_with_a_challenge(http: TestClient) -> None:
    answer = http.get("/whoami")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"]["code"] == "unauthenticated"
    assert http.get("/whoami", headers={"Authorization": "Basic dXNlcjpwdw=="}).status_code == 401


def test_invalid_token_is_401(http: TestClient) -> None:
    answer = http.get("/whoami", headers=bearer("tsr_not-a-real-token"))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["detail"]["code"] == "invalid_token"


def test_valid_token_reaches_the_handler(http: TestClient, reader: CreatedToken) -> None:
    answer = http.get("/whoami", headers=bearer(reader.token))
    assert answer.status_code == 200
    assert answer.json() == {"member": reader.member_id, "token": reader.name}
    answer = http.get("/flags", headers={"Authorization": f"apikey {reader.token}"})
    assert (answer.status_code, answer.json()) == (200, {"member": reader.member_id})


def test_not_allowed_is_403(http: TestClient, reader: CreatedToken) -> None:
    answer = http.put("/flags/checkout", headers=bearer(reader.token))
    assert answer.status_code == 403
    assert answer.json()["detail"] == {
        "code": "forbidden", "message": "not permitted: flag:update on proj/web:flag/checkout",
    }


def test_the_owner_may_update(http: TestClient, server: Server) -> None:
    answer = http.put("/flags/checkout", headers=bearer(server.owner_token))
    assert (answer.status_code, answer.json()) == (200, {"updated": "checkout"})


def test_a_malformed_question_from_the_path_is_400(http: TestClient, server: Server) -> None:
    answer = http.put("/flags/a:b", headers=bearer(server.owner_token))
    assert answer.status_code == 400


def test_client_from_the_environment(server: Server, reader: CreatedToken,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    with TestClient(make_app()) as client:
        assert client.get("/whoami", headers=bearer(reader.token)).status_code == 200


def test_unreachable_tessera_fails_closed(reader: CreatedToken) -> None:
    with TestClient(make_app(AsyncTessera(url=closed_port_url()))) as client:
        answer = client.get("/whoami", headers=bearer(reader.token))
    assert answer.status_code == 503
    assert answer.json()["detail"]["code"] == "unavailable"


def test_openapi_still_builds() -> None:
    assert "/whoami" in make_app(AsyncTessera(url="http://127.0.0.1:1")).openapi()["paths"]


def test_tessera_error_shape_on_request(server: Server, reader: CreatedToken) -> None:
    from tessera_client.fastapi import TesseraHTTPException, tessera_error_handler

    app = make_app(AsyncTessera(url=server.url, cache_ttl=0))
    app.add_exception_handler(TesseraHTTPException, tessera_error_handler)
    with TestClient(app) as client:
        missing = client.get("/whoami")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="tessera"'
        assert missing.json()["error"]["code"] == "unauthenticated"
        refused = client.put("/flags/checkout", headers=bearer(reader.token))
        assert refused.status_code == 403
        assert refused.json() == {"error": {
            "code": "forbidden", "message": "not permitted: flag:update on proj/web:flag/checkout",
        }}


def test_forward_ip_records_the_callers_address(server: Server, reader: CreatedToken) -> None:
    app = FastAPI()

    @app.get("/")
    async def root(
        answer: VerifyResult = Depends(require_token(
            client=AsyncTessera(url=server.url, cache_ttl=0), forward_ip=True)),
    ) -> str:
        return "ok"

    with Tessera(token=server.owner_token, url=server.url) as owner:
        with TestClient(app, client=("198.51.100.20", 4242)) as client:
            assert client.get("/", headers=bearer(reader.token)).status_code == 200
        assert eventually(lambda: owner.tokens.get(reader.id).last_used_ip == "198.51.100.20")
        # Not an IP address (Starlette's default test peer): nothing is forwarded.
        with TestClient(app) as client:
            assert client.get("/", headers=bearer(reader.token)).status_code == 200
