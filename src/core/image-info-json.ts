import { InputError } from './errors.js';

/** Raw image-info JSON, kept as it is by the merge (unknown fields too). */
export type Json = Record<string, unknown>;

export function rawJson(text: string): Json {
  return JSON.parse(text.replace(/^\uFEFF/, '')) as Json;
}

/** `text` as JSON (a byte-order mark allowed); bad JSON is an InputError naming `source`. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return rawJson(text);
  } catch (e) {
    throw new InputError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function images(repo: Json): Json[] {
  return Array.isArray(repo.images) ? (repo.images as Json[]) : [];
}

export function platforms(image: Json): Json[] {
  return Array.isArray(image.platforms) ? (image.platforms as Json[]) : [];
}

export function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Structural equality; object key order does not matter. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((v, i) => deepEqual(v, other[i]));
  }
  const ka = Object.keys(a);
  const ob = b as Json;
  return (
    ka.length === Object.keys(ob).length &&
    ka.every((k) => Object.hasOwn(ob, k) && deepEqual((a as Json)[k], ob[k]))
  );
}
