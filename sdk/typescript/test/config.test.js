// Configuration: options, the environment, and keeping the token out of
// everything printable.

import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { after, afterEach, before, test } from 'node:test';
import { Tessera, TesseraError } from '@tessera/client';
import { startServer } from './server.js';

let server;
before(async () => {
  server = await startServer();
});
after(() => server?.stop());

const saved = { TESSERA_URL: process.env.TESSERA_URL, TESSERA_TOKEN: process.env.TESSERA_TOKEN };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

test('new Tessera() reads TESSERA_URL and TESSERA_TOKEN', async () => {
  process.env.TESSERA_URL = server.url;
  process.env.TESSERA_TOKEN = server.ownerToken;
  const tessera = new Tessera();
  assert.equal(tessera.url, server.url);
  assert.ok(Array.isArray(await tessera.tokens.list()), 'the token from the environment authenticates');
});

test('options win over the environment', async () => {
  process.env.TESSERA_URL = 'http://127.0.0.1:1';
  process.env.TESSERA_TOKEN = 'tsr_not-this-one';
  const tessera = new Tessera({ url: server.url, token: server.ownerToken });
  assert.ok(Array.isArray(await tessera.tokens.list()));
});

test('neither given nor set: a clear error', () => {
  delete process.env.TESSERA_URL;
  delete process.env.TESSERA_TOKEN;
  assert.throws(() => new Tessera(), (error) => {
    assert.ok(error instanceof TesseraError);
    assert.equal(error.code, 'missing_configuration');
    assert.match(error.message, /TESSERA_URL/);
    return true;
  });
  process.env.TESSERA_URL = '';
  assert.throws(() => new Tessera(), { code: 'missing_configuration' }, 'empty counts as unset');
});

test('without a token, verify works and the token API says what is missing', async () => {
  delete process.env.TESSERA_TOKEN;
  process.env.TESSERA_URL = server.url;
  const tessera = new Tessera();
  assert.equal((await tessera.verify(server.ownerToken)).valid, true);
  await assert.rejects(tessera.tokens.list(), (error) => {
    assert.equal(error.code, 'missing_configuration');
    assert.match(error.message, /TESSERA_TOKEN/);
    return true;
  });
});

test('a trailing slash or a path prefix in the URL is fine; other URLs are refused', async () => {
  assert.equal(new Tessera({ url: `${server.url}/` }).url, server.url);
  assert.ok((await new Tessera({ url: `${server.url}/`, cacheTtlMs: 0 }).verify('x')).code);
  assert.equal(new Tessera({ url: 'https://example.com/tessera/' }).url, 'https://example.com/tessera');
  assert.throws(() => new Tessera({ url: 'example.com' }), { code: 'missing_configuration' });
  assert.throws(() => new Tessera({ url: 'ftp://example.com' }), { code: 'missing_configuration' });
  assert.throws(() => new Tessera({ url: 'https://u:p@example.com' }), { code: 'missing_configuration' });
});

test('cacheTtlMs and timeoutMs are checked', () => {
  assert.throws(() => new Tessera({ url: server.url, cacheTtlMs: -1 }), TypeError);
  assert.throws(() => new Tessera({ url: server.url, cacheTtlMs: '10' }), TypeError);
  assert.throws(() => new Tessera({ url: server.url, timeoutMs: 0 }), TypeError);
  new Tessera({ url: server.url, cacheTtlMs: 0 });
});

test('the token never shows in inspect, toString, JSON or the object keys', () => {
  const tessera = new Tessera({ url: server.url, token: server.ownerToken });
  for (const text of [
    inspect(tessera, { depth: Infinity, showHidden: true }),
    inspect(tessera.tokens, { depth: Infinity, showHidden: true }),
    String(tessera),
    `${tessera}`,
    JSON.stringify(tessera),
    JSON.stringify(Object.entries(tessera)),
  ]) {
    assert.ok(!text.includes(server.ownerToken), text);
  }
  assert.ok(inspect(tessera).includes(server.url), 'the URL is shown: it is not secret');
});
