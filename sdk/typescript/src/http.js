import { TesseraError, redact } from './errors.js';

/**
 * Sends one JSON request to the API and turns every failure into a
 * `TesseraError`: the API's own `{"error": {"code", "message"}}` body when
 * there is one, `unavailable` when no (whole) answer arrived within
 * `timeoutMs`, `bad_response` for an answer that is not the API's.
 *
 * @param {object} call
 * @param {string} call.base        the server's URL, without trailing slash
 * @param {string} call.method
 * @param {string} call.path        under `/api/v1`, starting with `/`
 * @param {unknown} [call.body]     sent as JSON when given
 * @param {string} [call.credential] the SDK's own token, as a Bearer
 * @param {string[]} [call.secrets] strings that must never appear in an
 *                                  error (the credential, a verified token)
 * @param {number} call.timeoutMs
 * @returns {Promise<any>} the answer's JSON object; `undefined` for DELETE
 */
export async function request({ base, method, path, body, credential, secrets = [], timeoutMs }) {
  const hidden = [credential, ...secrets];
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' };
  if (credential) headers.authorization = `Bearer ${credential}`;
  if (body !== undefined) headers['content-type'] = 'application/json';

  let response;
  try {
    response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
      // Never followed (it would resend the Authorization header elsewhere):
      // a 3xx comes back as an answer, and is a `bad_response` below.
      redirect: 'manual',
    });
  } catch (error) {
    throw unavailable(method, path, error, timeoutMs, hidden);
  }

  let text;
  try {
    text = await response.text();
  } catch (error) {
    throw unavailable(method, path, error, timeoutMs, hidden);
  }

  if (response.ok) {
    // DELETE answers 204; every other call of the API answers a JSON object.
    if (method === 'DELETE') return undefined;
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      throw new TesseraError('bad_response', `${method} ${path}: the answer is not JSON`, response.status);
    }
    if (data === null || typeof data !== 'object' || Array.isArray(data)) {
      throw new TesseraError('bad_response', `${method} ${path}: the answer is not a JSON object`, response.status);
    }
    return data;
  }
  throw apiError(method, path, response.status, text, hidden);
}

/** An error answer → `TesseraError` with the API's code when it sent one. */
function apiError(method, path, status, text, hidden) {
  try {
    const { error } = JSON.parse(text);
    if (error && typeof error.code === 'string') {
      const message = typeof error.message === 'string' ? error.message : error.code;
      return new TesseraError(redact(error.code, hidden), redact(message, hidden), status);
    }
  } catch {
    // Not Tessera's error body: a proxy in front of it, most likely.
  }
  // A gateway error means Tessera is out of reach: the same situation, for
  // the caller, as a refused connection.
  const code = status === 502 || status === 503 || status === 504 ? 'unavailable' : 'bad_response';
  return new TesseraError(code, `${method} ${path}: HTTP ${status} without a Tessera error body`, status);
}

function unavailable(method, path, error, timeoutMs, hidden) {
  const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
  // fetch reports "fetch failed" and hides the reason in `cause`.
  const reason = timedOut
    ? `no answer within ${timeoutMs} ms`
    : (error?.cause?.code ?? error?.cause?.message ?? error?.message ?? String(error));
  return new TesseraError('unavailable', redact(`${method} ${path}: Tessera is unreachable (${reason})`, hidden), 0, {
    cause: error,
  });
}
