import { InputError } from '../core/errors.js';
import { assertSecureUrl } from '../util/http.js';

/** The longest rate-limit wait honoured: a longer one fails instead of hanging the pipeline. */
export const MAX_RATE_LIMIT_WAIT_MS = 15 * 60_000;

/** A service's base URL from input `name`, without trailing slashes (plain http only for loopback). */
export function serviceBaseUrl(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError(`${name}: not a URL: ${JSON.stringify(value)}`);
  }
  assertSecureUrl(url, name);
  return url.toString().replace(/\/+$/, '');
}
