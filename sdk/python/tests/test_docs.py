"""The examples of docs/sdk-python.md, run against the test server.

They are run in order in one namespace, as a reader would paste them, so a
renamed argument or a wrong attribute in the docs fails here.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import SDK, Server
from starlette.testclient import TestClient

from tessera_client import Tessera, VerifyResult

DOC = SDK.parent.parent / "docs" / "sdk-python.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def run_block(source: str, namespace: dict[str, Any]) -> None:
    """Runs one block; top-level `await`/`async with` blocks run in an event loop."""
    code = compile(source, str(DOC), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(code, namespace)  # noqa: S307 - our own documentation
    if inspect.iscoroutine(result):
        asyncio.run(result)


def test_the_examples_run(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_URL", server.url)
    monkeypatch.setenv("TESSERA_TOKEN", server.owner_token)
    blocks = python_blocks()
    assert len(blocks) >= 7
    namespace: dict[str, Any] = {"presented": server.owner_token}
    apps: dict[str, Any] = {}
    for block in blocks:
        run_block(block, namespace)
        if "FastAPI()" in block:
            apps["fastapi"] = namespace["app"]
        if "TesseraMiddleware(hello" in block:
            apps["wsgi"] = namespace["app"]

    assert isinstance(namespace["answer"], VerifyResult) and namespace["answer"].valid
    assert namespace["created"].name == "nightly export"
    with Tessera() as tessera:  # the async block rebound `tessera`
        assert "nightly export" not in {t.name for t in tessera.tokens.list()}

    bearer = {"Authorization": f"Bearer {server.owner_token}"}
    with TestClient(apps["fastapi"]) as client:
        assert client.get("/whoami", headers=bearer).status_code == 200
        assert client.get("/whoami").status_code == 401
        assert client.put("/flags/checkout", headers=bearer).json() == {"updated": "checkout"}

    environ = {"HTTP_AUTHORIZATION": bearer["Authorization"], "REQUEST_METHOD": "GET"}
    seen: list[str] = []
    body = b"".join(apps["wsgi"](environ, lambda status, headers: seen.append(status)))
    assert seen == ["200 OK"] and body.startswith(b"hello, ")
