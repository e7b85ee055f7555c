import { TesseraError } from './errors.js';
import { CREATED_TOKEN, CREATE_TOKEN_REQUEST, ROTATE_TOKEN_REQUEST, TOKEN_METADATA, fromWire, toWire } from './fields.js';

/**
 * The token API (`/tokens`), called with the SDK's own token. Reached as
 * `tessera.tokens`.
 */
export class Tokens {
  #call;

  /** @param {(method: string, path: string, body?: unknown) => Promise<any>} call */
  constructor(call) {
    this.#call = call;
  }

  /** The caller's own tokens, newest first (metadata only). */
  async list() {
    const { items } = await this.#call('GET', '/tokens');
    if (!Array.isArray(items)) {
      throw new TesseraError('bad_response', 'GET /tokens: the answer has no `items` list', 200);
    }
    return items.map((item) => fromWire(item, TOKEN_METADATA));
  }

  /** One token's metadata; `id` may be `"self"`. */
  async get(id) {
    return fromWire(await this.#call('GET', `/tokens/${tokenId(id)}`), TOKEN_METADATA);
  }

  /** Creates a token; the answer's `token` is the only time it is shown. */
  async create(options) {
    if (!options || typeof options.name !== 'string') {
      throw new TypeError('tokens.create: `name` is required');
    }
    const body = toWire(options, CREATE_TOKEN_REQUEST, 'tokens.create');
    return fromWire(await this.#call('POST', '/tokens', body), CREATED_TOKEN);
  }

  /** A new secret for the token; the old one stops working (after `gracePeriodSeconds`). */
  async rotate(id, options) {
    if (!options || options.expiresAt === undefined) {
      throw new TypeError('tokens.rotate: `expiresAt` is required');
    }
    const body = toWire(options, ROTATE_TOKEN_REQUEST, 'tokens.rotate');
    return fromWire(await this.#call('POST', `/tokens/${tokenId(id)}/rotate`, body), CREATED_TOKEN);
  }

  /** Deletes (revokes) the token at once. */
  async delete(id) {
    await this.#call('DELETE', `/tokens/${tokenId(id)}`);
  }
}

/** Ids go into the path: encode them so no id can reach another route. */
function tokenId(id) {
  if (typeof id !== 'string' || id === '') throw new TypeError('a token id must be a non-empty string');
  return encodeURIComponent(id);
}
