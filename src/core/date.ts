import { InputError } from './errors.js';

/** Validates a calendar date written `yyyy-MM-dd` (what we write into annotations). */
export function parseEolDate(value: string, name: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const d = m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : undefined;
  if (!m || !d || d.getUTCMonth() !== +m[2] - 1 || d.getUTCDate() !== +m[3])
    throw new InputError(`${name}: expected yyyy-MM-dd, got ${JSON.stringify(value)}`);
  return value;
}

export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}

/** An existing annotation's date: `yyyy-MM-dd` or any `Date.parse` timestamp (older artifacts). */
export function readAnnotationDate(value: string | undefined): string | undefined {
  if (!value) return undefined;
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString().slice(0, 10);
}
