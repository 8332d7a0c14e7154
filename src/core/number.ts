import { InputError } from './errors.js';

/** A whole number ≥ 1 written in decimal digits; the error names the input. */
export function parsePositiveInteger(text: string, name: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1)
    throw new InputError(`${name}: expected a whole number above 0, got ${JSON.stringify(text)}`);
  return Number(text);
}
