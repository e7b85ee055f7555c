// What both browser test files need: where the binaries are, a free port,
// and waiting for a started `tessera serve` to answer.

import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
export const root = path.resolve(here, "../..");
const targetDir = process.env.CARGO_TARGET_DIR
  ? path.resolve(root, process.env.CARGO_TARGET_DIR)
  : path.join(root, "target");
export const BIN = process.env.TESSERA_BIN || path.join(targetDir, "debug", "tessera");
export const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

/** A port nothing listens on now, on loopback. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Waits until `url`/healthz answers; else fails with the server's log. */
export async function waitHealthy(url, log, ms = 20000) {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tessera did not become healthy; its log:\n${log()}`);
}
