"""A real `tessera serve` for the Python end-to-end tests (tests/mcp,
tests/oauth): `tessera init` on a fresh SQLite database, then `serve` on a
free port, with an owner token to call it with.
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def binary() -> str:
    """The tessera binary: argv[1], else $CARGO_TARGET_DIR (or ./target)/debug."""
    if len(sys.argv) > 1:
        return sys.argv[1]
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    return str(target / "debug" / "tessera")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(work: Path) -> dict:
    """The caller's environment without stray TESSERA_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(
        TESSERA_DATABASE_URL=f"sqlite://{work / 'tessera.db'}",
        TESSERA_CONFIG_DIR=str(work / "config"),
        HOME=str(work),
    )
    return env


class Server:
    """`tessera init` then `tessera serve` on a free port; `extra_env` adds
    settings (TESSERA_PUBLIC_URL, ...)."""

    def __init__(self, tessera: str, work: Path, extra_env: dict | None = None):
        env = {**clean_env(work), **(extra_env or {})}
        init = subprocess.run(
            [tessera, "init", "--org", "acme", "--email", "owner@acme.test",
             "--password-stdin", "--print-token"],
            input="owner-password-1\n", capture_output=True, text=True, env=env, cwd=work,
        )
        assert init.returncode == 0, init.stderr
        self.owner = init.stdout.strip()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.process = subprocess.Popen(
            [tessera, "serve", "--listen", f"127.0.0.1:{port}"],
            env=env, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("tessera serve did not start")

    def stop(self):
        self.process.kill()
        self.process.wait()
