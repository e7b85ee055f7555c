// The token API and its errors, against a real server.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Tessera, TesseraError } from '@tessera/client';
import { inDays, startServer, uniqueName } from './server.js';

let server;
let tessera;
before(async () => {
  server = await startServer();
  tessera = new Tessera({ url: server.url, token: server.ownerToken });
});
after(() => server?.stop());

const METADATA = [
  'allowedIps', 'createdAt', 'customRoles', 'disabledAt', 'expiresAt', 'id', 'lastUsedAt',
  'lastUsedIp', 'memberId', 'name', 'policy', 'projects', 'quota', 'rateLimit', 'role',
  'rotatedAt', 'serviceAccountId', 'snippet',
];

test('create, list, rotate, delete: a round trip', async () => {
  const name = uniqueName('round-trip');
  const expiresAt = new Date(Math.floor(inDays(10).getTime() / 1000) * 1000);
  const created = await tessera.tokens.create({ name, role: 'reader', expiresAt });
  assert.deepEqual(Object.keys(created).sort(), [...METADATA, 'token'].sort());
  assert.equal(created.name, name);
  assert.equal(created.role, 'reader');
  assert.equal(created.customRoles, null);
  assert.equal(created.expiresAt, expiresAt.toISOString().replace('.000Z', 'Z'));
  assert.match(created.token, /^tsr_/);
  assert.ok(created.token.endsWith(created.snippet.slice(-4)));

  // The new token works, with the reader scope it was given.
  const asNew = new Tessera({ url: server.url, token: created.token });
  const self = await asNew.tokens.get('self');
  assert.equal(self.id, created.id);

  const listed = (await tessera.tokens.list()).find((t) => t.id === created.id);
  assert.deepEqual(Object.keys(listed).sort(), METADATA);
  assert.equal(listed.name, name);
  assert.equal(listed.token, undefined, 'a list never shows token values');

  const rotated = await tessera.tokens.rotate(created.id, { expiresAt: '2099-01-01T00:00:00Z' });
  assert.equal(rotated.id, created.id);
  assert.equal(rotated.expiresAt, '2099-01-01T00:00:00Z');
  assert.notEqual(rotated.token, created.token);
  assert.notEqual(rotated.rotatedAt, null);
  // Without a grace period the old string stops at once.
  assert.equal((await tessera.verify(created.token)).valid, false);
  assert.equal((await tessera.verify(rotated.token)).valid, true);

  await tessera.tokens.delete(created.id);
  assert.equal((await tessera.tokens.list()).some((t) => t.id === created.id), false);
  await assert.rejects(tessera.tokens.delete(created.id), { code: 'not_found', status: 404 });
});

test('create maps every camelCase option to the API', async () => {
  const created = await tessera.tokens.create({
    name: uniqueName('scoped'),
    policy: [{ effect: 'allow', actions: ['flag:*'], resources: ['proj/web:*'] }],
    projects: [],
    expiresAt: '2099-06-01T12:00:00Z',
  });
  assert.deepEqual(created.policy, [{ effect: 'allow', actions: ['flag:*'], resources: ['proj/web:*'] }]);
  assert.equal(created.role, null);
  assert.equal(created.expiresAt, '2099-06-01T12:00:00Z');
  await assert.rejects(
    tessera.tokens.create({ name: uniqueName('bad'), customRoles: ['no-such-role'] }),
    { code: 'unknown_reference', status: 422 },
  );
  const rotated = await tessera.tokens.rotate(created.id, { expiresAt: inDays(5), gracePeriodSeconds: 60 });
  // With a grace period the old string keeps working for now.
  assert.equal((await tessera.verify(created.token, {})).valid, true);
  assert.equal((await tessera.verify(rotated.token)).valid, true);
});

test('a duplicate name: TesseraError already_exists, 409', async () => {
  const name = uniqueName('duplicate');
  await tessera.tokens.create({ name });
  const error = await tessera.tokens.create({ name }).catch((e) => e);
  assert.ok(error instanceof TesseraError);
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'TesseraError');
  assert.equal(error.code, 'already_exists');
  assert.equal(error.status, 409);
  assert.ok(error.message.length > 0);
});

test('a bad SDK token: TesseraError invalid_token, 401, without the token in it', async () => {
  const bad = 'tsr_3MV7PQbmGSHhi6sbJhxfvmymUmkXD9o1lRtbkNCClxiJL5gqHgEP826kaAO3JmbL7';
  const client = new Tessera({ url: server.url, token: bad });
  const error = await client.tokens.list().catch((e) => e);
  assert.ok(error instanceof TesseraError);
  assert.equal(error.status, 401);
  assert.equal(error.code, 'invalid_token');
  assert.ok(!error.message.includes(bad));
  assert.ok(!error.stack.includes(bad));
});

test('rotating a token without expiry: not_rotatable, 422', async () => {
  const created = await tessera.tokens.create({ name: uniqueName('forever') });
  await assert.rejects(tessera.tokens.rotate(created.id, { expiresAt: inDays(3) }), {
    code: 'not_rotatable',
    status: 422,
  });
});

test('a server out of reach: TesseraError unavailable, status 0, without the token', async () => {
  // A port nothing listens on: the server's own, after stopping a second server.
  const gone = await startServer();
  await gone.stop();
  const client = new Tessera({ url: gone.url, token: server.ownerToken, timeoutMs: 2_000 });
  const error = await client.tokens.list().catch((e) => e);
  assert.ok(error instanceof TesseraError);
  assert.equal(error.code, 'unavailable');
  assert.equal(error.status, 0);
  assert.ok(!error.message.includes(server.ownerToken));
  const verifying = await client.verify(server.ownerToken).catch((e) => e);
  assert.equal(verifying.code, 'unavailable');
  assert.ok(!verifying.message.includes(server.ownerToken));
});

test('arguments are checked before anything is sent', async () => {
  await assert.rejects(tessera.tokens.create({}), TypeError);
  await assert.rejects(tessera.tokens.create({ name: 'x', expires_at: '2099-01-01T00:00:00Z' }), TypeError);
  await assert.rejects(tessera.tokens.rotate('id', {}), TypeError);
  await assert.rejects(tessera.tokens.delete(''), TypeError);
});
