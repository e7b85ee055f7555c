/**
 * The one error type the SDK throws, so callers can branch on `code` (the
 * API's stable error code) without parsing messages.
 */
export class TesseraError extends Error {
  /**
   * @param {string} code   the API's error code (`already_exists`, …) or,
   *                        for failures before an answer, `unavailable`
   * @param {string} message for people; never contains a token
   * @param {number} status the HTTP status, 0 when no answer arrived
   * @param {{cause?: unknown}} [options]
   */
  constructor(code, message, status, options) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.status = status;
  }
}

/**
 * Removes every occurrence of the given secrets from a text: error texts
 * come from the network stack and the server, and neither should ever be
 * able to carry a token into a log through us.
 *
 * @param {string} text
 * @param {Array<string | undefined>} secrets
 */
export function redact(text, secrets) {
  let out = String(text);
  for (const secret of secrets) {
    // Short strings are no secret worth hiding (real tokens are ~70
    // characters), and blanking them would garble ordinary words.
    if (secret && secret.length >= 8) out = out.split(secret).join('[redacted]');
  }
  return out;
}
