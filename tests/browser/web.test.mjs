// Browser tests of Tessera's web page: the real `tessera` binary on a
// temporary SQLite file and a free port, driven by playwright-core in
// Debian's chromium. Writes screenshots of the main screens to
// docs/screenshots/.
//
// Environment: TESSERA_BIN (default: $CARGO_TARGET_DIR or ../../target,
// then debug/tessera), CHROMIUM (default /usr/bin/chromium).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import { BIN, CHROMIUM, freePort, root, waitHealthy } from "./common.mjs";

const SHOTS = path.join(root, "docs", "screenshots");
const EMAIL = "owner@acme.test";
const PASSWORD = "owner-password-1";

let work, server, serverLog = "", base, ownerToken, context, page;
// Every request a page made to anything but this server (checked last:
// a failed assertion inside an event listener would not fail a step).
const external = [];

/** The API as a script would call it, with a token. */
async function api(method, route, token, body) {
  const response = await fetch(`${base}/api/v1${route}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function ownerTokenNames() {
  const list = await api("GET", "/tokens", ownerToken);
  assert.equal(list.status, 200);
  return list.body.items.map((t) => t.name);
}

async function shot(name, options = {}) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true, ...options });
}

/**
 * A screenshot for the docs with `secret` replaced by a placeholder of the
 * same length, so no real (if short-lived) value is committed.
 */
async function shotWithoutSecrets(name, secret) {
  await page.evaluate((s) => {
    const keep = s.startsWith("tsr_") ? 4 : 0;
    const fake = (v) => v.replaceAll(s, s.slice(0, keep) + "EXAMPLE".padEnd(s.length - keep, "x"));
    for (const el of document.querySelectorAll("[data-secret]")) {
      if (el.tagName === "INPUT") {
        el.value = fake(el.value);
        el.setAttribute("value", el.value);
      } else {
        el.textContent = fake(el.textContent);
      }
    }
  }, secret);
  assert.ok(!(await page.content()).includes(secret));
  await shot(name);
}

/** The error message rendered next to a field, by its id. */
async function fieldError(id) {
  const error = page.locator(`#${id}`);
  await error.waitFor();
  return (await error.textContent()).trim();
}

/**
 * Waits until the element with this id has the focus. Chromium applies
 * `autofocus` at its next rendering step, which can come after the load
 * event that navigation waits for, so reading `activeElement` once races.
 */
async function focusReaches(id, message) {
  try {
    await page.waitForFunction((want) => document.activeElement?.id === want, id, { timeout: 5000 });
  } catch {
    assert.equal(await page.evaluate(() => document.activeElement?.id), id, message);
  }
}

before(async () => {
  work = mkdtempSync(path.join(tmpdir(), "tessera-browser-"));
  mkdirSync(SHOTS, { recursive: true });
  const db = `sqlite://${path.join(work, "tessera.db")}`;
  const init = spawnSync(
    BIN,
    ["init", "--database-url", db, "--org", "acme", "--email", EMAIL, "--password-stdin", "--print-token"],
    { input: `${PASSWORD}\n`, encoding: "utf8" },
  );
  assert.equal(init.status, 0, `tessera init failed: ${init.stderr}`);
  ownerToken = init.stdout.trim().split("\n").pop();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = spawn(BIN, ["serve", "--database-url", db, "--listen", `127.0.0.1:${port}`], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, TESSERA_LOG: "warn" },
  });
  server.stdout.on("data", (d) => { serverLog += d; });
  server.stderr.on("data", (d) => { serverLog += d; });
  await waitHealthy(base, () => serverLog);
  context = await chromium.launchPersistentContext(path.join(work, "profile"), {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 1280, height: 800 },
  });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
  // The page makes no request to anything but this server.
  context.on("request", (request) => {
    if (new URL(request.url()).origin !== base) external.push(request.url());
  });
  page = context.pages()[0] ?? (await context.newPage());
});

