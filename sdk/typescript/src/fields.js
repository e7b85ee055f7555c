/**
 * The wire names of every object the SDK sends or receives, and their
 * camelCase names on the TypeScript side.
 *
 * This table is the only place the two spellings meet: the client maps
 * answers and requests through it, and the drift test compares it with both
 * the server's OpenAPI document and the `.d.ts` declarations, so a field
 * added on either side cannot go unnoticed.
 *
 * Only the top-level keys of an object are renamed; values (a policy's
 * statements, project keys) pass through as the API shows them.
 */

import { TesseraError } from './errors.js';

/** `POST /verify` answer (`VerifyResponse`). */
export const VERIFY_RESULT = Object.freeze({
  valid: 'valid',
  code: 'code',
  allowed: 'allowed',
  token: 'token',
});

/** The `token` inside a valid `/verify` answer (`VerifiedToken`). */
export const VERIFIED_TOKEN = Object.freeze({
  id: 'id',
  name: 'name',
  member: 'member',
  externalId: 'external_id',
  serviceAccount: 'service_account',
  org: 'org',
  projects: 'projects',
  expiresAt: 'expires_at',
});

/** Token metadata, as listed and returned (`TokenResponse`). */
export const TOKEN_METADATA = Object.freeze({
  id: 'id',
  name: 'name',
  snippet: 'snippet',
  memberId: 'member_id',
  serviceAccountId: 'service_account_id',
  role: 'role',
  customRoles: 'custom_roles',
  policy: 'policy',
  projects: 'projects',
  createdAt: 'created_at',
  expiresAt: 'expires_at',
  lastUsedAt: 'last_used_at',
  lastUsedIp: 'last_used_ip',
  rotatedAt: 'rotated_at',
  disabledAt: 'disabled_at',
});

/** Metadata plus the token string, shown once (`CreatedTokenResponse`). */
export const CREATED_TOKEN = Object.freeze({
  ...TOKEN_METADATA,
  token: 'token',
});

/** `POST /verify` body (`VerifyRequest`). */
export const VERIFY_REQUEST = Object.freeze({
  token: 'token',
  action: 'action',
  resource: 'resource',
  ip: 'ip',
});

/** `POST /tokens` body (`CreateTokenRequest`). */
export const CREATE_TOKEN_REQUEST = Object.freeze({
  name: 'name',
  role: 'role',
  customRoles: 'custom_roles',
  policy: 'policy',
  projects: 'projects',
  expiresAt: 'expires_at',
});

/** `POST /tokens/{id}/rotate` body (`RotateTokenRequest`). */
export const ROTATE_TOKEN_REQUEST = Object.freeze({
  expiresAt: 'expires_at',
  gracePeriodSeconds: 'grace_period_seconds',
});

/**
 * An API object → its SDK form: known fields renamed, unknown ones left
 * out (the SDK promises only what its types declare).
 *
 * @param {Record<string, unknown>} wire
 * @param {Readonly<Record<string, string>>} fields camelCase → wire name
 * @returns {any} shaped as the matching interface of types/index.d.ts
 */
export function fromWire(wire, fields) {
  if (wire === null || typeof wire !== 'object' || Array.isArray(wire)) {
    throw new TesseraError('bad_response', 'the answer is not a JSON object', 200);
  }
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, wireName] of Object.entries(fields)) {
    if (wireName in wire) out[name] = wire[wireName];
  }
  return out;
}

/**
 * SDK arguments → an API body: `undefined` fields are left out (so the
 * server applies its defaults), and a field the table does not know is a
 * mistake, refused here rather than silently dropped.
 *
 * @param {Record<string, unknown>} args
 * @param {Readonly<Record<string, string>>} fields camelCase → wire name
 * @param {string} what names the call in the error
 */
export function toWire(args, fields, what) {
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, value] of Object.entries(args)) {
    if (!Object.hasOwn(fields, name)) {
      throw new TypeError(`${what}: unknown option ${JSON.stringify(name)}`);
    }
    if (value !== undefined) out[fields[name]] = value instanceof Date ? rfc3339(value) : value;
  }
  return out;
}

/**
 * Whole-second UTC, as the API answers (it drops fractions anyway).
 * @param {Date} date
 */
function rfc3339(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
