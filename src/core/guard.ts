import { InputError } from './errors.js';

/**
 * `maxAnnotations`, per repository: a count, or a percentage of the manifests it holds. A valid
 * but wrong image-info (truncated, wrong `repoPrefix`) orphans every digest; this stops that plan.
 */
export interface AnnotationLimit {
  count?: number;
  percent?: number;
}

export interface GuardViolation {
  repository: string;
  planned: number;
  manifests: number;
  /** The most annotations the limit allows here. */
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

export function describeLimit(limit: AnnotationLimit): string {
  return limit.percent !== undefined ? `${limit.percent}%` : String(limit.count);
}

/**
 * Repositories over the limit, by name. A repository absent from `manifests` counts as holding
 * exactly what is planned.
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
