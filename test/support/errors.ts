import { expect } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { HttpStatusError } from '../../src/util/http.js';

/** What `promise` rejected with; fails the test if it resolved. */
export async function rejection<E = Error>(promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (e) {
    return e as E;
  }
  throw new Error('expected a rejection');
}

/**
 * The HttpStatusError a call failed with, also when it is the cause of an InputError (a refused
 * token or permission is the user's to fix: hosts exit 2).
 */
export function httpErrorOf(e: unknown): HttpStatusError {
  const err = e instanceof InputError && e.cause instanceof HttpStatusError ? e.cause : e;
  expect(err).toBeInstanceOf(HttpStatusError);
  return err as HttpStatusError;
}
