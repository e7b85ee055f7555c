export { Tessera, DEFAULT_CACHE_TTL_MS, DEFAULT_TIMEOUT_MS } from './tessera.js';
export { TesseraError } from './errors.js';
export { Tokens } from './tokens.js';
