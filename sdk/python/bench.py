"""verify throughput of the Python SDK against a real `tessera serve`, cache on and off.

    TESSERA_BIN=/work/bin/tessera sdk/python/.venv/bin/python sdk/python/bench.py [--seconds 5]

Starts `tessera serve` as the tests do (`tessera init` on SQLite in a temporary
directory, a free port), creates one token allowed `flag:read` on `proj/web`,
then for each row calls `verify(token, "flag:read", "proj/web:flag/x")` as
fast as it can for `--seconds`, one client per row (a fresh cache) and
prints calls/s and latency. Rows with concurrency > 1 run that many asyncio
tasks sharing one `AsyncTessera`. The numbers include the SDK, httpx and the
server on the same machine: compare rows, not machines.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tessera_client import DEFAULT_CACHE_TTL, AsyncTessera, Tessera

HERE = Path(__file__).resolve().parent
QUESTION = ("flag:read", "proj/web:flag/x")
POLICY = [{"effect": "allow", "actions": ["flag:read"], "resources": ["proj/web:*"]}]


def start_server(binary: str, work: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`tessera init` then `tessera serve`, as tests/conftest.py does; returns (process, url, owner token)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    env.update(TESSERA_DATABASE_URL=f"sqlite://{work / 'tessera.db'}",
               TESSERA_CONFIG_DIR=str(work / "config"), HOME=str(work))
    init = subprocess.run([binary, "init", "--org", "acme", "--email", "owner@acme.test",
                           "--password-stdin", "--print-token"],
                          input="owner-password-1\n", capture_output=True, text=True, env=env, cwd=work)
    if init.returncode != 0:
        sys.exit(f"tessera init failed: {init.stderr}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env, cwd=work,
                               stdout=subprocess.DEVNULL, stderr=open(work / "serve.log", "wb"))
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url, init.stdout.strip()
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            sys.exit(f"tessera serve did not start: {(work / 'serve.log').read_text()}")
        time.sleep(0.05)


def row(client: str, cache: str, concurrency: int, latencies: list[float], seconds: float) -> str:
    ms = sorted(latencies)

    def p(q: float) -> float:  # a percentile, in µs
        return ms[min(len(ms) - 1, int(q * len(ms)))] * 1e6

    return (f"| {client} | {cache} | {concurrency} | {len(ms) / seconds:,.0f} | "
            f"{statistics.fmean(ms) * 1e6:,.0f} | {p(0.5):,.0f} | {p(0.99):,.0f} |")


def run_sync(url: str, token: str, ttl: float, seconds: float) -> list[float]:
    latencies: list[float] = []
    with Tessera(url=url, cache_ttl=ttl) as tessera:
        assert tessera.verify(token, *QUESTION).ok  # warm: connection open
        end = time.perf_counter() + seconds
        while (start := time.perf_counter()) < end:
            tessera.verify(token, *QUESTION)
            latencies.append(time.perf_counter() - start)
    return latencies


async def run_async(url: str, token: str, ttl: float, seconds: float, tasks: int) -> list[float]:
    latencies: list[float] = []
    async with AsyncTessera(url=url, cache_ttl=ttl) as tessera:
        await asyncio.gather(*(tessera.verify(token, *QUESTION) for _ in range(tasks)))  # warm
        end = time.perf_counter() + seconds

        async def worker() -> None:
            while (start := time.perf_counter()) < end:
                await tessera.verify(token, *QUESTION)
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return latencies


async def run_raw_httpx(url: str, token: str, seconds: float, tasks: int) -> list[float]:
    """The same requests with httpx.AsyncClient alone: what the async rows owe to httpx, not the SDK."""
    latencies: list[float] = []
    body = {"token": token, "action": QUESTION[0], "resource": QUESTION[1]}
    async with httpx.AsyncClient() as http:
        end = time.perf_counter() + seconds

        async def worker() -> None:
            while (start := time.perf_counter()) < end:
                (await http.post(f"{url}/api/v1/verify", json=body)).raise_for_status()
                latencies.append(time.perf_counter() - start)

        await asyncio.gather(*(worker() for _ in range(tasks)))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per row (default 5)")
    parser.add_argument("--concurrency", type=int, default=32, help="async tasks (default 32)")
    args = parser.parse_args()
    binary = os.environ.get("TESSERA_BIN") or str(HERE / "../../target/release/tessera")
    with tempfile.TemporaryDirectory(prefix="tessera-bench-py-") as tmp:
        process, url, owner_token = start_server(binary, Path(tmp))
        try:
            with Tessera(token=owner_token, url=url) as owner:
                token = owner.tokens.create(name="bench", policy=POLICY).token
            on, off, s, n = f"on ({DEFAULT_CACHE_TTL:g} s)", "off (0)", args.seconds, args.concurrency
            print(f"binary: {binary}\nload average before: {os.getloadavg()}")
            print("| client | cache | concurrency | verify/s | mean µs | p50 µs | p99 µs |")
            print("| --- | --- | --- | --- | --- | --- | --- |")
            print(row("Tessera (sync)", on, 1, run_sync(url, token, DEFAULT_CACHE_TTL, s), s), flush=True)
            print(row("Tessera (sync)", off, 1, run_sync(url, token, 0, s), s), flush=True)
            for ttl, cache in ((DEFAULT_CACHE_TTL, on), (0, off)):
                print(row("AsyncTessera", cache, 1, asyncio.run(run_async(url, token, ttl, s, 1)), s),
                      flush=True)
            print(row("AsyncTessera", off, n, asyncio.run(run_async(url, token, 0, s, n)), s), flush=True)
            print(row("httpx.AsyncClient, no SDK", "-", n, asyncio.run(run_raw_httpx(url, token, s, n)), s))
            print(f"load average after: {os.getloadavg()}")
        finally:
            process.kill()
            process.wait()


if __name__ == "__main__":
    main()