after(async () => {
  await context?.close();
  if (server) {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

test("the tokens page, end to end in chromium", async (t) => {
  let value, tokenName = "CI deploy";

  await t.test("log in", async () => {
    await page.goto(`${base}/tokens`);
    assert.match(new URL(page.url()).pathname, /^\/login$/);
    await focusReaches("email", "focus starts in the email field");
    await page.fill("#email", EMAIL);
    await page.fill("#password", "wrong password");
    await page.click("button[type=submit]");
    assert.match(await page.locator("#login-error").textContent(), /Wrong email or password/);
    await shot("login");
    await page.fill("#password", PASSWORD);
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/tokens`);
    assert.equal(await page.locator("h1").textContent(), "My tokens");
  });

  await t.test("bad input: a message next to the field, nothing saved", async () => {
    const before = await ownerTokenNames();
    await page.goto(`${base}/tokens/new`);
    await page.fill("#name", "");
    await page.click("text=Create token");
    assert.match(await fieldError("name-error"), /must not be empty/i);
    await focusReaches("name", "focus moves to the field");

    await page.fill("#name", "bad policy");
    await page.check("#scope-policy");
    await page.fill("#policy", '[{"effect": "allow", ');
    await page.click("text=Create token");
    assert.match(await fieldError("policy-error"), /not a valid policy/i);
    await shot("create-token-error");

    await page.check("#scope-inherit");
    await page.fill("#name", "in the past");
    await page.check("#exp-custom");
    await page.fill("#expires_on", "2001-01-01");
    await page.click("text=Create token");
    assert.match(await fieldError("expires_at-error"), /future/i);
    assert.deepEqual(await ownerTokenNames(), before, "nothing was saved");
  });

  await t.test("create a token and read it from the page, once", async () => {
    await page.goto(`${base}/tokens`);
    await page.click("text=Create new token");
    await page.fill("#name", tokenName);
    await page.check("#scope-role");
    await page.selectOption("#role", "writer");
    await page.check("#exp-30");
    await shot("create-token");
    await page.click("text=Create token");
    await page.locator("h1", { hasText: "Token created" }).waitFor();
    value = await page.inputValue("#token-value");
    assert.match(value, /^tsr_[0-9A-Za-z]{65}$/);
    assert.match(await page.textContent("body"), /will not be shown again/);
    assert.match(await page.textContent("body"), new RegExp(`Authorization: Bearer ${value}`));
    assert.match(await page.textContent("body"), new RegExp(`export TESSERA_TOKEN=${value}`));
    await page.click("[data-copy]");
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), value, "Copy puts it on the clipboard");
    await page.locator("[data-copy-status]", { hasText: "Copied" }).waitFor();
    await shotWithoutSecrets("token-created", value);
  });

  await t.test("the token works against the API", async () => {
    const me = await api("GET", "/me", value);
    assert.equal(me.status, 200);
    assert.equal(me.body.token.name, tokenName);
    assert.equal(me.body.token.role, "writer");
  });

  await t.test("listed by snippet; the value is nowhere after reload or back", async () => {
    const me = await api("GET", "/me", value);
    await page.click("text=I have copied it");
    await page.waitForURL(`${base}/tokens`);
    const row = page.locator("tr", { hasText: tokenName });
    assert.equal(await row.locator(".snippet").textContent(), me.body.token.snippet);
    assert.ok(!(await page.content()).includes(value));
    await page.reload();
    assert.ok(!(await page.content()).includes(value), "not after reload");
    try { await page.goBack(); } catch { /* a no-store POST answer is not re-shown */ }
    assert.ok(!(await page.content()).includes(value), "not after going back");
    await page.goto(`${base}/tokens`);
    assert.match(await row.textContent(), /Role: writer/);
    await shot("tokens");
  });

  await t.test("rename it and change its scope; clone it", async () => {
    await page.goto(`${base}/tokens`);
    await page.click(`a:text-is("${tokenName}")`);
    // The edit form starts from the token as it is.
    assert.equal(await page.inputValue("#name"), tokenName);
    assert.ok(await page.isChecked("#scope-role"));
    tokenName = "CI deploy, read only";
    await page.fill("#name", tokenName);
    await page.selectOption("#role", "reader");
    await page.click("text=Save changes");
    await page.waitForURL(/\/tokens\/[0-9A-Za-z]{27}\?done=saved$/);
    assert.match(await page.textContent("[role=status]"), /saved/);
    assert.equal(await page.locator("h1").textContent(), tokenName);
    const me = await api("GET", "/me", value);
    assert.equal(me.status, 200, "renaming keeps the value");
    assert.equal(me.body.token.name, tokenName);
    assert.equal(me.body.token.role, "reader");

    // Clone: a new token with the same scope, its value shown once.
    await page.fill("#clone-name", "Nightly build");
    await page.click("text=Clone token");
    await page.locator("h1", { hasText: "Token cloned" }).waitFor();
    const copy = await page.inputValue("#token-value");
    assert.notEqual(copy, value);
    assert.match(await page.textContent("body"), /will not be shown again/);
    const cloned = await api("GET", "/me", copy);
    assert.equal(cloned.status, 200);
    assert.equal(cloned.body.token.name, "Nightly build");
    assert.equal(cloned.body.token.role, "reader");
    assert.notEqual(cloned.body.token.id, me.body.token.id);
    await page.click("text=I have copied it");
    await page.waitForURL(`${base}/tokens`);
    assert.equal(await page.locator("tr", { hasText: "Nightly build" }).count(), 1);
    assert.ok(!(await page.content()).includes(copy));
  });

  await t.test("its access: addresses, a rate limit, a quota, and its uses", async () => {
    const id = (await api("GET", "/me", value)).body.token.id;
    const controls = async () => {
      const t = (await api("GET", `/tokens/${id}`, ownerToken)).body;
      return { ips: t.allowed_ips ?? null, rate: t.rate_limit ?? null, quota: t.quota ?? null };
    };
    const save = async () => {
      await page.click("text=Save access");
      await page.waitForURL(/\?done=saved#access-h$/);
    };
    await page.goto(`${base}/tokens/${id}`);
    assert.match(await page.textContent("#access-summary"), /From any address/);
    // Half a rate limit: a message next to its fields, nothing saved.
    await page.fill("#rate_requests", "100");
    await page.click("text=Save access");
    assert.match(await fieldError("rate_limit-error"), /both the number of uses and the period/);
    assert.deepEqual(await controls(), { ips: null, rate: null, quota: null });

    await page.fill("#allowed_ips", "127.0.0.0/8\n::1/128");
    await page.fill("#rate_seconds", "60");
    await page.fill("#quota", "1000");
    await page.fill("#refill_amount", "1000");
    await page.selectOption("#refill_interval", "month");
    await save();
    assert.match(await page.textContent("#access-summary"),
      /From 127\.0\.0\.0\/8, ::1\/128; at most 100 uses per 60 s; 1000 uses left/);
    const set = await controls();
    assert.deepEqual(set.ips, ["127.0.0.0/8", "::1/128"]);
    assert.deepEqual(set.rate, { requests: 100, per_seconds: 60 });
    assert.equal(set.quota.remaining, 1000);
    assert.deepEqual(set.quota.refill, { amount: 1000, interval: "month" });
    // Used from here (allowed), and the use is on the page's chart.
    assert.equal((await api("GET", "/me", value)).status, 200);
    await page.reload();
    assert.match(await page.textContent("#usage-h"), /Uses in the last 30 days: [1-9]/);
    await shot("token-access");

    // Only from elsewhere: refused here, and the refusal says why.
    await page.fill("#allowed_ips", "10.0.0.0/8");
    await save();
    const refused = await api("GET", "/me", value);
    assert.equal(refused.status, 401);
    assert.match(JSON.stringify(refused.body), /ip_not_allowed/);

    // Empty fields remove every control.
    for (const field of ["#allowed_ips", "#rate_requests", "#rate_seconds", "#quota", "#refill_amount"]) {
      await page.fill(field, "");
    }
    await page.selectOption("#refill_interval", "");
    await save();
    assert.match(await page.textContent("#access-summary"), /From any address/);
    assert.deepEqual(await controls(), { ips: null, rate: null, quota: null });
    assert.equal((await api("GET", "/me", value)).status, 200);
  });

  await t.test("rotate it: new value, old one refused, once an hour", async () => {
    await page.goto(`${base}/tokens`);
    await page.click(`a:text-is("${tokenName}")`);
    await page.check("#exp-90");
    await shot("token-detail");
    await page.click("text=Rotate token");
    await page.locator("h1", { hasText: "Token rotated" }).waitFor();
    const rotated = await page.inputValue("#token-value");
    assert.notEqual(rotated, value);
    assert.equal((await api("GET", "/me", value)).status, 401, "the old value stops at once");
    assert.equal((await api("GET", "/me", rotated)).status, 200);
    value = rotated;
    // The once-an-hour rule, as a message next to the expiry.
    await page.goto(`${base}/tokens`);
    await page.click(`a:text-is("${tokenName}")`);
    await page.check("#exp-30");
    await page.click("text=Rotate token");
    assert.match(await fieldError("expires_at-error"), /at most once per hour/);
  });

  await t.test("a token that never expires: set an expiry first, then rotate", async () => {
    await page.goto(`${base}/tokens/new`);
    await page.fill("#name", "forever");
    await page.check("#exp-none");
    await page.click("text=Create token");
    await page.locator("h1", { hasText: "Token created" }).waitFor();
    const forever = await page.inputValue("#token-value");
    await page.click("text=I have copied it");
    await page.click('a:text-is("forever")');
    // No Rotate form that could only be refused: the expiry form instead.
    assert.equal(await page.locator("text=Rotate token").count(), 0);
    assert.match(await page.textContent("#no-expiry"), /never expires/);
    await page.check("#exp-7");
    await page.click("text=Set expiry");
    await page.waitForURL(/\/tokens\/[0-9A-Za-z]{27}\?done=expiry$/);
    assert.match(await page.textContent("[role=status]"), /expiry was set/);
    const me = await api("GET", "/me", forever);
    assert.ok(me.body.token.expires_at, "the token now expires");
    await page.check("#exp-30");
    await page.click("text=Rotate token");
    await page.locator("h1", { hasText: "Token rotated" }).waitFor();
    assert.equal((await api("GET", "/me", forever)).status, 401, "the old value stops");
    await page.click("text=I have copied it");
  });

  await t.test("delete it, after a confirmation that names it", async () => {
    await page.goto(`${base}/tokens`);
    await page.locator("tr", { hasText: tokenName }).locator("a.danger").click();
    assert.match(await page.locator("h1").textContent(), new RegExp(`Delete the token “${tokenName}”`));
    await shot("delete-confirm");
    await page.click(`button:text-is("Delete “${tokenName}”")`);
    await page.waitForURL(/\/tokens\?done=deleted$/);
    assert.match(await page.textContent("[role=status]"), /deleted/);
    assert.equal(await page.locator("tr", { hasText: tokenName }).count(), 0);
    assert.equal((await api("GET", "/me", value)).status, 401, "a deleted token is refused");
  });

  await t.test("an admin adds a member, sees their tokens, then removes them", async () => {
    await page.click("nav >> text=Members");
    await page.fill("#email", "dana@acme.test");
    await page.fill("#name", "Dana");
    await page.selectOption("#role", "writer");
    await page.click("text=Add member");
    const password = await page.inputValue("#initial-password");
    assert.ok(password.length >= 16, "a generated password is shown once");
    await shotWithoutSecrets("members", password);

    // Dana logs in with it (through the API) and makes a token.
    const login = await fetch(`${base}/api/v1/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "dana@acme.test", password }),
    });
    assert.equal(login.status, 200);
    const cookie = login.headers.get("set-cookie").split(";")[0];
    // A token of Dana's, expiring in a day; its value.
    const danaMakes = async (name) => {
      const made = await fetch(`${base}/api/v1/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json", cookie },
        body: JSON.stringify({ name, expires_at: new Date(Date.now() + 86400e3).toISOString() }),
      });
      assert.equal(made.status, 201, name);
      return (await made.json()).token;
    };
    const danaToken = await danaMakes("dana laptop");
    const danaCi = await danaMakes("dana ci");

    await page.goto(`${base}/admin/members`);
    await page.locator("tr", { hasText: "dana@acme.test" }).locator("text=Roles and tokens").click();
    assert.match(await page.textContent("body"), /dana laptop/);
    assert.ok(!(await page.content()).includes(danaToken), "an admin never sees values");
    await shot("member");

    // The admin deletes one of them, after a confirmation that names it.
    const memberPage = page.url();
    await page.locator("tr", { hasText: "dana ci" }).locator("a.danger").click();
    assert.match(await page.locator("h1").textContent(), /Delete the token “dana ci”/);
    await page.click('button:text-is("Delete “dana ci”")');
    await page.waitForURL(`${memberPage}?done=deleted`);
    assert.equal(await page.locator("tr", { hasText: "dana ci" }).count(), 0);
    assert.equal(await page.locator("tr", { hasText: "dana laptop" }).count(), 1);
    assert.equal((await api("GET", "/me", danaCi)).status, 401, "the deleted token is refused");
    assert.equal((await api("GET", "/me", danaToken)).status, 200, "the other one still works");

    await page.goto(`${base}/admin/members`);
    await page.locator("tr", { hasText: "dana@acme.test" }).locator("a.danger").click();
    assert.match(await page.textContent("[role=alert]"), /tokens? .*stops? working/i);
    await page.click("button:text-is('Remove dana@acme.test')");
    await page.waitForURL(/\/admin\/members\?done=removed$/);
    assert.equal(await page.locator("tr", { hasText: "dana@acme.test" }).count(), 0);
    assert.equal((await api("GET", "/me", danaToken)).status, 401, "their tokens stop working");
  });

  await t.test("roles, projects, policy and the audit log", async () => {
    await page.click("nav >> text=Roles");
    await page.fill("#key", "deployer");
    await page.fill("#policy", "not json");
    await page.click("text=Create role");
    assert.match(await fieldError("policy-error"), /not a valid policy/i);
    await page.fill("#policy", '[{"effect": "allow", "actions": ["deploy:*"], "resources": ["proj/*"]}]');
    // Checked on the server, said in words, nothing saved yet.
    await page.click("text=Check the policy");
    assert.match(await page.textContent("#policy-summary"), /Allows deploy:\* on proj\/\*/);
    await page.click("summary:text-is('Actions and resources you can name')");
    assert.ok(await page.isVisible("code:text-is('token:rotate')"), "the known actions are listed");
    assert.equal((await api("GET", "/roles", ownerToken)).body.items.length, 0);
    await page.click("text=Create role");
    await page.waitForURL(/done=created/);
    assert.match(await page.textContent("table"), /deployer/);

    await page.click("nav >> text=Projects");
    await page.fill("#key", "web");
    await page.fill("#name", "Web shop");
    await page.click("text=Create project");
    await page.waitForURL(/done=created/);
    assert.match(await page.textContent("table"), /Web shop/);

    await page.click("nav >> text=Token policy");
    await page.fill("#max_lifetime_days", "0");
    await page.click("text=Save policy");
    assert.match(await fieldError("max-error"), /between 1 and/);
    await page.fill("#max_lifetime_days", "60");
    await page.check("#require_expiration");
    await page.click("text=Save policy");
    await page.waitForURL(/done=saved/);
    const org = await api("GET", "/org", ownerToken);
    assert.deepEqual(org.body.token_policy, {
      require_expiration: true,
      max_lifetime_days: 60,
      // Untouched by this form's two fields: the inactivity rule stays off.
      inactive_days: null,
      inactive_action: "disable",
      expiry_warning_days: [7, 1],
    });

    // The create form now follows the policy: no 90-day preset, no "Never".
    await page.goto(`${base}/tokens/new`);
    assert.equal(await page.locator("#exp-90").count(), 0);
    assert.equal(await page.locator("#exp-none").count(), 0);

    await page.click("nav >> text=Audit log");
    await page.fill("#action", "member:");
    await page.click("text=Filter");
    const actions = await page.locator("td[data-label=Action]").allTextContents();
    assert.ok(actions.includes("member:delete") && actions.includes("member:create"), actions.join());
    assert.ok(actions.every((a) => a.startsWith("member:")), actions.join());
    await page.click("text=Clear");
    await shot("audit");
  });

  await t.test("accessible: labels, linked errors, keyboard and visible focus", async () => {
    // Every visible form control has a label, and every aria-describedby
    // points at an element that exists, on every main screen (and on a
    // form showing errors).
    const unlabelled = () => page.evaluate(() => {
      const problems = [];
      for (const el of document.querySelectorAll("input, select, textarea")) {
        if (el.type === "hidden") continue;
        const named = el.labels?.length || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
        if (!named) problems.push(`no label: ${el.outerHTML.slice(0, 80)}`);
      }
      for (const el of document.querySelectorAll("[aria-describedby]")) {
        for (const id of el.getAttribute("aria-describedby").split(/\s+/)) {
          if (!document.getElementById(id)) problems.push(`missing #${id}`);
        }
      }
      const ids = [...document.querySelectorAll("[id]")].map((e) => e.id);
      const twice = ids.filter((id, i) => ids.indexOf(id) !== i);
      if (twice.length) problems.push(`duplicate ids: ${twice}`);
      return problems;
    });
    const id = (await api("GET", "/tokens", ownerToken)).body.items[0].id;
    for (const route of ["/tokens", "/tokens/new", `/tokens/${id}`, "/account", "/admin/members",
      "/admin/roles", "/admin/projects", "/admin/policy", "/admin/audit"]) {
      await page.goto(`${base}${route}`);
      assert.deepEqual(await unlabelled(), [], route);
    }
    await page.goto(`${base}/tokens/new`);
    await page.check("#scope-policy");
    await page.fill("#policy", "[");
    await page.check("#exp-custom");
    await page.click("text=Create token");
    await fieldError("policy-error");
    assert.deepEqual(await unlabelled(), [], "the form with errors");
    assert.equal(await page.getAttribute("#policy", "aria-describedby"), "policy-error");

    // Keyboard only: the skip link comes first, focus is visible, and a
    // token can be created without a mouse.
    await page.goto(`${base}/tokens`);
    await page.keyboard.press("Tab");
    const first = await page.evaluate(() => {
      const el = document.activeElement;
      return { text: el.textContent, outline: getComputedStyle(el).outlineStyle };
    });
    assert.equal(first.text, "Skip to content");
    assert.notEqual(first.outline, "none", "focus is visible");
    let reached = false;
    for (let i = 0; i < 40 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate(() => document.activeElement.textContent === "Create new token");
    }
    assert.ok(reached, "Create new token is reachable with Tab");
    await page.keyboard.press("Enter");
    await page.waitForURL(`${base}/tokens/new`);
    await focusReaches("name", "the new token form starts in its name field");
    await page.keyboard.type("typed with the keyboard");
    await page.keyboard.press("Enter");
    await page.locator("h1", { hasText: "Token created" }).waitFor();
  });

  await t.test("works without JavaScript", async () => {
    const plain = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
    });
    try {
      const noJs = await plain.newContext({ javaScriptEnabled: false });
      noJs.on("request", (request) => {
        if (new URL(request.url()).origin !== base) external.push(request.url());
      });
      const p = await noJs.newPage();
      await p.goto(`${base}/login`);
      await p.fill("#email", EMAIL);
      await p.fill("#password", PASSWORD);
      await p.click("button[type=submit]");
      await p.waitForURL(`${base}/tokens`);
      await p.goto(`${base}/tokens/new`);
      // Every part of the form is there to use (the script only hides
      // the parts that do not apply).
      assert.ok(await p.isVisible("#policy"));
      assert.ok(await p.isVisible("#expires_on"));
      await p.fill("#name", "no script");
      await p.check("#scope-role");
      await p.selectOption("#role", "reader");
      await p.check("#exp-custom");
      const soon = new Date(Date.now() + 10 * 86400e3).toISOString().slice(0, 10);
      await p.fill("#expires_on", soon);
      await p.click("text=Create token");
      await p.locator("h1", { hasText: "Token created" }).waitFor();
      const plainValue = await p.inputValue("#token-value");
      const me = await api("GET", "/me", plainValue);
      assert.equal(me.status, 200);
      assert.equal(me.body.token.role, "reader");
      assert.ok(me.body.token.expires_at.startsWith(soon), me.body.token.expires_at);
      await p.goto(`${base}/tokens`);
      assert.ok(!(await p.content()).includes(plainValue));
      // Delete with its confirmation, still without a script.
      await p.locator("tr", { hasText: "no script" }).locator("a.danger").click();
      await p.click('button:text-is("Delete “no script”")');
      await p.waitForURL(/\/tokens\?done=deleted$/);
      assert.equal((await api("GET", "/me", plainValue)).status, 401);
    } finally {
      await plain.close();
    }
  });

  await t.test("readable at phone width", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const route of ["/tokens/new", "/admin/members", "/admin/audit", "/tokens"]) {
      await page.goto(`${base}${route}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(wide <= 390, `${route}: no sideways scrolling (page is ${wide}px wide)`);
    }
    await shot("tokens-phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  await t.test("an unknown page is a page; the icon is there", async () => {
    const missing = await page.goto(`${base}/no/such/page`);
    assert.equal(missing.status(), 404);
    assert.match(await page.textContent("[role=alert]"), /no page at this address/);
    const icon = await page.goto(`${base}/favicon.ico`);
    assert.equal(icon.status(), 200);
    assert.equal(icon.headers()["content-type"], "image/svg+xml");
    await page.goto(`${base}/tokens`);
  });

  await t.test("log out", async () => {
    await page.click("text=Log out");
    await page.waitForURL(/\/login\?bye=1$/);
    assert.match(await page.textContent("[role=status]"), /logged out/);
    await page.goto(`${base}/tokens`);
    assert.match(new URL(page.url()).pathname, /^\/login$/);
  });

  await t.test("no request went anywhere but this server", () => {
    assert.deepEqual(external, []);
  });
});
