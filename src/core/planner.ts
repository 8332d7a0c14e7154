import { COSIGN_TAG, FALLBACK_TAG, refKey } from './digest.js';
import { isIndexMediaType, type LifecycleMark, type ManifestRecord } from './oci.js';
import type { SupportedSet } from './supported.js';

export const EXCLUSION_REASONS = [
  'supported',
  'child-of-supported-index',
  'referrer-artifact',
  'fallback-index-tag',
  'cosign-tag',
  'already-annotated',
  'too-young',
  'supported-index-unreadable',
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];
type ExclusionCounts = Record<ExclusionReason, number>;

export interface PlanEntry extends Pick<
  ManifestRecord,
  'repository' | 'digest' | 'mediaType' | 'size' | 'tags' | 'created' | 'firstSeen'
> {
  reason: string;
  /** Date for this digest when a plan file gives one of its own; else the plan's. */
  eolDate?: string;
  existing?: LifecycleMark[];
}

export interface Classification {
  /** Neither supported nor an artifact: to annotate unless already annotated or too young. */
  candidates: PlanEntry[];
  excluded: ExclusionCounts;
  /** Repositories where a supported index could not be read: its children are unknown. */
  stopped: StoppedRepository[];
}

export interface StoppedRepository {
  repository: string;
  indexes: string[];
}

/** Supported indexes whose children the inventory could not read, per repository. */
export function unreadableSupportedIndexes(
  inventory: ManifestRecord[],
  supported: SupportedSet,
): StoppedRepository[] {
  const byRepository = new Map<string, string[]>();
  for (const m of inventory) {
    if (m.children || !isIndexMediaType(m.mediaType) || !supported.digests.has(m.digest)) continue;
    byRepository.set(m.repository, [...(byRepository.get(m.repository) ?? []), m.digest]);
  }
  return [...byRepository]
    .map(([repository, indexes]) => ({ repository, indexes: [...new Set(indexes)].sort() }))
    .sort((a, b) => a.repository.localeCompare(b.repository));
}

/** Every digest a supported index references, transitively (nested indexes included). */
export function childrenOfSupported(
  inventory: ManifestRecord[],
  supported: SupportedSet,
): Set<string> {
  const childrenOf = new Map<string, string[]>();
  // A supported index whose children are unknown adds none here: `classify` stops the plan
  // for its repository instead (see unreadableSupportedIndexes), so they are never planned.
  for (const m of inventory)
    if (m.children) childrenOf.set(m.digest, [...(childrenOf.get(m.digest) ?? []), ...m.children]);
  const out = new Set<string>();
  const stack = [...supported.digests.keys()];
  while (stack.length > 0) {
    for (const child of childrenOf.get(stack.pop() as string) ?? []) {
      if (out.has(child) || supported.digests.has(child)) continue;
      out.add(child);
      stack.push(child);
    }
  }
  return out;
}

/**
 * Step 4, first half: what is neither supported nor an artifact (invariants 1 and 3).
 * Supported = image-info digests plus, transitively, every child of a supported index.
 */
export function classify(inventory: ManifestRecord[], supported: SupportedSet): Classification {
  const supportedChildren = childrenOfSupported(inventory, supported);

  // Referrers listed by a fallback index (`sha256-<hex>` tag) are artifacts even when the
  // listing could not show their subject.
  const fallbackListed = new Set<string>();
  for (const m of inventory)
    if (m.tags.some((t) => FALLBACK_TAG.test(t)))
      for (const c of m.children ?? []) fallbackListed.add(c);
  const parentsOf = new Map<string, string[]>();
  for (const m of inventory)
    if (isIndexMediaType(m.mediaType))
      for (const c of m.children ?? []) parentsOf.set(c, [...(parentsOf.get(c) ?? []), m.digest]);

  const excluded = Object.fromEntries(EXCLUSION_REASONS.map((r) => [r, 0])) as ExclusionCounts;
  const candidates: PlanEntry[] = [];
  const stopped = unreadableSupportedIndexes(inventory, supported);
  const stoppedRepositories = new Set(stopped.map((r) => r.repository));
  // Digests seen, per repository (no `repo@digest` string per manifest: inventories are large).
  const seen = new Map<string, Set<string>>();
  for (const m of inventory) {
    let digests = seen.get(m.repository);
    if (!digests) seen.set(m.repository, (digests = new Set()));
    if (digests.has(m.digest)) continue;
    digests.add(m.digest);
    const reason =
      exclusionOf(m, supported, supportedChildren, fallbackListed) ??
      (stoppedRepositories.has(m.repository) ? 'supported-index-unreadable' : undefined);
    if (reason) {
      excluded[reason]++;
      continue;
    }
    const parents = parentsOf.get(m.digest);
    candidates.push({
      repository: m.repository,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
      tags: [...m.tags].sort(),
      created: m.created,
      ...(m.firstSeen ? { firstSeen: m.firstSeen } : {}),
      reason: parents
        ? `child of unsupported index ${parents.join(', ')}`
        : 'not referenced by image-info',
    });
  }
  return { candidates, excluded, stopped };
}

