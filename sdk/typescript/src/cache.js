import { createHash } from 'node:crypto';

/**
 * A small in-memory cache of `/verify` answers.
 *
 * A service verifies the same token on every request; asking Tessera each
 * time costs a round trip. Answers are kept for a few seconds, which is
 * also how long a revocation may take to be noticed here.
 *
 * Keys are SHA-256 digests of the question, never the token itself, so a
 * heap dump or a debugger view of the cache shows no token.
 */
export class VerifyCache {
  /** @type {Map<string, {expires: number, value: unknown}>} */
  #entries = new Map();
  #ttlMs;
  #maxEntries;

  /**
   * @param {number} ttlMs how long an answer is reused; 0 disables the cache
   * @param {number} maxEntries beyond this, the oldest entries are dropped,
   *                            so a flood of distinct tokens cannot grow
   *                            memory without bound
   */
  constructor(ttlMs, maxEntries = 10_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  get enabled() {
    return this.#ttlMs > 0;
  }

  /**
   * @param {string} token
   * @param {{action?: string, resource?: string, ip?: string}} question
   */
  static key(token, question) {
    // JSON keeps the parts apart: no choice of action or resource can make
    // two different questions hash alike.
    const parts = [token, question.action ?? null, question.resource ?? null, question.ip ?? null];
    return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
  }

  /**
   * @param {string} key
   * @returns {any} a copy of what `set` was given, or undefined
   */
  get(key) {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    // A copy: a caller changing its answer must not change the next one.
    return structuredClone(entry.value);
  }

  /**
   * @param {string} key
   * @param {unknown} value
   * @param {number} [notAfter] epoch ms after which the answer is wrong
   *                            anyway (the token expires): never kept longer
   */
  set(key, value, notAfter) {
    if (!this.enabled) return;
    // An unparsable expiry (NaN) must not make an entry immortal.
    const expires = Math.min(Date.now() + this.#ttlMs, Number.isFinite(notAfter) ? notAfter : Infinity);
    if (expires <= Date.now()) return;
    this.#entries.delete(key);
    this.#entries.set(key, { expires, value: structuredClone(value) });
    if (this.#entries.size > this.#maxEntries) {
      // Maps iterate in insertion order: the first key is the oldest.
      this.#entries.delete(this.#entries.keys().next().value);
    }
  }

  clear() {
    this.#entries.clear();
  }
}
