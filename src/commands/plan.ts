import { refKey } from '../core/digest.js';
import { buildPlan, classify, type Plan, type PlanEntry } from '../core/planner.js';
import type { PlannedDigest } from '../core/plan-file.js';
import type { Logger } from '../core/ports.js';
import { supportedSet } from '../core/supported.js';
import type { AnnotateDeps, AnnotateOptions, MarkRef } from './annotate.js';
import { readHistory, type History } from './history.js';
import { loadImageInfo } from './image-info.js';
import { Inventory, resolveScope } from './inventory.js';

/** How the host spells an input; the input's name when it did not say. */
export const labelOf = (options: Pick<AnnotateOptions, 'label'>) =>
  options.label ?? ((input: string) => input);

/** Steps 2–4: read the image-info, inventory the scope (afresh: see `Inventory`), plan. */
export async function makePlan(
  options: AnnotateOptions,
  deps: AnnotateDeps,
  firstRunHistory: () => Promise<History | undefined>,
): Promise<PlanWithUnmarks> {
  const { registry, sources, clock, logger } = deps;
  const inventory = new Inventory(registry, options.concurrency, { clock, logger });
  const loaded = await loadImageInfo(sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  logger.info(
    `image-info: ${supported.digests.size} supported digest(s) in ${sources.map((s) => s.name).join(', ')}`,
  );

  const history = options.fromPlan ? undefined : await firstRunHistory();
  const scope = options.fromPlan
    ? { repositories: [...new Set(options.fromPlan.map((p) => p.repository))].sort(), retired: [] }
    : await resolveScope(registry, supported, options.repositories, logger, {
        mode: options.retiredRepositories ?? 'mark',
        named: history?.repositories,
        label: labelOf(options)('retiredRepositories'),
      });
  // Digests no tag may show: the image-info's own (a supported index protects its children only
  // if it is in the inventory) and those older versions named.
  const known = new Map<string, Set<string>>();
  for (const ref of supported.digests.values()) addTo(known, ref.registryRepository, ref.digest);
  for (const [repository, digests] of history?.digests ?? [])
    for (const digest of digests) addTo(known, repository, digest);
  const records = await inventory.records(scope.repositories, known);
  const digests = new Map<string, Set<string>>();
  for (const m of records) addTo(digests, m.repository, m.digest);
  const manifests: Record<string, number> = {};
  for (const repository of scope.repositories)
    manifests[repository] = digests.get(repository)?.size ?? 0;
  const classification = classify(records, supported);
  if (options.fromPlan)
    restrictToPlan(classification.candidates, options.fromPlan, logger, records);
  await inventory.enrich(classification.candidates, options.minAgeMs > 0);
  const unmark =
    options.unmarkSupported === false || options.fromPlan
      ? []
      : await inventory.marksOnSupported(records, supported);
  const plan = buildPlan({
    classification,
    lifecycle: inventory.lifecycle,
    created: inventory.created,
    now: clock.now(),
    minAgeMs: options.minAgeMs,
    eolDate: options.eolDate,
    fingerprint: loaded.fingerprint,
  });
  return {
    ...plan,
    unmark,
    manifests,
    retired: scope.retired.map((repository) => ({ repository, manifests: manifests[repository] })),
    notes: history?.notes ?? [],
  };
}

/** First run on a registry with a memory (cache repository): the history; later runs remember. */
export async function readFirstRunHistory(
  options: AnnotateOptions,
  deps: AnnotateDeps,
): Promise<History | undefined> {
  const depth = options.historyDepth ?? 0;
  if (depth <= 0 || options.repositories.length > 0) return undefined;
  const remembered = await deps.registry.rememberedRepositories?.();
  if (!remembered || remembered.length > 0) return undefined;
  return deps.logger.group('Image-info history (first run of this group)', () =>
    readHistory(deps.sources, options.repoPrefix, depth, deps.logger),
  );
}

export function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

/** Plus the marks on supported digests to remove, and manifests per repository (guard, summary). */
export type PlanWithUnmarks = Plan & {
  unmark: MarkRef[];
  manifests: Record<string, number>;
  /** Repositories that left the image-info, in scope with all their images (retiredRepositories). */
  retired: Array<{ repository: string; manifests: number }>;
  /** What this run could not see, and why. */
  notes: string[];
};

/** Keeps only the planned digests, each with its own date; reports planned digests we may not mark. */
function restrictToPlan(
  candidates: PlanEntry[],
  planned: PlannedDigest[],
  logger: Logger,
  records: { repository: string; digest: string }[],
): void {
  const wanted = new Map(planned.map((p) => [refKey(p.repository, p.digest), p]));
  const known = new Set(records.map((r) => refKey(r.repository, r.digest)));
  const kept = candidates.filter((c) => wanted.has(refKey(c.repository, c.digest)));
  const keptKeys = new Set(kept.map((c) => refKey(c.repository, c.digest)));
  for (const [key] of wanted) {
    if (keptKeys.has(key)) continue;
    logger.warning(
      known.has(key)
        ? `${key}: in the plan but supported or an artifact now; not annotated`
        : `${key}: in the plan but not found in the registry; not annotated`,
    );
  }
  for (const c of kept) c.eolDate = wanted.get(refKey(c.repository, c.digest))?.eolDate;
  candidates.splice(0, candidates.length, ...kept);
}
