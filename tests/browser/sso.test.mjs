// Single sign-on end to end: the real `tessera` binary (SQLite) set up
// with a real OpenID provider (`oidc-provider`, see idp.mjs) on loopback,
// and chromium going through the whole sign-in: Tessera's login page, the
// provider's login and consent forms, back to Tessera's callback, landing
// on /tokens. Also: a replayed callback (`state`), someone nobody knows,
// admission by email domain, and the host product's brand on the page.
//
// Environment: as web.test.mjs (TESSERA_BIN, CHROMIUM), and
// TESSERA_SSO_POSTGRES (a PostgreSQL server URL such as
// postgres://postgres@127.0.0.1:5432/test): when set, the same test runs on
// a fresh PostgreSQL database made for it (and dropped after) instead of
// SQLite.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { BIN, CHROMIUM, freePort, waitHealthy } from "./common.mjs";
import { startIdp } from "./idp.mjs";

const EMAIL = "owner@acme.test";
const CLIENT_ID = "tessera-browser-test";
const CLIENT_SECRET = "a-client-secret-for-the-browser-test";

const POSTGRES = process.env.TESSERA_SSO_POSTGRES;
let work, server, serverLog = "", base, ownerToken, idp, browser, pgDatabase;

// A database of its own on the PostgreSQL server POSTGRES names (psql with
// that URL), so the test starts empty and leaves nothing behind.
function psql(sql) {
  const run = spawnSync("psql", [POSTGRES, "-v", "ON_ERROR_STOP=1", "-c", sql], { encoding: "utf8" });
  assert.equal(run.status, 0, `psql failed: ${run.stderr}`);
}

function databaseUrl() {
  if (!POSTGRES) return `sqlite://${path.join(work, "tessera.db")}`;
  pgDatabase = `tessera_sso_${process.pid}_${Date.now()}`;
  psql(`CREATE DATABASE ${pgDatabase}`);
  const url = new URL(POSTGRES);
  url.pathname = `/${pgDatabase}`;
  return url.toString();
}

async function api(method, route, body) {
  const response = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: {
      authorization: `Bearer ${ownerToken}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

/**
 * Signs in as `login` at the provider from a fresh browser (no provider
 * session yet), starting at Tessera's login page. Returns the page (on
 * wherever Tessera left it) and the callback URL the provider sent it to.
 */
async function signIn(login) {
  const context = await browser.newContext();
  const page = await context.newPage();
  let callback;
  page.on("request", (r) => {
    if (r.url().startsWith(`${base}/sso/callback`)) callback = r.url();
  });
  await page.goto(`${base}/login`);
  await page.click("#sso-start");
  // The provider's development login form, then its consent form.
  await page.waitForURL((u) => u.origin === idp.issuer);
  await page.fill("input[name=login]", login);
  await page.fill("input[name=password]", "any password");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.origin === base || /interaction/.test(u.pathname));
  if (new URL(page.url()).origin !== base) {
    await page.click("button[type=submit]"); // Continue (consent)
    await page.waitForURL((u) => u.origin === base);
  }
  await page.waitForLoadState();
  return { context, page, callback };
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), "tessera-sso-"));
  const db = databaseUrl();
  const init = spawnSync(
    BIN,
    ["init", "--database-url", db, "--org", "acme", "--email", EMAIL, "--password-stdin", "--print-token"],
    { input: "owner-password-1\n", encoding: "utf8" },
  );
  assert.equal(init.status, 0, `tessera init failed: ${init.stderr}`);
  ownerToken = init.stdout.trim().split("\n").pop();
  const [port, idpPort] = [await freePort(), await freePort()];
  base = `http://127.0.0.1:${port}`;
  idp = await startIdp({
    port: idpPort,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: `${base}/sso/callback`,
  });
  server = spawn(BIN, ["serve", "--database-url", db, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      TESSERA_LOG: "warn",
      TESSERA_PUBLIC_URL: base,
      TESSERA_OIDC_ISSUER: idp.issuer,
      TESSERA_OIDC_CLIENT_ID: CLIENT_ID,
      TESSERA_OIDC_CLIENT_SECRET: CLIENT_SECRET,
      TESSERA_OIDC_NAME: "Groundlight ID",
      TESSERA_BRAND_NAME: "Groundlight",
      TESSERA_FRAME_ANCESTORS: "https://app.groundlight.example",
    },
  });
  server.stdout.on("data", (d) => { serverLog += d; });
  server.stderr.on("data", (d) => { serverLog += d; });
  await waitHealthy(base, () => serverLog);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
  });
});

