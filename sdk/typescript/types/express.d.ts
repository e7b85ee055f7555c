// `@tessera/client/express`: the request and response are described by the
// few members the middleware uses, so `node:http`, Express and Connect
// objects all fit and none of them is needed to compile.

import type { Tessera, VerifyResult } from './index.js';

/** What the middleware reads from a request; `tessera` is what it sets. */
export interface TesseraRequest {
  headers: { authorization?: string | undefined; [name: string]: string | string[] | undefined };
  /** The verify answer, set before `next()` is called. */
  tessera?: VerifyResult;
}

/** What the middleware uses of a response. */
export interface TesseraResponse {
  statusCode: number;
  setHeader(name: string, value: string | number | readonly string[]): unknown;
  end(body?: string): unknown;
}

export interface RequireTokenOptions<Req extends TesseraRequest = TesseraRequest> {
  /** Ask whether the token allows this action (give `resource` too). */
  action?: string | ((req: Req) => string);
  /** On this resource (give `action` too). */
  resource?: string | ((req: Req) => string);
  /** The client's address, recorded by Tessera as the token's last-used IP. */
  ip?: (req: Req) => string | undefined;
  /** Default: `new Tessera()` from `TESSERA_URL`. */
  client?: Tessera;
}

/**
 * `(req, res, next)` middleware: 401 (with `WWW-Authenticate: Bearer`)
 * without a valid bearer token, 403 when not allowed, 400 when Tessera
 * calls the question malformed, 503 when Tessera is unreachable, too slow
 * or failing; else `req.tessera` is set and `next()` called.
 */
export declare function requireToken<Req extends TesseraRequest = TesseraRequest>(
  options?: RequireTokenOptions<Req>,
): (req: Req, res: TesseraResponse, next: (error?: unknown) => void) => Promise<void>;
