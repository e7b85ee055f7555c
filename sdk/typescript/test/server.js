// Starts a real `tessera serve` for a test file: `tessera init` on a fresh
// SQLite database in a temporary directory, then `serve` on a free port,
// as tests/mcp/test_mcp.py does. No part of the API is mocked.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** `TESSERA_BIN`, else the workspace's debug build. */
export const TESSERA_BIN = process.env.TESSERA_BIN || resolve(here, '../../../target/debug/tessera');

/** The environment without the caller's TESSERA_* settings, plus a private database. */
function cleanEnv(work) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('TESSERA_')));
  return {
    ...env,
    TESSERA_DATABASE_URL: `sqlite://${join(work, 'tessera.db')}`,
    TESSERA_CONFIG_DIR: join(work, 'config'),
    HOME: work,
  };
}

function freePort() {
  return new Promise((done, fail) => {
    const probe = createServer();
    probe.once('error', fail);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => done(port));
    });
  });
}

/**
 * @returns {Promise<{url: string, ownerToken: string, stop: () => Promise<void>}>}
 */
export async function startServer() {
  const work = mkdtempSync(join(tmpdir(), 'tessera-sdk-ts-'));
  const env = cleanEnv(work);
  const init = spawnSync(
    TESSERA_BIN,
    ['init', '--org', 'acme', '--email', 'owner@acme.test', '--password-stdin', '--print-token'],
    { input: 'owner-password-1\n', env, cwd: work, encoding: 'utf8' },
  );
  if (init.error) throw new Error(`cannot run ${TESSERA_BIN} (set TESSERA_BIN): ${init.error.message}`);
  if (init.status !== 0) throw new Error(`tessera init failed: ${init.stderr}`);
  const ownerToken = init.stdout.trim();

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let log = '';
  const child = spawn(TESSERA_BIN, ['serve', '--listen', `127.0.0.1:${port}`], {
    env,
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr.on('data', (chunk) => {
    log = (log + chunk).slice(-4000);
  });
  // Never leave a server behind, even when a test file crashes.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tessera serve exited: ${log}`);
    try {
      const ready = await fetch(`${url}/readyz`);
      if (ready.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tessera serve did not become ready: ${log}`);
    }
    await new Promise((wait) => setTimeout(wait, 50));
  }

  return {
    url,
    ownerToken,
    async stop() {
      process.removeListener('exit', killOnExit);
      if (child.exitCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(work, { recursive: true, force: true });
    },
  };
}

/** A token name no other test uses. */
let counter = 0;
export function uniqueName(prefix = 'sdk-test') {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Date.now()}`;
}

/** An RFC 3339 time `days` from now. */
export function inDays(days) {
  return new Date(Date.now() + days * 86_400_000);
}
