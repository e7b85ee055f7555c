// Type declarations for @tessera/client (the code is plain ESM JavaScript
// in src/; these are written by hand and checked by the tests: they compile
// under `tsc --strict`, and the drift test compares every interface below
// with the server's OpenAPI document).
//
// Naming: fields are camelCase here and snake_case on the wire
// (`expiresAt` ↔ `expires_at`); the SDK renames top-level fields both ways.
// Times are RFC 3339 strings in UTC, as the API sends them.

/** A built-in role. */
export type BuiltinRole = 'reader' | 'writer' | 'admin' | 'owner';

/** A policy statement, passed through as the API shows it (see docs/permissions.md). */
export type PolicyStatement = Record<string, unknown>;

export interface TesseraOptions {
  /** The SDK's own token, for the token API. Default: `TESSERA_TOKEN`. Not needed for `verify`. */
  token?: string;
  /** The server, e.g. `http://127.0.0.1:8080`. Default: `TESSERA_URL`. Required one way or the other. */
  url?: string;
  /** How long a verify answer is reused, in ms (default 10 000); 0 disables the cache. */
  cacheTtlMs?: number;
  /** Whole-request deadline in ms, answer body included (default 10 000); past it: `unavailable`. */
  timeoutMs?: number;
}

/** The question `verify` asks besides "is it valid". */
export interface VerifyOptions {
  /** With `resource`: is the token allowed this action (e.g. `flag:update`)? */
  action?: string;
  /** With `action`: on this resource (e.g. `proj/web:env/prod`). */
  resource?: string;
  /** The address the token was presented from; recorded as its last-used IP. */
  ip?: string;
}

/** `valid`, or why not. */
export type VerifyCode = 'valid' | 'malformed_token' | 'invalid_token' | 'token_expired' | 'token_disabled' | (string & {});

/** The answer of `POST /verify`. */
export interface VerifyResult {
  valid: boolean;
  code: VerifyCode;
  /** Present when an action was asked; `false` when the token is not valid. */
  allowed?: boolean;
  /** Present when valid. */
  token?: VerifiedToken;
}

/** The service account a valid token belongs to. */
export interface VerifiedServiceAccount {
  id: string;
  name: string;
}

/** Who a valid token belongs to: a member, or a service account. */
export interface VerifiedToken {
  id: string;
  name: string;
  /** The owner's member id; `null` for a service account's token. */
  member: string | null;
  /** The member's id in the host product; `null` for a member made in Tessera and for a service account. */
  externalId: string | null;
  /** The owning service account; `null` for a member's token. */
  serviceAccount: VerifiedServiceAccount | null;
  /** The org's key. */
  org: string;
  /** Project keys the token is restricted to; empty: not restricted. */
  projects: string[];
  expiresAt: string | null;
}

/** A token's metadata: everything but its value. */
export interface TokenMetadata {
  id: string;
  name: string;
  /** Prefix and last four characters, e.g. `tsr_...mbL7`. */
  snippet: string;
  /** The owner's member id; `null` for a service account's token. */
  memberId: string | null;
  /** The owning service account's id; `null` for a member's token. */
  serviceAccountId: string | null;
  role: BuiltinRole | null;
  customRoles: string[] | null;
  policy: PolicyStatement[] | null;
  projects: string[];
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  lastUsedIp: string | null;
  rotatedAt: string | null;
  /** When the token was disabled; `null` while it is enabled. */
  disabledAt: string | null;
}

/** The answer of create and rotate: metadata and, this once, the token string. */
export interface CreatedToken extends TokenMetadata {
  token: string;
}

/** `tokens.create` options. At most one of `role`, `customRoles`, `policy`; none: the owner's permissions. */
export interface CreateTokenOptions {
  name: string;
  role?: BuiltinRole;
  customRoles?: string[];
  policy?: PolicyStatement[];
  projects?: string[];
  /** A `Date` or an RFC 3339 string, in the future. */
  expiresAt?: Date | string;
}

/** `tokens.rotate` options. */
export interface RotateTokenOptions {
  /** The new expiry: a `Date` or an RFC 3339 string, in the future. */
  expiresAt: Date | string;
  /** Keep the old string valid this many seconds more (0–86400). */
  gracePeriodSeconds?: number;
}

/** The token API, authenticated with the client's own token. */
export declare class Tokens {
  private constructor();
  /** The caller's own tokens, newest first. */
  list(): Promise<TokenMetadata[]>;
  /** One token's metadata; `id` may be `"self"`. */
  get(id: string): Promise<TokenMetadata>;
  create(options: CreateTokenOptions): Promise<CreatedToken>;
  rotate(id: string, options: RotateTokenOptions): Promise<CreatedToken>;
  delete(id: string): Promise<void>;
}

export declare class Tessera {
  /** @throws TesseraError `missing_configuration` without a URL (option or `TESSERA_URL`). */
  constructor(options?: TesseraOptions);
  /** The server's URL. */
  readonly url: string;
  readonly tokens: Tokens;
  verify(token: string, options?: VerifyOptions): Promise<VerifyResult>;
  /** Forgets every cached verify answer. */
  clearCache(): void;
}

/** Every error the SDK throws for a failed call. */
export declare class TesseraError extends Error {
  /**
   * The API's error code (`invalid_token`, `already_exists`, …), or the
   * SDK's own: `unavailable` (no whole answer within `timeoutMs`, or a
   * gateway's 502/503/504 page), `bad_response` (an answer that is not the
   * API's: another error page, not JSON, JSON of the wrong shape),
   * `missing_configuration`.
   */
  readonly code: string;
  /** The HTTP status; 0 when there was no answer. */
  readonly status: number;
  constructor(code: string, message: string, status: number, options?: { cause?: unknown });
}

export declare const DEFAULT_CACHE_TTL_MS: number;
export declare const DEFAULT_TIMEOUT_MS: number;
