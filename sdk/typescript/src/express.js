import { TesseraError } from './errors.js';
import { Tessera } from './tessera.js';

/**
 * Middleware that lets a request through only with a valid Tessera token
 * (and, with `action`/`resource`, only if the token allows that action).
 *
 * Written against the plain `node:http` request and response (`headers`,
 * `statusCode`, `setHeader`, `end`), which Express, Connect and friends
 * extend, so it needs none of them.
 *
 * - no or malformed `Authorization: Bearer …`, or a token that is not
 *   valid: `401` with `WWW-Authenticate: Bearer …`;
 * - valid but not allowed: `403`;
 * - the question is malformed (Tessera's `400 bad_request`): `400`;
 * - Tessera unreachable, too slow (`timeoutMs`), failing, or answering
 *   something that is not a verify answer: `503` (the request is refused,
 *   never let through);
 * - otherwise `req.tessera` is the verify answer and `next()` is called.
 *
 * Error answers have the API's body: `{"error": {"code", "message"}}`.
 *
 * @param {object} [options]
 * @param {string | ((req: any) => string)} [options.action]
 * @param {string | ((req: any) => string)} [options.resource]
 * @param {(req: any) => string | undefined} [options.ip] the client's
 *        address to record as the token's last-used IP
 * @param {Tessera} [options.client] default: `new Tessera()` from the environment
 */
export function requireToken(options = {}) {
  const { action, resource, ip } = options;
  if ((action === undefined) !== (resource === undefined)) {
    throw new TypeError('requireToken: give `action` and `resource` together, or neither');
  }
  // Built now, so a missing TESSERA_URL fails at startup, not on the first request.
  const client = options.client ?? new Tessera();

  return async function tesseraRequireToken(req, res, next) {
    const presented = bearer(req.headers?.authorization);
    if (presented === undefined) {
      return refuse(res, 401, 'unauthenticated', 'a bearer token is required', 'Bearer realm="tessera"');
    }

    const question = {};
    let answer;
    try {
      if (action !== undefined) {
        question.action = typeof action === 'function' ? action(req) : action;
        question.resource = typeof resource === 'function' ? resource(req) : resource;
      }
      if (ip) question.ip = ip(req);
      answer = await client.verify(presented, question);
    } catch (error) {
      if (!(error instanceof TesseraError)) {
        // Not Tessera's doing: a bug in an `action`/`resource`/`ip` function.
        return refuse(res, 500, 'internal', 'token verification failed');
      }
      if (error.status === 400 && error.code === 'bad_request') {
        // Tessera's own answer: the question (e.g. a resource built from the path) is malformed.
        return refuse(res, 400, 'bad_request', error.message);
      }
      // Fail closed: no answer, a timeout, an error page, an answer that is
      // not a verify answer; a service that cannot ask Tessera lets nobody in.
      return refuse(res, 503, 'unavailable', 'token verification is unavailable; try again');
    }

    if (!answer.valid) {
      // The API's own 401 codes: it calls a malformed token invalid_token
      // too (malformed_token is only a /verify answer).
      const code = answer.code === 'malformed_token' ? 'invalid_token' : answer.code;
      return refuse(
        res,
        401,
        code,
        `the token is not valid (${answer.code})`,
        `Bearer realm="tessera", error="invalid_token", error_description="${answer.code}"`,
      );
    }
    if (action !== undefined && answer.allowed !== true) {
      return refuse(res, 403, 'forbidden', `not permitted: ${question.action} on ${question.resource}`);
    }
    req.tessera = answer;
    return next();
  };
}

/** The token from `Authorization: Bearer <token>` (scheme case-insensitive), else undefined. */
function bearer(header) {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match ? match[1] : undefined;
}

function refuse(res, status, code, message, challenge) {
  const body = JSON.stringify({ error: { code, message } });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  if (challenge) res.setHeader('WWW-Authenticate', challenge);
  res.end(body);
}