after(async () => {
  await browser?.close();
  if (server) {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
  await idp?.close();
  if (work) rmSync(work, { recursive: true, force: true });
  if (pgDatabase) psql(`DROP DATABASE IF EXISTS ${pgDatabase} WITH (FORCE)`);
  assert.ok(!serverLog.includes(CLIENT_SECRET), "the client secret is never logged");
});

test("single sign-on with a real OpenID provider, in chromium", async (t) => {
  await t.test("the login page offers the provider, under the product's brand", async () => {
    const response = await fetch(`${base}/login`);
    const csp = response.headers.get("content-security-policy");
    assert.match(csp, /frame-ancestors https:\/\/app\.groundlight\.example/);
    assert.equal(response.headers.get("x-frame-options"), null, "framable by the product");
    const html = await response.text();
    assert.match(html, /<title>Log in · Groundlight<\/title>/);
    assert.match(html, /Sign in with Groundlight ID/);
    assert.doesNotMatch(html, />Tessera</);
  });

  let replay;
  await t.test("a member signs in through the provider and lands on /tokens", async () => {
    const { context, page, callback } = await signIn(EMAIL);
    assert.equal(new URL(page.url()).pathname, "/tokens");
    assert.equal(await page.locator("h1").textContent(), "My tokens");
    assert.match(await page.title(), /Groundlight/);
    assert.match(await page.locator(".who").textContent(), /owner/);
    replay = callback;
    // Found by the verified email, the member now carries the provider's `sub`.
    const members = await api("GET", "/members");
    const owner = members.body.items.find((m) => m.email === EMAIL);
    assert.equal(owner.external_id, EMAIL, "sub recorded as external_id");
    // The callback's state works once: the same callback again fails.
    await page.goto(replay);
    assert.equal(await page.locator("#sso-failure").getAttribute("data-check"), "state");
    assert.match(await page.textContent("body"), /No session was opened/);
    await context.close();
  });

  await t.test("a replayed callback in another browser opens nothing", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(replay);
    assert.equal(await page.locator("#sso-failure").getAttribute("data-check"), "state");
    await page.goto(`${base}/tokens`);
    assert.equal(new URL(page.url()).pathname, "/login", "no session");
    await context.close();
  });

  await t.test("someone nobody knows is told to ask an admin", async () => {
    const { context, page } = await signIn("stranger@elsewhere.example");
    assert.match(await page.textContent("#sso-failure"), /Ask an admin/);
    await page.goto(`${base}/tokens`);
    assert.equal(new URL(page.url()).pathname, "/login");
    await context.close();
  });

  await t.test("an allowed domain lets a new person in with the default role", async () => {
    const set = await api("PATCH", "/org", { sso: { allowed_domains: ["Example.com"], default_role: "writer" } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    assert.deepEqual(set.body.sso.allowed_domains, ["example.com"]);
    const { context, page } = await signIn("newcomer");
    assert.equal(new URL(page.url()).pathname, "/tokens");
    const members = await api("GET", "/members");
    const joined = members.body.items.find((m) => m.email === "newcomer@example.com");
    assert.ok(joined, "the newcomer is a member");
    assert.equal(joined.role, "writer");
    await context.close();

    assert.equal(joined.external_id, "newcomer");

    // Back again once the domain no longer admits anyone: found by `sub`
    // (a member with an external id is never matched by email).
    const closed = await api("PATCH", "/org", { sso: { allowed_domains: [] } });
    assert.equal(closed.status, 200);
    const back = await signIn("newcomer");
    assert.equal(new URL(back.page.url()).pathname, "/tokens");
    await back.context.close();

    // Unverified emails are never admitted by domain.
    await api("PATCH", "/org", { sso: { allowed_domains: ["example.com"] } });
    const again = await signIn("unverified-person");
    assert.match(await again.page.textContent("#sso-failure"), /Ask an admin/);
    await again.context.close();
  });
});
