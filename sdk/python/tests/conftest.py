"""A real `tessera serve` for the whole session, and clients of it.

The binary comes from `TESSERA_BIN` (default: the repository's
`target/debug/tessera`). It is set up like an operator would: `tessera init`
on a temporary SQLite database, then `tessera serve` on a free port, with an
environment cleaned of the caller's TESSERA_* settings.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera_client import CreatedToken, Tessera

SDK = Path(__file__).resolve().parents[1]
# Read at import: the autouse fixture below clears TESSERA_* for each test.
TESSERA_BIN = Path(os.environ.get("TESSERA_BIN") or SDK / "../../target/debug/tessera").resolve()


@dataclass(frozen=True)
class Server:
    url: str
    owner_token: str
    work: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not TESSERA_BIN.is_file():
        pytest.exit(f"no tessera binary at {TESSERA_BIN}: build it or set TESSERA_BIN", returncode=2)
    work = tmp_path_factory.mktemp("tessera")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=f"sqlite://{work / 'tessera.db'}",
        TESSERA_CONFIG_DIR=str(work / "config"),
        HOME=str(work),
    )
    init = subprocess.run(
        [str(TESSERA_BIN), "init", "--org", "acme", "--email", "owner@acme.test",
         "--password-stdin", "--print-token"],
        input="owner-password-1\n", capture_output=True, text=True, env=env, cwd=work,
    )
    assert init.returncode == 0, init.stderr
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(work / "serve.log", "wb")
    process = subprocess.Popen(
        [str(TESSERA_BIN), "serve", "--listen", f"127.0.0.1:{port}"],
        env=env, cwd=work, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (work / "serve.log").read_text()
            assert time.monotonic() < deadline, "tessera serve did not start in 30 s"
            time.sleep(0.05)
        yield Server(url=url, owner_token=init.stdout.strip(), work=work)
    finally:
        process.kill()
        process.wait()
        log.close()


@pytest.fixture(autouse=True)
def _no_tessera_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without TESSERA_TOKEN / TESSERA_URL; those that need them set them."""
    monkeypatch.delenv("TESSERA_TOKEN", raising=False)
    monkeypatch.delenv("TESSERA_URL", raising=False)


@pytest.fixture(scope="session")
def owner(server: Server) -> Iterator[Tessera]:
    """A client authenticated as the org's owner, for the token API."""
    with Tessera(token=server.owner_token, url=server.url) as client:
        yield client


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


FLAG_READER = [{"effect": "allow", "actions": ["flag:read"], "resources": ["proj/web:*"]}]
"""A scope allowing flag:read under proj/web, and nothing else."""


@pytest.fixture
def flag_reader(owner: Tessera) -> CreatedToken:
    """A fresh token that may read flags of proj/web, with an expiry (so it can rotate)."""
    return owner.tokens.create(
        name=unique("flag-reader"), policy=FLAG_READER, expires_at="2099-01-01T00:00:00Z"
    )


def closed_port_url() -> str:
    """A URL where nothing listens: Tessera unreachable."""
    return f"http://127.0.0.1:{_free_port()}"


def eventually(check: Any, timeout: float = 3.0) -> Any:
    """Polls `check()` until truthy; for what the server writes a moment later."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)
