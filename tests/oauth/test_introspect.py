"""Introspection (RFC 7662) driven by a real OAuth client library.

Authlib's OAuth2Session calls `/api/v1/oauth/introspect` as any OAuth
resource server would: the token in a form body, the client's credentials
as HTTP Basic (client_secret_basic). The client id is anything; the client
secret is a Tessera token allowed `token:introspect`. Against a real
`tessera serve` on a temporary SQLite database.

Usage: python3 tests/oauth/test_introspect.py [path/to/tessera]
(default: $CARGO_TARGET_DIR or ./target, then debug/tessera). Exit 0 when
every check passed.
"""

import sys
import tempfile
from pathlib import Path

import requests
from authlib.integrations.requests_client import OAuth2Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tessera_server import Server, binary  # noqa: E402


def api(server: Server, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"Authorization": f"Bearer {server.owner}"}
    return requests.request(method, f"{server.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(binary(), Path(tmp), {"TESSERA_PUBLIC_URL": "https://tessera.example.com"})
        try:
            check(server)
        finally:
            server.stop()
    print("introspection with authlib: all checks passed")


def check(server: Server) -> None:
    endpoint = f"{server.url}/api/v1/oauth/introspect"
    created = api(server, "POST", "/tokens", json={"name": "for the gateway", "role": "reader"})
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    me = api(server, "GET", "/me").json()

    # The gateway: an OAuth client whose secret is a Tessera token.
    gateway = OAuth2Session("my-gateway", server.owner)
    answer = gateway.introspect_token(endpoint, token=token)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert body["active"] is True, body
    assert body["token_type"] == "bearer"
    assert body["client_id"] == token_id
    assert body["sub"] == me["member"]["id"], (body, me)
    assert body["username"] == "owner@acme.test"
    assert body["iss"] == "https://tessera.example.com"
    assert body["org"] == "acme"
    assert body["scope"] == "role:reader"
    assert isinstance(body["iat"], int) and "exp" not in body
    assert token not in answer.text

    # The token_type_hint Authlib can send is accepted and ignored.
    hinted = gateway.introspect_token(endpoint, token=token, token_type_hint="access_token")
    assert hinted.json() == body

    # Revoked, or never a token: exactly {"active": false}.
    assert api(server, "DELETE", f"/tokens/{token_id}").status_code == 204
    for dead in (token, "garbage", "tsr_" + "a" * 65):
        answer = gateway.introspect_token(endpoint, token=dead)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"active": False}, answer.text

    # A client whose secret is not a live token is refused (RFC 7662 §2.3).
    stranger = OAuth2Session("my-gateway", "tsr_not-a-token")
    answer = stranger.introspect_token(endpoint, token=server.owner)
    assert answer.status_code == 401, answer.text
    assert "www-authenticate" in {k.lower() for k in answer.headers}


if __name__ == "__main__":
    main()
