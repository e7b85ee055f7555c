// The package as users get it: what package.json promises, and that an
// install from the repository path and from the packed tarball both give a
// working, typed package, with no dependencies to fetch.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

test('package.json: ESM, Node >= 20, typed exports, no runtime dependencies', () => {
  assert.equal(pkg.name, '@tessera/client');
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.engines.node, '>=20');
  assert.equal(pkg.dependencies, undefined);
  for (const name of Object.keys(pkg.peerDependencies ?? {})) {
    assert.equal(pkg.peerDependenciesMeta?.[name]?.optional, true, `peer ${name} must be optional`);
  }
  for (const entry of ['.', './express']) {
    assert.ok(pkg.exports[entry].types.endsWith('.d.ts'), `${entry} ships declarations`);
    assert.ok(pkg.exports[entry].default.endsWith('.js'), `${entry} ships code`);
  }
});

/**
 * A fresh project that installs `spec` (offline: there is nothing to
 * download) and uses it; with `typed`, also compiles a TypeScript user.
 */
function installAndUse(spec, { typed }) {
  const work = mkdtempSync(join(tmpdir(), 'tessera-sdk-install-'));
  try {
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
    const npm = (...args) =>
      execFileSync('npm', [...args, '--offline', '--no-audit', '--no-fund', '--loglevel=error'], {
        cwd: work,
        encoding: 'utf8',
      });
    npm('install', spec);
    writeFileSync(
      join(work, 'use.mjs'),
      `import { Tessera, TesseraError } from '@tessera/client';
       import { requireToken } from '@tessera/client/express';
       const t = new Tessera({ url: 'http://127.0.0.1:9' });
       console.log(typeof t.verify, typeof t.tokens.create, typeof requireToken({ client: t }), TesseraError.name);`,
    );
    assert.equal(execFileSync('node', ['use.mjs'], { cwd: work, encoding: 'utf8' }).trim(), 'function function function TesseraError');
    if (!typed) return;
    // The declarations resolve through `exports`, without @types/node.
    writeFileSync(
      join(work, 'use.ts'),
      `import { Tessera, type VerifyResult } from '@tessera/client';
       import { requireToken } from '@tessera/client/express';
       export const check = (t: Tessera): Promise<VerifyResult> => t.verify('x', { action: 'a:b', resource: 'r/s' });
       export const guard = requireToken({ action: 'a:b', resource: 'r/s' });`,
    );
    writeFileSync(
      join(work, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', types: [] },
        files: ['use.ts'],
      }),
    );
    try {
      execFileSync('node', [tsc, '-p', '.'], { cwd: work, encoding: 'utf8' });
    } catch (error) {
      assert.fail(`the installed declarations do not compile:\n${error.stdout}${error.stderr}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

test('npm install <repository path> gives a working package', () => {
  // A folder install is a link to these very files: running it is enough.
  installAndUse(root, { typed: false });
});

test('npm install <packed tarball> gives a working package with src and types only', () => {
  const out = mkdtempSync(join(tmpdir(), 'tessera-sdk-pack-'));
  try {
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out, '--loglevel=error'], { cwd: root, encoding: 'utf8' }),
    );
    const files = packed.files.map((f) => f.path);
    assert.ok(files.includes('types/index.d.ts') && files.includes('types/express.d.ts'));
    assert.ok(files.includes('src/index.js') && files.includes('src/express.js'));
    assert.ok(!files.some((f) => f.startsWith('test/')), 'tests are not shipped');
    installAndUse(join(out, packed.filename), { typed: true });
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
