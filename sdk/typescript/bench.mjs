// verify throughput of the TypeScript SDK against a real `tessera serve`,
// cache on and off.
//
//   cd sdk/typescript && TESSERA_BIN=/work/bin/tessera node bench.mjs [--seconds 5] [--concurrency 32]
//
// Starts `tessera serve` with the tests' own start code (test/server.js:
// `tessera init` on SQLite in a temporary directory, a free port), creates
// one token allowed `flag:read` on `proj/web`, then for each row calls
// `verify(token, {action: 'flag:read', resource: 'proj/web:flag/x'})` as fast
// as it can for `--seconds`, one client per row (a fresh cache), and prints
// calls/s and latency. Concurrent rows run that many promise loops sharing
// one client. The last row sends the same requests with `fetch` alone, to
// tell the SDK's cost from Node's. Compare rows, not machines.

import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DEFAULT_CACHE_TTL_MS, Tessera } from '@tessera/client';
import { TESSERA_BIN, startServer } from './test/server.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '32' },
  },
});
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const QUESTION = { action: 'flag:read', resource: 'proj/web:flag/x' };
const POLICY = [{ effect: 'allow', actions: ['flag:read'], resources: ['proj/web:*'] }];

/** Runs `call` in `loops` concurrent loops for `seconds`; the latency of each call, in ms. */
async function measure(call, loops) {
  await Promise.all(Array.from({ length: loops }, () => call())); // warm: connections open
  const latencies = [];
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    for (let start = performance.now(); start < end; start = performance.now()) {
      await call();
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: loops }, loop));
  return latencies;
}

function row(client, cache, loops, latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const p = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] * 1000;
  const mean = (sorted.reduce((a, b) => a + b, 0) / sorted.length) * 1000;
  const n = (x) => Math.round(x).toLocaleString('en-US');
  return `| ${client} | ${cache} | ${loops} | ${n(sorted.length / seconds)} | ${n(mean)} | ${n(p(0.5))} | ${n(p(0.99))} |`;
}

const server = await startServer();
try {
  const owner = new Tessera({ url: server.url, token: server.ownerToken, cacheTtlMs: 0 });
  const { token } = await owner.tokens.create({ name: 'bench', policy: POLICY });
  const verifyWith = (cacheTtlMs) => {
    const client = new Tessera({ url: server.url, cacheTtlMs });
    return async () => {
      const answer = await client.verify(token, QUESTION);
      if (!answer.valid || !answer.allowed) throw new Error(`unexpected answer ${answer.code}`);
    };
  };
  const body = JSON.stringify({ token, ...QUESTION });
  const bareFetch = async () => {
    const response = await fetch(`${server.url}/api/v1/verify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    await response.json();
  };

  const on = `on (${DEFAULT_CACHE_TTL_MS / 1000} s)`;
  const off = 'off (0)';
  console.log(`binary: ${TESSERA_BIN}\nnode: ${process.version}\nload average before: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
  console.log('| client | cache | concurrency | verify/s | mean µs | p50 µs | p99 µs |');
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  console.log(row('Tessera', on, 1, await measure(verifyWith(DEFAULT_CACHE_TTL_MS), 1)));
  console.log(row('Tessera', off, 1, await measure(verifyWith(0), 1)));
  console.log(row('Tessera', off, concurrency, await measure(verifyWith(0), concurrency)));
  console.log(row('fetch, no SDK', '-', concurrency, await measure(bareFetch, concurrency)));
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(2)).join(', ')}`);
} finally {
  await server.stop();
}
