import { VerifyCache } from './cache.js';
import { TesseraError } from './errors.js';
import { VERIFIED_TOKEN, VERIFY_REQUEST, VERIFY_RESULT, fromWire, toWire } from './fields.js';
import { request } from './http.js';
import { Tokens } from './tokens.js';

/** Long enough to spare Tessera a request per request, short enough that a revocation lands soon. */
export const DEFAULT_CACHE_TTL_MS = 10_000;
export const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A client of one Tessera server.
 *
 * Both settings come from the options or, when left out, from the
 * environment (`TESSERA_URL`, `TESSERA_TOKEN`), so `new Tessera()` works
 * in a configured deployment. The URL is needed at once; the token only
 * for the token API (`/verify` needs no credential of the caller's own),
 * so a service that only verifies tokens does not have to hold one.
 */
export class Tessera {
  // Private fields: util.inspect, console.log and JSON.stringify cannot
  // reach them, so logging the client never prints its token.
  #token;
  #url;
  #timeoutMs;
  #cache;

  /**
   * @param {object} [options]
   * @param {string} [options.token]      default: `TESSERA_TOKEN`
   * @param {string} [options.url]        default: `TESSERA_URL`
   * @param {number} [options.cacheTtlMs] how long verify answers are reused; 0 disables
   * @param {number} [options.timeoutMs]  deadline of a whole request, answer included
   */
  constructor(options = {}) {
    const { token, url, cacheTtlMs = DEFAULT_CACHE_TTL_MS, timeoutMs = DEFAULT_TIMEOUT_MS } = options;
    this.#url = baseUrl(url ?? nonEmpty(process.env.TESSERA_URL));
    this.#token = token ?? nonEmpty(process.env.TESSERA_TOKEN);
    if (this.#token !== undefined && (typeof this.#token !== 'string' || this.#token === '')) {
      throw new TypeError('Tessera: `token` must be a non-empty string');
    }
    this.#timeoutMs = positive(timeoutMs, 'timeoutMs');
    this.#cache = new VerifyCache(nonNegative(cacheTtlMs, 'cacheTtlMs'));
    this.tokens = new Tokens((method, path, body) => this.#authenticated(method, path, body));
  }

  /** The server's URL (never secret; handy in logs). */
  get url() {
    return this.#url;
  }

  /**
   * Asks Tessera whether `token` is valid and, with `action` and
   * `resource`, whether it allows that action. Answers are cached for
   * `cacheTtlMs`; errors are not.
   *
   * @param {string} token
   * @param {import('../types/index.js').VerifyOptions} [question]
   * @returns {Promise<import('../types/index.js').VerifyResult>}
   */
  async verify(token, question = {}) {
    if (typeof token !== 'string') throw new TypeError('verify: `token` must be a string');
    question ??= {};
    const body = toWire({ token, ...question }, VERIFY_REQUEST, 'verify');
    const key = VerifyCache.key(token, question);
    const cached = this.#cache.get(key);
    if (cached) return cached;

    const answer = await request({
      base: this.#url,
      method: 'POST',
      path: '/verify',
      body,
      secrets: [token],
      timeoutMs: this.#timeoutMs,
    });
    const result = verifyResult(answer, question.action !== undefined);
    // An answer about a token must not outlive the token.
    const expires = result.token?.expiresAt ? Date.parse(result.token.expiresAt) : undefined;
    this.#cache.set(key, result, expires);
    return result;
  }

  /** Forgets every cached verify answer (after revoking a token here, say). */
  clearCache() {
    this.#cache.clear();
  }

  #authenticated(method, path, body) {
    if (!this.#token) {
      throw new TesseraError(
        'missing_configuration',
        'Tessera: the token API needs a token: pass `token` or set TESSERA_TOKEN',
        0,
      );
    }
    return request({ base: this.#url, method, path, body, credential: this.#token, timeoutMs: this.#timeoutMs });
  }

  toString() {
    return `Tessera(${this.#url})`;
  }

  toJSON() {
    return { url: this.#url };
  }

  [Symbol.for('nodejs.util.inspect.custom')]() {
    return `Tessera { url: '${this.#url}' }`;
  }
}

/**
 * A `/verify` answer, checked field by field: the middleware lets requests
 * in on `valid` and `allowed`, so an answer of another shape (a proxy's
 * `{"valid": "yes"}`, say) must be an error, never taken for a yes.
 *
 * @param {Record<string, any>} answer a JSON object
 * @param {boolean} asked whether an action was asked about (then `allowed` must be there)
 */
function verifyResult(answer, asked) {
  const bad = (field) =>
    new TesseraError('bad_response', `POST /verify: field "${field}" missing or of the wrong type`, 200);
  if (typeof answer.valid !== 'boolean') throw bad('valid');
  if (typeof answer.code !== 'string') throw bad('code');
  if (asked ? typeof answer.allowed !== 'boolean' : answer.allowed != null && typeof answer.allowed !== 'boolean') {
    throw bad('allowed');
  }
  const result = fromWire(answer, VERIFY_RESULT);
  if (result.allowed === null) delete result.allowed;
  delete result.token;
  const token = answer.token;
  if (token == null) {
    if (answer.valid) throw bad('token'); // a valid answer always says whose token it is
    return result;
  }
  if (typeof token !== 'object' || Array.isArray(token)) throw bad('token');
  for (const field of ['id', 'name', 'org']) {
    if (typeof token[field] !== 'string') throw bad(`token.${field}`);
  }
  // Whose token: a member's (`member`) or a service account's
  // (`service_account`), exactly one of the two.
  const account = token.service_account;
  const accountOk =
    account != null && typeof account === 'object' && typeof account.id === 'string' && typeof account.name === 'string';
  if (typeof token.member === 'string' ? account != null : !(token.member == null && accountOk)) {
    throw bad('token.member');
  }
  if (!Array.isArray(token.projects) || !token.projects.every((p) => typeof p === 'string')) {
    throw bad('token.projects');
  }
  const expires = token.expires_at;
  if (expires != null && (typeof expires !== 'string' || Number.isNaN(Date.parse(expires)))) {
    throw bad('token.expires_at');
  }
  if (token.external_id != null && typeof token.external_id !== 'string') throw bad('token.external_id');
  result.token = fromWire(token, VERIFIED_TOKEN);
  // A server older than the platform API does not send it.
  result.token.externalId ??= null;
  return result;
}

function nonEmpty(value) {
  return value === undefined || value === '' ? undefined : value;
}

/** Checks the URL once, here, rather than failing on the first request. */
function baseUrl(url) {
  if (url === undefined) {
    throw new TesseraError('missing_configuration', 'Tessera: no server URL: pass `url` or set TESSERA_URL', 0);
  }
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    // Not echoed: a mistyped URL may still hold a credential.
    throw new TesseraError('missing_configuration', 'Tessera: `url` (or TESSERA_URL) is not a URL', 0);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new TesseraError('missing_configuration', `Tessera: the URL must be http(s): ${parsed.protocol}`, 0);
  }
  if (parsed.username || parsed.password || parsed.search || parsed.hash) {
    throw new TesseraError('missing_configuration', 'Tessera: the URL must not carry credentials, a query or a fragment', 0);
  }
  // A server behind a path prefix keeps it: https://example.com/tessera.
  return parsed.href.replace(/\/+$/, '');
}

function nonNegative(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`Tessera: \`${name}\` must be a number ≥ 0`);
  }
  return value;
}

function positive(value, name) {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Tessera: \`${name}\` must be a number > 0`);
  }
  return value;
}
