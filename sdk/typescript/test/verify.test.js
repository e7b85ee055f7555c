// verify(): answers, questions, and the answer cache, against a real server.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Tessera } from '@tessera/client';
import { inDays, startServer, uniqueName } from './server.js';

let server;
let admin; // manages tokens with the owner's token; never caches
before(async () => {
  server = await startServer();
  admin = new Tessera({ url: server.url, token: server.ownerToken, cacheTtlMs: 0 });
});
after(() => server?.stop());

/** A fresh token allowed only `flag:read` on `proj/web`. */
async function flagReader() {
  return admin.tokens.create({
    name: uniqueName('flag-reader'),
    policy: [{ effect: 'allow', actions: ['flag:read'], resources: ['proj/web'] }],
    expiresAt: inDays(30),
  });
}

describe('answers', () => {
  test("a service account's token: member null, the account named", async () => {
    const api = async (path, body) => {
      const response = await fetch(`${server.url}/api/v1${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${server.ownerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(response.status, 201, await response.clone().text());
      return response.json();
    };
    const account = await api('/service-accounts', { name: uniqueName('ci'), role: 'reader' });
    const created = await api(`/service-accounts/${account.id}/tokens`, { name: 'deploy' });
    const answer = await admin.verify(created.token, { action: 'flag:read', resource: 'proj/web' });
    assert.equal(answer.valid, true);
    assert.equal(answer.allowed, true);
    assert.equal(answer.token.member, null);
    assert.deepEqual(answer.token.serviceAccount, { id: account.id, name: account.name });
  });

  test('a valid token: valid, with who it belongs to (camelCase fields)', async () => {
    const created = await flagReader();
    const answer = await admin.verify(created.token);
    assert.equal(answer.valid, true);
    assert.equal(answer.code, 'valid');
    assert.equal(answer.allowed, undefined, 'no action asked, no `allowed`');
    assert.deepEqual(Object.keys(answer.token).sort(), ['expiresAt', 'externalId', 'id', 'member', 'name', 'org', 'projects']);
    assert.equal(answer.token.externalId, null, 'a member made in Tessera has no external id');
    assert.equal(answer.token.id, created.id);
    assert.equal(answer.token.name, created.name);
    assert.equal(answer.token.member, created.memberId);
    assert.equal(answer.token.org, 'acme');
    assert.deepEqual(answer.token.projects, []);
    assert.equal(answer.token.expiresAt, created.expiresAt);
  });

  test('a string that is not a token: malformed_token, no lookup', async () => {
    const answer = await admin.verify('not-a-token');
    assert.deepEqual(answer, { valid: false, code: 'malformed_token' });
  });

  test('a revoked token: invalid_token', async () => {
    const created = await flagReader();
    assert.equal((await admin.verify(created.token)).valid, true);
    await admin.tokens.delete(created.id);
    const answer = await admin.verify(created.token);
    assert.equal(answer.valid, false);
    assert.equal(answer.code, 'invalid_token');
    assert.equal(answer.token, undefined);
  });

  test('action and resource: allowed true and false', async () => {
    const created = await flagReader();
    const yes = await admin.verify(created.token, { action: 'flag:read', resource: 'proj/web' });
    assert.equal(yes.valid, true);
    assert.equal(yes.allowed, true);
    const no = await admin.verify(created.token, { action: 'flag:update', resource: 'proj/web' });
    assert.equal(no.valid, true);
    assert.equal(no.allowed, false);
    const elsewhere = await admin.verify(created.token, { action: 'flag:read', resource: 'proj/shop' });
    assert.equal(elsewhere.allowed, false);
  });

  test('an invalid token asked about an action: allowed false', async () => {
    const answer = await admin.verify('not-a-token', { action: 'flag:read', resource: 'proj/web' });
    assert.equal(answer.valid, false);
    assert.equal(answer.allowed, false);
  });

  test('ip is recorded as the last-used IP (server with `ip` support)', async () => {
    const created = await flagReader();
    const answer = await admin.verify(created.token, { ip: '203.0.113.7' });
    assert.equal(answer.valid, true);
    // The server may write last-used data a little later: poll briefly.
    let lastUsedIp;
    for (let i = 0; i < 50 && lastUsedIp !== '203.0.113.7'; i += 1) {
      ({ lastUsedIp } = (await admin.tokens.list()).find((t) => t.id === created.id));
      if (lastUsedIp !== '203.0.113.7') await new Promise((wait) => setTimeout(wait, 100));
    }
    assert.equal(lastUsedIp, '203.0.113.7');
  });

  test('a malformed question is a TesseraError with the API code, not an answer', async () => {
    await assert.rejects(admin.verify('not-a-token', { action: 'flag:read' }), {
      name: 'TesseraError',
      code: 'bad_request',
      status: 400,
    });
  });

  test('unknown options are refused before anything is sent', async () => {
    await assert.rejects(admin.verify('x', { acton: 'flag:read' }), TypeError);
  });
});

describe('cache', () => {
  test('an answer is reused within the TTL: a revocation shows only after it', async () => {
    const created = await flagReader();
    const cached = new Tessera({ url: server.url, cacheTtlMs: 400 });
    assert.equal((await cached.verify(created.token)).valid, true);
    await admin.tokens.delete(created.id);
    assert.equal((await cached.verify(created.token)).valid, true, 'within the TTL: the cached answer');
    assert.equal((await admin.verify(created.token)).valid, false, 'the server already says no');
    await new Promise((wait) => setTimeout(wait, 500));
    const fresh = await cached.verify(created.token);
    assert.equal(fresh.valid, false, 'after the TTL: asked again');
    assert.equal(fresh.code, 'invalid_token');
  });

  test('the cache key includes the question', async () => {
    const created = await flagReader();
    const cached = new Tessera({ url: server.url, cacheTtlMs: 60_000 });
    assert.equal((await cached.verify(created.token, { action: 'flag:read', resource: 'proj/web' })).allowed, true);
    assert.equal((await cached.verify(created.token, { action: 'flag:update', resource: 'proj/web' })).allowed, false);
    assert.equal((await cached.verify(created.token)).allowed, undefined);
  });

  test('an answer is never kept past the token\'s own expiry', async () => {
    const soon = new Date(Math.ceil((Date.now() + 2_000) / 1000) * 1000);
    const created = await admin.tokens.create({ name: uniqueName('short-lived'), expiresAt: soon });
    const cached = new Tessera({ url: server.url, cacheTtlMs: 60_000 });
    assert.equal((await cached.verify(created.token)).valid, true);
    await new Promise((wait) => setTimeout(wait, soon.getTime() - Date.now() + 100));
    const after = await cached.verify(created.token);
    assert.equal(after.valid, false);
    assert.equal(after.code, 'token_expired');
  });

  test('with cacheTtlMs 0 every call asks the server', async () => {
    const created = await flagReader();
    const uncached = new Tessera({ url: server.url, cacheTtlMs: 0 });
    assert.equal((await uncached.verify(created.token)).valid, true);
    await admin.tokens.delete(created.id);
    assert.equal((await uncached.verify(created.token)).valid, false);
  });

  test('clearCache() forgets answers', async () => {
    const created = await flagReader();
    const cached = new Tessera({ url: server.url, cacheTtlMs: 60_000 });
    assert.equal((await cached.verify(created.token)).valid, true);
    await admin.tokens.delete(created.id);
    cached.clearCache();
    assert.equal((await cached.verify(created.token)).valid, false);
  });

  test('the default TTL is between 5 and 60 seconds', async () => {
    const { DEFAULT_CACHE_TTL_MS } = await import('@tessera/client');
    assert.ok(DEFAULT_CACHE_TTL_MS >= 5_000 && DEFAULT_CACHE_TTL_MS <= 60_000);
    const created = await flagReader();
    const byDefault = new Tessera({ url: server.url });
    assert.equal((await byDefault.verify(created.token)).valid, true);
    await admin.tokens.delete(created.id);
    assert.equal((await byDefault.verify(created.token)).valid, true, 'cached by default');
  });

  test('a caller changing an answer does not change the cached one', async () => {
    const created = await flagReader();
    const cached = new Tessera({ url: server.url, cacheTtlMs: 60_000 });
    const first = await cached.verify(created.token);
    first.valid = false;
    first.token.projects.push('tampered');
    const second = await cached.verify(created.token);
    assert.equal(second.valid, true);
    assert.deepEqual(second.token.projects, []);
  });

  test('errors are not cached', async () => {
    // A hop in front of the real server that fails its first request, as
    // a restarting proxy would, then passes requests through.
    let failed = false;
    const front = http.createServer(async (req, res) => {
      if (!failed) {
        failed = true;
        res.statusCode = 503;
        return res.end(JSON.stringify({ error: { code: 'unavailable', message: 'restarting' } }));
      }
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const upstream = await fetch(`${server.url}${req.url}`, {
        method: req.method,
        headers: { 'content-type': 'application/json' },
        body: Buffer.concat(chunks),
      });
      res.statusCode = upstream.status;
      res.end(await upstream.text());
    });
    await new Promise((ready) => front.listen(0, '127.0.0.1', ready));
    try {
      const created = await flagReader();
      const cached = new Tessera({ url: `http://127.0.0.1:${front.address().port}`, cacheTtlMs: 60_000 });
      await assert.rejects(cached.verify(created.token), { code: 'unavailable', status: 503 });
      assert.equal((await cached.verify(created.token)).valid, true);
    } finally {
      front.close();
    }
  });
});
