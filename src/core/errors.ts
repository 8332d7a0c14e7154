/** Bad input: the user can fix it. Hosts exit 2 and nothing has been written. */
export class InputError extends Error {
  override readonly name = 'InputError';
}

/** A runtime failure (network, registry, store). Hosts exit 1; a re-run finishes the job. */
export class RuntimeError extends Error {
  override readonly name = 'RuntimeError';
}
