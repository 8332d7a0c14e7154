import { InputError } from './errors.js';

/**
 * The blast-radius guard (`maxAnnotations`): a limit per repository, as a count of manifests to
 * mark or a percentage of the manifests the repository holds. A valid but wrong image-info (a
 * truncated file, a wrong `repoPrefix`) makes every digest look orphaned; the guard stops such a
 * plan before it is applied.
 */
export interface AnnotationLimit {
  count?: number;
  percent?: number;
}

/** One repository whose planned annotations exceed the limit. */
export interface GuardViolation {
  repository: string;
  planned: number;
  /** Distinct manifests the inventory found in the repository. */
  manifests: number;
  /** The largest number of annotations the limit allows for this repository. */
  allowed: number;
}

/** `120` or `25%` (a percentage may have decimals, `0.5%`); empty = no limit. */
export function parseAnnotationLimit(text: string, name: string): AnnotationLimit | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  const percent = /^(\d+(?:\.\d+)?)\s*%$/.exec(value);
  if (percent) {
    const p = Number(percent[1]);
    if (p > 100)
      throw new InputError(`${name}: a percentage is at most 100%, got ${JSON.stringify(text)}`);
    return { percent: p };
  }
  if (/^\d+$/.test(value)) return { count: Number(value) };
  throw new InputError(
    `${name}: expected a count (e.g. 500) or a percentage of a repository's manifests (e.g. 25%), got ${JSON.stringify(text)}`,
  );
}

/** The limit as the user wrote it, for messages. */
export function describeLimit(limit: AnnotationLimit): string {
  return limit.percent !== undefined ? `${limit.percent}%` : String(limit.count);
}

/**
 * The repositories whose planned annotations exceed the limit, sorted by name. `planned` and
 * `manifests` are per repository; a repository absent from `manifests` counts as holding
 * exactly what is planned (the limit then applies to that).
 */
export function checkAnnotationLimit(
  limit: AnnotationLimit,
  planned: ReadonlyMap<string, number>,
  manifests: ReadonlyMap<string, number>,
): GuardViolation[] {
  const violations: GuardViolation[] = [];
  for (const [repository, count] of planned) {
    const total = Math.max(manifests.get(repository) ?? count, count);
    const allowed =
      limit.percent !== undefined
        ? Math.floor((total * limit.percent) / 100)
        : (limit.count ?? Infinity);
    if (count > allowed) violations.push({ repository, planned: count, manifests: total, allowed });
  }
  return violations.sort((a, b) => a.repository.localeCompare(b.repository));
}
