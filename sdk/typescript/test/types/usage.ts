// Compiled (never run) by `npm run typecheck`: the examples of
// docs/sdk-typescript.md, written against the published type names. An
// error here means the declarations and the documented usage disagree.

import http from 'node:http';
import {
  Tessera,
  TesseraError,
  type CreatedToken,
  type TokenMetadata,
  type VerifyResult,
} from '@tessera/client';
import { requireToken, type TesseraRequest } from '@tessera/client/express';

export async function examples(): Promise<void> {
  const fromEnv = new Tessera();
  const tessera = new Tessera({ token: 'tsr_…', url: 'http://127.0.0.1:8080', cacheTtlMs: 5_000, timeoutMs: 2_000 });
  const url: string = fromEnv.url;

  const answer: VerifyResult = await tessera.verify('tsr_presented', {
    action: 'flag:update',
    resource: 'proj/web:env/prod',
    ip: '203.0.113.7',
  });
  if (answer.valid && answer.allowed) {
    // A member's id, or a service account's (exactly one is set).
    const owner: string | undefined = answer.token?.member ?? answer.token?.serviceAccount?.id;
    const expires: string | null | undefined = answer.token?.expiresAt;
    console.log(url, owner, expires, answer.code);
  }

  const created: CreatedToken = await tessera.tokens.create({
    name: 'CI deploy',
    role: 'writer',
    projects: ['web'],
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  const secret: string = created.token;
  const listed: TokenMetadata[] = await tessera.tokens.list();
  const first: string | null = listed[0]?.lastUsedIp ?? null;
  const rotated: CreatedToken = await tessera.tokens.rotate(created.id, {
    expiresAt: '2030-01-01T00:00:00Z',
    gracePeriodSeconds: 300,
  });
  await tessera.tokens.delete(rotated.id);
  console.log(secret.length, first);

  try {
    await tessera.tokens.create({ name: 'CI deploy' });
  } catch (error) {
    if (error instanceof TesseraError) {
      const code: string = error.code;
      const status: number = error.status;
      console.log(code, status, error.message);
    }
  }

  // @ts-expect-error `name` is required
  await tessera.tokens.create({ role: 'reader' });
  // @ts-expect-error not a role
  await tessera.tokens.create({ name: 'x', role: 'superuser' });
  // @ts-expect-error rotate needs `expiresAt`
  await tessera.tokens.rotate('id', {});
  // @ts-expect-error wire spelling is not the SDK's
  await tessera.tokens.create({ name: 'x', expires_at: '2030-01-01T00:00:00Z' });
}

// The middleware on a plain node:http server, the way the tests run it.
const guard = requireToken({ action: 'flag:read', resource: 'proj/web', client: new Tessera() });
export const server = http.createServer((req, res) => {
  void guard(req, res, () => {
    const who = (req as TesseraRequest).tessera?.token?.member;
    res.end(JSON.stringify({ who }));
  });
});

// A resource computed from the request, with Express-like request types.
interface AppRequest extends TesseraRequest {
  params: { project: string };
}
export const perProject = requireToken<AppRequest>({
  action: 'flag:read',
  resource: (req) => `proj/${req.params.project}`,
  ip: (req) => (typeof req.headers['x-real-ip'] === 'string' ? req.headers['x-real-ip'] : undefined),
});
