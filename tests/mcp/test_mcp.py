"""End-to-end test of `tessera mcp` with a real MCP client.

The official MCP Python SDK (`mcp`, pinned in requirements.txt) drives the
built `tessera` binary over stdio, against a real `tessera serve` on a
temporary SQLite database, the way an assistant would: the token and the
server come from the MCP server's `env`.

Usage: python3 tests/mcp/test_mcp.py [path/to/tessera]
(default: $CARGO_TARGET_DIR or ./target, then debug/tessera). Exit 0 when
every check passed.
"""

import asyncio
import json
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from mcp import ClientSession, StdioServerParameters, stdio_client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from tessera_server import Server, binary, clean_env, free_port  # noqa: E402

TOOLS = {"list_tokens", "create_token", "rotate_token", "revoke_token", "check_token", "whoami",
         "disable_token", "enable_token", "find_tokens", "list_service_accounts",
         "create_service_account_token"}


class Failing(BaseHTTPRequestHandler):
    """A stand-in for a Tessera server that is up but failing."""

    def do_GET(self):
        body = b'{"error":{"code":"internal","message":"internal error"}}'
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def text_of(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def is_error(result) -> bool:
    return bool(getattr(result, "is_error", None) or getattr(result, "isError", None))


async def session_for(tessera: str, work: Path, env: dict, check):
    """Runs `check(session)` with a fresh `tessera mcp` configured by `env`."""
    params = StdioServerParameters(
        command=tessera, args=["mcp"], env={**clean_env(work), **env}, cwd=str(work),
    )
    with open(work / "mcp-stderr.log", "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await check(session)


async def call(session, name: str, args: dict | None = None):
    return await session.call_tool(name, args or {})


async def ok(session, name: str, args: dict | None = None) -> dict:
    result = await call(session, name, args)
    assert not is_error(result), f"{name} failed: {text_of(result)}"
    return json.loads(text_of(result))


async def fails(session, name: str, args: dict | None, *needles: str) -> str:
    result = await call(session, name, args)
    message = text_of(result)
    assert is_error(result), f"{name} should have failed: {message}"
    for needle in needles:
        assert needle in message, f"{name}: {needle!r} not in {message!r}"
    return message


async def main() -> int:
    tessera = binary()
    assert Path(tessera).is_file(), f"no tessera binary at {tessera}; build it first"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server(tessera, work)
        try:
            await run_checks(tessera, work, server)
        finally:
            server.stop()
    print("mcp: all checks passed")
    return 0


async def run_checks(tessera: str, work: Path, server: Server):
    configured = {"TESSERA_URL": server.url, "TESSERA_TOKEN": server.owner}
    secrets: dict = {}

    async def happy_path(session):
        tools = {t.name for t in (await session.list_tools()).tools}
        assert TOOLS <= tools, f"missing tools: {TOOLS - tools}"

        me = await ok(session, "whoami")
        assert me["org"]["key"] == "acme" and me["authenticated_by"] == "token", me

        created = await ok(session, "create_token",
                           {"name": "from the assistant", "role": "reader", "expires_in_days": 30})
        token, token_id = created["token"], created["id"]
        assert token.startswith("tsr_") and created["name"] == "from the assistant", created
        secrets["created"] = token

        listed = await ok(session, "list_tokens")
        names = {t["name"] for t in listed["items"]}
        assert "from the assistant" in names, listed
        assert token not in json.dumps(listed), "list_tokens showed a token value"

        # The org-wide inventory, filtered by name: the owner sees it, never its value.
        found = await ok(session, "find_tokens", {"name": "from the assistant", "limit": 5})
        assert [t["id"] for t in found["items"]] == [token_id], found
        assert token not in json.dumps(found), "find_tokens showed a token value"
        await fails(session, "find_tokens", {"unused_since": "yesterday"}, "unused_since")

        checked = await ok(session, "check_token",
                           {"token": token, "action": "token:read", "resource": f"member/{me['member']['id']}:token/{token_id}"})
        assert checked["valid"] is True and checked["allowed"] is True, checked
        checked = await ok(session, "check_token",
                           {"token": token, "action": "member:delete", "resource": "member/x"})
        assert checked["valid"] is True and checked["allowed"] is False, checked

        # Rotation: new value, same id; the old value stops working.
        await fails(session, "rotate_token", {"id": token_id}, "expiry")
        rotated = await ok(session, "rotate_token", {"id": token_id, "expires_in_days": 60})
        assert rotated["id"] == token_id and rotated["token"] != token, rotated
        old = await ok(session, "check_token", {"token": token})
        assert old["valid"] is False, old
        new = await ok(session, "check_token", {"token": rotated["token"]})
        assert new["valid"] is True, new
        # At most once an hour: the API's 429 becomes a tool error.
        await fails(session, "rotate_token", {"id": token_id, "expires_in_days": 60}, "rate_limited")

        # Revocation: immediate.
        revoked = await ok(session, "revoke_token", {"id": token_id})
        assert revoked == {"revoked": token_id}, revoked
        gone = await ok(session, "check_token", {"token": rotated["token"]})
        assert gone["valid"] is False, gone
        await fails(session, "revoke_token", {"id": token_id}, "not_found")

        # Bad input from the assistant: clear tool errors, never a crash.
        await fails(session, "create_token", {"name": "x", "role": "superuser"}, "role must be")
        await fails(session, "create_token", {"name": "x", "expires_at": "tomorrow"}, "RFC 3339")
        await fails(session, "create_token", {"name": ""}, "name")
        await fails(session, "create_token", {"name": "too much", "role": "owner", "projects": ["nope"]})
        # The session still works afterwards.
        await ok(session, "list_tokens")

    await session_for(tessera, work, configured, happy_path)

    # Configuration problems: the server starts, and every tool says what
    # to fix, without echoing the token.
    async def expect_config_error(env: dict, *needles: str):
        async def check(session):
            message = await fails(session, "list_tokens", None, *needles)
            assert server.owner not in message
            tools = {t.name for t in (await session.list_tools()).tools}
            assert TOOLS <= tools
        await session_for(tessera, work, env, check)

    await expect_config_error({"TESSERA_URL": server.url}, "TESSERA_TOKEN")
    await expect_config_error({"TESSERA_URL": server.url, "TESSERA_TOKEN": server.owner[:-1]},
                              "not a valid Tessera token", "length")
    await expect_config_error({"TESSERA_URL": server.url, "TESSERA_TOKEN": "hunter2"},
                              "not a valid Tessera token")
    await expect_config_error({"TESSERA_URL": server.url, "TESSERA_TOKEN": secrets["created"]},
                              "refused", "TESSERA_TOKEN")
    await expect_config_error({"TESSERA_URL": f"http://127.0.0.1:{free_port()}",
                               "TESSERA_TOKEN": server.owner}, "cannot reach")
    await expect_config_error({"TESSERA_URL": "not a url", "TESSERA_TOKEN": server.owner},
                              "invalid server URL")

    failing = HTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=failing.serve_forever, daemon=True).start()
    try:
        await expect_config_error(
            {"TESSERA_URL": f"http://127.0.0.1:{failing.server_address[1]}", "TESSERA_TOKEN": server.owner},
            "server failed", "500")
    finally:
        failing.shutdown()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
