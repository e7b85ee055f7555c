// Servers that are not a healthy Tessera: the client rejects with a
// TesseraError, and the middleware refuses with 503.
//
// Each stand-in is a raw `node:net` server that reads one HTTP request and
// then misbehaves in one way: never answers, cuts its answer short, answers
// an error page, an answer of the wrong shape, or is not HTTP at all. The
// client must reject with a `TesseraError` with a clear `code` (never a
// fetch TypeError or a SyntaxError) within its `timeoutMs`, without the
// token in it; `requireToken` must answer 503 JSON and never call `next()`.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { Tessera, TesseraError } from '@tessera/client';
import { requireToken } from '@tessera/client/express';

const TOKEN = `tsr_${'Q'.repeat(60)}`; // what a caller presents; never in an error
const TIMEOUT_MS = 500;
const QUESTION = { action: 'flag:read', resource: 'proj/web' };

/** An answer with this status line, body and headers, then the connection closed. */
function answer(status, body, contentType = 'application/json', extra = '') {
  return (socket) => {
    const bytes = Buffer.from(body);
    socket.end(
      Buffer.concat([
        Buffer.from(
          `HTTP/1.1 ${status}\r\nContent-Type: ${contentType}\r\nContent-Length: ${bytes.length}\r\n${extra}Connection: close\r\n\r\n`,
        ),
        bytes,
      ]),
    );
  };
}

const silent = () => {}; // accepted, request read, no answer
const cutShort = (socket) =>
  socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"valid": tr');
const hangUp = (socket) => socket.end();
// Headers, then one byte of the body every 100 ms: never late for a read,
// but timeoutMs is the whole request's deadline.
const trickle = (socket) => {
  socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
  const drip = setInterval(() => socket.write(' '), 100);
  socket.on('close', () => clearInterval(drip));
};
const notHttp = (socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n');

const HTML = '<html><body><h1>502 Bad Gateway</h1>nginx</body></html>';
const VALID = { valid: true, code: 'valid' };
const WHO = { id: 'tok_1', name: 'n', member: 'mem_1', org: 'acme', projects: [], expires_at: null };
const json = (value) => JSON.stringify(value);

// [name, behaviour, expected code, expected status]
const SCENARIOS = [
  ['never answers', silent, 'unavailable', 0],
  ['closed mid-answer', cutShort, 'unavailable', 0],
  ['trickles its answer', trickle, 'unavailable', 0],
  ['closed without an answer', hangUp, 'unavailable', 0],
  ['not HTTP', notHttp, 'unavailable', 0],
  ['500, HTML', answer('500 Internal Server Error', HTML, 'text/html'), 'bad_response', 500],
  ['502, HTML', answer('502 Bad Gateway', HTML, 'text/html'), 'unavailable', 502],
  ['503, HTML', answer('503 Service Unavailable', HTML, 'text/html'), 'unavailable', 503],
  ['500, JSON error', answer('500 Internal Server Error', json({ error: { code: 'internal', message: 'boom' } })), 'internal', 500],
  ['502, JSON error', answer('502 Bad Gateway', json({ error: { code: 'upstream', message: 'x' } })), 'upstream', 502],
  ['503, JSON error', answer('503 Service Unavailable', json({ error: { code: 'unavailable', message: 'draining' } })), 'unavailable', 503],
  ['500, JSON not Tessera\'s', answer('500 Internal Server Error', json({ detail: 'boom' })), 'bad_response', 500],
  ['302 redirect', answer('302 Found', '', 'text/plain', 'Location: http://example.com/\r\n'), 'bad_response', 302],
  ['200, HTML', answer('200 OK', '<html>hello</html>', 'text/html'), 'bad_response', 200],
  ['200, empty', answer('200 OK', ''), 'bad_response', 200],
  ['200, null', answer('200 OK', 'null'), 'bad_response', 200],
  ['200, []', answer('200 OK', '[]'), 'bad_response', 200],
  ['200, valid "yes"', answer('200 OK', json({ valid: 'yes', code: 'valid' })), 'bad_response', 200],
  ['200, no code', answer('200 OK', json({ valid: true })), 'bad_response', 200],
  ['200, token a string', answer('200 OK', json({ ...VALID, allowed: true, token: 'abc' })), 'bad_response', 200],
  ['200, token fields wrong', answer('200 OK', json({ ...VALID, allowed: true, token: { id: 1 } })), 'bad_response', 200],
  ['200, allowed a string', answer('200 OK', json({ ...VALID, allowed: 'no', token: WHO })), 'bad_response', 200],
  ['200, valid without token', answer('200 OK', json({ ...VALID, allowed: true })), 'bad_response', 200],
  ['200, allowed missing', answer('200 OK', json({ ...VALID, token: WHO })), 'bad_response', 200],
];

const servers = [];
after(() => {
  for (const server of servers) {
    server.close();
    server.closeAllConnections?.();
  }
});

/** A stand-in on a free port; resolves to its URL and a request count. */
async function standIn(respond) {
  const sockets = new Set();
  const seen = { requests: 0 };
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let data = Buffer.alloc(0);
    let done = false;
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk]);
      const end = data.indexOf('\r\n\r\n');
      if (done || end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(data.subarray(0, end).toString())?.[1] ?? 0);
      if (data.length < end + 4 + length) return;
      done = true;
      seen.requests += 1;
      respond(socket);
    });
  });
  server.closeAllConnections = () => sockets.forEach((s) => s.destroy());
  servers.push(server);
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  seen.url = `http://127.0.0.1:${server.address().port}`;
  return seen;
}

