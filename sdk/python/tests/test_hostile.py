"""Servers that are not a healthy Tessera: the SDK fails with a `TesseraError`.

Each stand-in is a raw socket server in a thread that reads one HTTP request
and then misbehaves in one way: never answers, answers an error page, an
answer of the wrong shape, cuts the answer short, or is not HTTP at all.
Against every one, the sync and async clients raise a `TesseraError` with a
clear `code` (never an httpx, JSON or KeyError exception), within the
configured timeout, without the token in it; the WSGI middleware and the
FastAPI dependency refuse the request with `503` and never call the app.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import Depends, FastAPI
from starlette.testclient import TestClient
from test_wsgi import call

from tessera_client import AsyncTessera, Tessera, TesseraError, VerifyResult
from tessera_client.fastapi import require_token
from tessera_client.wsgi import TesseraMiddleware

TOKEN = "tsr_" + "Q" * 60  # what a caller presents; must never show in an error
TIMEOUT = 0.5
Respond = Callable[[socket.socket, threading.Event], None]


def answer(status: str, body: bytes, content_type: str = "application/json",
           extra: str = "") -> Respond:
    def respond(conn: socket.socket, stop: threading.Event) -> None:
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n")
        conn.sendall(head.encode() + body)

    return respond


def silent(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)  # accepted, request read, no answer (until the test ends)


def cut_short(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 200\r\n\r\n{\"valid\": tr")


def hang_up(conn: socket.socket, stop: threading.Event) -> None:
    pass  # closes without a byte


def not_http(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


HTML = b"<html><body><h1>502 Bad Gateway</h1>nginx</body></html>"
VALID = {"valid": True, "code": "valid"}
WHO: dict[str, Any] = {"id": "tok_1", "name": "n", "member": "mem_1", "org": "acme", "projects": [],
       "expires_at": None}

# (id, behaviour, expected code, expected status)
SCENARIOS: list[tuple[str, Respond, str, int | None]] = [
    ("never-answers", silent, "unavailable", None),
    ("closed-mid-answer", cut_short, "unavailable", None),
    ("closed-without-answer", hang_up, "unavailable", None),
    ("not-http", not_http, "unavailable", None),
    ("500-html", answer("500 Internal Server Error", HTML, "text/html"), "bad_response", 500),
    ("502-html", answer("502 Bad Gateway", HTML, "text/html"), "unavailable", 502),
    ("503-html", answer("503 Service Unavailable", HTML, "text/html"), "unavailable", 503),
    ("500-json-error", answer("500 Internal Server Error",
                              b'{"error": {"code": "internal", "message": "boom"}}'), "internal", 500),
    ("502-json-error", answer("502 Bad Gateway",
                              b'{"error": {"code": "upstream", "message": "x"}}'), "upstream", 502),
    ("503-json-error", answer("503 Service Unavailable",
                              b'{"error": {"code": "unavailable", "message": "draining"}}',
                              extra="Retry-After: 3\r\n"), "unavailable", 503),
    ("500-json-not-tesseras", answer("500 Internal Server Error", b'{"detail": "boom"}'),
     "bad_response", 500),
    ("302-redirect", answer("302 Found", b"", extra="Location: http://example.com/\r\n"),
     "bad_response", 302),
    ("200-html", answer("200 OK", b"<html>hello</html>", "text/html"), "bad_response", 200),
    ("200-empty", answer("200 OK", b""), "bad_response", 200),
    ("200-not-utf8", answer("200 OK", b"\xff\xfe{\x00}"), "bad_response", 200),
    ("200-list", answer("200 OK", b"[]"), "bad_response", 200),
    ("200-valid-yes", answer("200 OK", b'{"valid": "yes", "code": "valid"}'), "bad_response", 200),
    ("200-no-code", answer("200 OK", b'{"valid": true}'), "bad_response", 200),
    ("200-token-a-string", answer("200 OK", json.dumps({**VALID, "token": "abc"}).encode()),
     "bad_response", 200),
    ("200-token-fields-wrong", answer("200 OK", json.dumps({**VALID, "token": {"id": 1}}).encode()),
     "bad_response", 200),
    ("200-allowed-a-string", answer("200 OK", json.dumps({**VALID, "allowed": "no"}).encode()),
     "bad_response", 200),
    # Valid, but whose token? A yes without the who is no answer.
    ("200-valid-without-token", answer("200 OK", json.dumps(VALID).encode()), "bad_response", 200),
    # An action was asked about: an answer silent on `allowed` must not let it through.
    ("200-allowed-missing", answer("200 OK", json.dumps({**VALID, "token": WHO}).encode()),
     "bad_response", 200),
]
IDS = [s[0] for s in SCENARIOS]


@dataclass
class StandIn:
    url: str
    requests: int = 0


def _serve(listener: socket.socket, respond: Respond, stop: threading.Event, seen: StandIn) -> None:
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        seen.requests += 1
        threading.Thread(target=_handle, args=(conn, respond, stop), daemon=True).start()


def _handle(conn: socket.socket, respond: Respond, stop: threading.Event) -> None:
    with conn:
        conn.settimeout(5)
        data = b""
        while b"\r\n\r\n" not in data:  # the request head, then its body
            chunk = conn.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        while len(body) < length:
            body += conn.recv(65536)
        try:
            respond(conn, stop)
        except OSError:
            pass


@pytest.fixture
def stand_in(request: pytest.FixtureRequest) -> Iterator[Callable[[Respond], StandIn]]:
    stops: list[tuple[threading.Event, socket.socket]] = []

    def start(respond: Respond) -> StandIn:
        listener = socket.create_server(("127.0.0.1", 0))
        stop = threading.Event()
        stops.append((stop, listener))
        seen = StandIn(url=f"http://127.0.0.1:{listener.getsockname()[1]}")
        threading.Thread(target=_serve, args=(listener, respond, stop, seen), daemon=True).start()
        return seen

    yield start
    for stop, listener in stops:
        stop.set()
        listener.close()


def check_error(error: TesseraError, code: str, status: int | None, elapsed: float) -> None:
    assert (error.code, error.status) == (code, status)
    assert isinstance(error.message, str) and error.message
    for text in (str(error), repr(error), error.message):
        assert TOKEN not in text
    assert elapsed < TIMEOUT + 1.5  # within the timeout (plus a loaded machine's slack)


@pytest.mark.parametrize(("name", "respond", "code", "status"), SCENARIOS, ids=IDS)
def test_sync_client(stand_in: Callable[[Respond], StandIn], name: str, respond: Respond,
                     code: str, status: int | None) -> None:
    server = stand_in(respond)
    with Tessera(url=server.url, timeout=TIMEOUT) as tessera:
        started = time.monotonic()
        with pytest.raises(TesseraError) as caught:
            tessera.verify(TOKEN, "flag:read", "proj/web")
        check_error(caught.value, code, status, time.monotonic() - started)
        assert len(tessera._cache) == 0
    assert server.requests == 1  # asked once: no retries against a failing server
    if name == "503-json-error":
        assert caught.value.retry_after == 3


@pytest.mark.parametrize(("name", "respond", "code", "status"), SCENARIOS, ids=IDS)
def test_async_client(stand_in: Callable[[Respond], StandIn], name: str, respond: Respond,
                      code: str, status: int | None) -> None:
    server = stand_in(respond)

    async def check() -> None:
        async with AsyncTessera(url=server.url, timeout=TIMEOUT) as tessera:
            started = time.monotonic()
            with pytest.raises(TesseraError) as caught:
                await tessera.verify(TOKEN, "flag:read", "proj/web")
            check_error(caught.value, code, status, time.monotonic() - started)

    asyncio.run(check())


def reached(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    raise AssertionError("the request reached the app")


@pytest.mark.parametrize(("name", "respond", "code", "status"), SCENARIOS, ids=IDS)
def test_wsgi_middleware_fails_closed(stand_in: Callable[[Respond], StandIn], name: str,
                                      respond: Respond, code: str, status: int | None) -> None:
    server = stand_in(respond)
    app = TesseraMiddleware(reached, action="flag:read", resource="proj/web",
                            client=Tessera(url=server.url, timeout=TIMEOUT))
    got, headers, body = call(app, token=TOKEN)
    assert (got, headers["content-type"], body["error"]["code"]) == (503, "application/json", "unavailable")
    assert TOKEN not in json.dumps(body)


@pytest.mark.parametrize(("name", "respond", "code", "status"), SCENARIOS, ids=IDS)
def test_fastapi_dependency_fails_closed(stand_in: Callable[[Respond], StandIn], name: str,
                                         respond: Respond, code: str, status: int | None) -> None:
    server = stand_in(respond)
    app = FastAPI()

    @app.get("/flags")
    async def flags(answer: VerifyResult = Depends(require_token(
            "flag:read", "proj/web", client=AsyncTessera(url=server.url, timeout=TIMEOUT)))) -> str:
        raise AssertionError("the request reached the handler")

    with TestClient(app) as client:
        got = client.get("/flags", headers={"Authorization": f"Bearer {TOKEN}"})
    assert (got.status_code, got.headers["content-type"]) == (503, "application/json")
    assert got.json()["detail"]["code"] == "unavailable"
    assert TOKEN not in got.text


@pytest.mark.parametrize("body", [b"[]", b'{"items": "none"}', b'{"items": [1]}',
                                  b'{"items": [{"id": "x"}]}', b"<html>"])
def test_token_api_answers_of_the_wrong_shape(stand_in: Callable[[Respond], StandIn],
                                              body: bytes) -> None:
    server = stand_in(answer("200 OK", body))
    with Tessera(token=TOKEN, url=server.url, timeout=TIMEOUT) as tessera:
        with pytest.raises(TesseraError) as caught:
            tessera.tokens.list()
    assert (caught.value.code, caught.value.status) == ("bad_response", 200)
    assert TOKEN not in str(caught.value)


def test_timeout_must_be_positive() -> None:
    for bad in (0, -1, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            Tessera(url="http://127.0.0.1:1", timeout=bad)
        with pytest.raises(ValueError):
            AsyncTessera(url="http://127.0.0.1:1", timeout=bad)
