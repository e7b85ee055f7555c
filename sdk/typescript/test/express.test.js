// requireToken on a plain node:http server (no Express), against a real
// Tessera: the answers a protected service gives.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';
import { Tessera } from '@tessera/client';
import { requireToken } from '@tessera/client/express';
import { inDays, startServer, uniqueName } from './server.js';

let tessera;
let app;
let appUrl;
let reader; // a token allowed flag:read on proj/web only

before(async () => {
  tessera = await startServer();
  const admin = new Tessera({ url: tessera.url, token: tessera.ownerToken, cacheTtlMs: 0 });
  reader = await admin.tokens.create({
    name: uniqueName('middleware'),
    policy: [{ effect: 'allow', actions: ['flag:read'], resources: ['proj/web'] }],
    expiresAt: inDays(30),
  });

  // The way a service would wire it: one client, one guard per route.
  const client = new Tessera({ url: tessera.url });
  const routes = {
    '/any': requireToken({ client }),
    '/read': requireToken({ action: 'flag:read', resource: 'proj/web', client }),
    '/write': requireToken({ action: 'flag:update', resource: 'proj/web', client }),
    '/by-path': requireToken({
      action: 'flag:read',
      resource: (req) => `proj/${new URL(req.url, 'http://x').searchParams.get('project')}`,
      client,
    }),
  };
  app = http.createServer((req, res) => {
    const guard = routes[new URL(req.url, 'http://x').pathname];
    guard(req, res, () => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ tessera: req.tessera }));
    });
  });
  await new Promise((ready) => app.listen(0, '127.0.0.1', ready));
  appUrl = `http://127.0.0.1:${app.address().port}`;
});

after(async () => {
  await new Promise((done) => (app ? app.close(done) : done()));
  await tessera?.stop();
});

async function get(path, authorization) {
  const response = await fetch(`${appUrl}${path}`, { headers: authorization ? { authorization } : {} });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

test('no token: 401 with WWW-Authenticate: Bearer and a JSON error', async () => {
  const { status, headers, body } = await get('/any');
  assert.equal(status, 401);
  assert.match(headers.get('www-authenticate'), /^Bearer /);
  assert.match(headers.get('content-type'), /^application\/json/);
  assert.equal(body.error.code, 'unauthenticated');
});

test('not a bearer header: 401', async () => {
  const { status, headers } = await get('/any', `Basic ${Buffer.from('a:b').toString('base64')}`);
  assert.equal(status, 401);
  assert.match(headers.get('www-authenticate'), /^Bearer /);
});

test('an invalid token: 401 naming why, with an invalid_token challenge', async () => {
  const { status, headers, body } = await get('/any', 'Bearer tsr_nope');
  assert.equal(status, 401);
  assert.match(headers.get('www-authenticate'), /^Bearer .*error="invalid_token"/);
  assert.equal(body.error.code, 'invalid_token');
  assert.match(body.error.message, /malformed_token/);
});

test('a revoked token: 401 invalid_token', async () => {
  const admin = new Tessera({ url: tessera.url, token: tessera.ownerToken });
  const doomed = await admin.tokens.create({ name: uniqueName('revoked') });
  await admin.tokens.delete(doomed.id);
  const { status, body } = await get('/any', `Bearer ${doomed.token}`);
  assert.equal(status, 401);
  assert.equal(body.error.code, 'invalid_token');
});

test('ip: the address the middleware passes is recorded as the last-used IP', async () => {
  const admin = new Tessera({ url: tessera.url, token: tessera.ownerToken });
  const used = await admin.tokens.create({ name: uniqueName('ip') });
  const guard = requireToken({ client: new Tessera({ url: tessera.url }), ip: () => '198.51.100.9' });
  const server = http.createServer((req, res) => guard(req, res, () => res.end('{}')));
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  try {
    const response = await fetch(`http://127.0.0.1:${server.address().port}/`, {
      headers: { authorization: `Bearer ${used.token}` },
    });
    assert.equal(response.status, 200);
    let lastUsedIp;
    for (let i = 0; i < 50 && lastUsedIp !== '198.51.100.9'; i += 1) {
      ({ lastUsedIp } = await admin.tokens.get(used.id));
      if (lastUsedIp !== '198.51.100.9') await new Promise((wait) => setTimeout(wait, 100));
    }
    assert.equal(lastUsedIp, '198.51.100.9');
  } finally {
    server.close();
  }
});

test('a valid token: 200 and req.tessera is the verify answer', async () => {
  const { status, body } = await get('/any', `Bearer ${reader.token}`);
  assert.equal(status, 200);
  assert.equal(body.tessera.valid, true);
  assert.equal(body.tessera.code, 'valid');
  assert.equal(body.tessera.token.id, reader.id);
  assert.equal(body.tessera.token.member, reader.memberId);
});

test('allowed: 200 with allowed true; not allowed: 403', async () => {
  const allowed = await get('/read', `bearer ${reader.token}`);
  assert.equal(allowed.status, 200);
  assert.equal(allowed.body.tessera.allowed, true);

  const refused = await get('/write', `Bearer ${reader.token}`);
  assert.equal(refused.status, 403);
  assert.equal(refused.headers.get('www-authenticate'), null);
  assert.equal(refused.body.error.code, 'forbidden');
  assert.match(refused.body.error.message, /flag:update on proj\/web/);
});

test('a resource computed from the request', async () => {
  assert.equal((await get('/by-path?project=web', `Bearer ${reader.token}`)).status, 200);
  assert.equal((await get('/by-path?project=shop', `Bearer ${reader.token}`)).status, 403);
});

test('Tessera out of reach: 503, never let through', async () => {
  const gone = await startServer();
  await gone.stop();
  const guard = requireToken({ client: new Tessera({ url: gone.url, timeoutMs: 2_000 }) });
  const server = http.createServer((req, res) => guard(req, res, () => res.end('{"through": true}')));
  await new Promise((ready) => server.listen(0, '127.0.0.1', ready));
  try {
    const response = await fetch(`http://127.0.0.1:${server.address().port}/`, {
      headers: { authorization: `Bearer ${reader.token}` },
    });
    assert.equal(response.status, 503);
    const text = await response.text();
    assert.equal(JSON.parse(text).error.code, 'unavailable');
    assert.ok(!text.includes(reader.token));
  } finally {
    server.close();
  }
});

test('the client defaults to the environment; action without resource is refused at setup', () => {
  const saved = process.env.TESSERA_URL;
  try {
    delete process.env.TESSERA_URL;
    assert.throws(() => requireToken(), { code: 'missing_configuration' });
    process.env.TESSERA_URL = tessera.url;
    assert.equal(typeof requireToken(), 'function');
  } finally {
    if (saved === undefined) delete process.env.TESSERA_URL;
    else process.env.TESSERA_URL = saved;
  }
  assert.throws(() => requireToken({ action: 'flag:read' }), TypeError);
});