function checkError(error, code, status, elapsed) {
  assert.ok(error instanceof TesseraError, `not a TesseraError: ${error?.stack ?? error}`);
  assert.deepEqual([error.code, error.status], [code, status]);
  assert.ok(typeof error.message === 'string' && error.message !== '');
  assert.ok(!`${error.message} ${error.stack} ${JSON.stringify(error)}`.includes(TOKEN));
  assert.ok(elapsed < TIMEOUT_MS + 1500, `took ${elapsed} ms`);
}

describe('the client against a hostile server', () => {
  for (const [name, respond, code, status] of SCENARIOS) {
    test(`${name}: TesseraError ${code} ${status}`, async () => {
      const server = await standIn(respond);
      const client = new Tessera({ url: server.url, timeoutMs: TIMEOUT_MS });
      const started = Date.now();
      const error = await client.verify(TOKEN, QUESTION).then(
        (value) => assert.fail(`resolved: ${JSON.stringify(value)}`),
        (e) => e,
      );
      checkError(error, code, status, Date.now() - started);
      assert.equal(server.requests, 1, 'asked once: no retry against a failing server');
    });
  }

  for (const body of ['[]', '{}', '{"items": "none"}', '<html>']) {
    test(`the token API answering ${body}: bad_response`, async () => {
      const server = await standIn(answer('200 OK', body));
      const client = new Tessera({ url: server.url, token: TOKEN, timeoutMs: TIMEOUT_MS });
      await assert.rejects(client.tokens.list(), (error) => {
        checkError(error, 'bad_response', 200, 0);
        return true;
      });
    });
  }
});

describe('requireToken against a hostile server: 503, never through', () => {
  for (const [name, respond] of SCENARIOS) {
    test(name, async () => {
      const tessera = await standIn(respond);
      const guard = requireToken({ ...QUESTION, client: new Tessera({ url: tessera.url, timeoutMs: TIMEOUT_MS }) });
      let through = false;
      const app = http.createServer((req, res) =>
        guard(req, res, () => {
          through = true;
          res.end('{"through": true}');
        }),
      );
      servers.push(app);
      await new Promise((ready) => app.listen(0, '127.0.0.1', ready));
      const response = await fetch(`http://127.0.0.1:${app.address().port}/`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      const text = await response.text();
      assert.equal(response.status, 503);
      assert.match(response.headers.get('content-type'), /^application\/json/);
      assert.equal(JSON.parse(text).error.code, 'unavailable');
      assert.ok(!text.includes(TOKEN));
      assert.equal(through, false);
    });
  }
});