function exclusionOf(
  m: ManifestRecord,
  supported: SupportedSet,
  supportedChildren: Set<string>,
  fallbackListed: Set<string>,
): ExclusionReason | undefined {
  if (supported.digests.has(m.digest)) return 'supported';
  if (supportedChildren.has(m.digest)) return 'child-of-supported-index';
  if (m.subject || fallbackListed.has(m.digest)) return 'referrer-artifact';
  if (m.tags.some((t) => FALLBACK_TAG.test(t))) return 'fallback-index-tag';
  if (m.tags.some((t) => COSIGN_TAG.test(t))) return 'cosign-tag';
  return undefined;
}

/** Read access by `repo@digest` (refKey): a Map, or a more compact store with the same `get`. */
export interface ByRefKey<T> {
  get(key: string): T | undefined;
}

export interface PlanInput {
  classification: Classification;
  /** Lifecycle marks per `repo@digest`; must hold an entry (maybe empty) for every candidate. */
  lifecycle: ByRefKey<LifecycleMark[]>;
  /** Creation time per `repo@digest` when the inventory had none (from the image config). */
  created?: ByRefKey<string | undefined>;
  now: Date;
  minAgeMs: number;
  eolDate: string;
  fingerprint: string;
}

export interface Plan {
  eolDate: string;
  fingerprint: string;
  plannedAt: string;
  minAgeMs: number;
  annotate: PlanEntry[];
  alreadyAnnotated: PlanEntry[];
  tooYoung: PlanEntry[];
  excluded: ExclusionCounts;
  /** Repositories the plan leaves alone: a supported index there could not be read. */
  stopped: StoppedRepository[];
}

/** Step 4, second half: drop what is already annotated or too young. */
export function buildPlan(input: PlanInput): Plan {
  const { classification, lifecycle, now, minAgeMs } = input;
  const excluded = { ...classification.excluded };
  const plan: Plan = {
    eolDate: input.eolDate,
    fingerprint: input.fingerprint,
    plannedAt: now.toISOString(),
    minAgeMs,
    annotate: [],
    alreadyAnnotated: [],
    tooYoung: [],
    excluded,
    stopped: classification.stopped,
  };
  for (const candidate of classification.candidates) {
    const key = refKey(candidate.repository, candidate.digest);
    const marks = lifecycle.get(key);
    // A lookup that did not happen (or failed) is never "not annotated" (invariant 5).
    if (!marks) throw new Error(`internal: no lifecycle lookup for ${key}`);
    const created = candidate.created ?? input.created?.get(key);
    // At most one new object per entry (a plan may hold 100,000 of them).
    if (marks.length > 0) {
      excluded['already-annotated']++;
      plan.alreadyAnnotated.push({
        ...candidate,
        created,
        existing: marks,
        reason: `already annotated (${marks.map((m) => m.date ?? 'no date').join(', ')})`,
      });
      continue;
    }
    const createdMs = created ? Date.parse(created) : NaN;
    // The youngest of what the manifest says and when this group first saw it: a manifest that
    // claims to be old (reproducible builds say 1970) was still pushed no earlier than that.
    const seenMs = candidate.firstSeen ? Date.parse(candidate.firstSeen) : NaN;
    const seenBinds = !Number.isNaN(seenMs) && !(createdMs > seenMs);
    const bornMs = seenBinds ? seenMs : createdMs;
    if (minAgeMs > 0 && !Number.isNaN(bornMs) && now.getTime() - bornMs < minAgeMs) {
      excluded['too-young']++;
      plan.tooYoung.push({
        ...candidate,
        created,
        reason: seenBinds
          ? `first seen ${candidate.firstSeen}: eligible after minAge, at ${new Date(seenMs + minAgeMs).toISOString()}`
          : `younger than minAge (created ${created})`,
      });
      continue;
    }
    const ageNote =
      minAgeMs > 0 && Number.isNaN(bornMs) ? '; age unknown, counted as old enough' : '';
    // A candidate that needs nothing added is its own plan entry (classify made it for this).
    if (!ageNote && 'created' in candidate && created === candidate.created)
      plan.annotate.push(candidate);
    else plan.annotate.push({ ...candidate, created, reason: candidate.reason + ageNote });
  }
  const order = (a: PlanEntry, b: PlanEntry) =>
    a.repository.localeCompare(b.repository) || a.digest.localeCompare(b.digest);
  plan.annotate.sort(order);
  plan.alreadyAnnotated.sort(order);
  plan.tooYoung.sort(order);
  return plan;
}
