import { parseImageRef, refKey, sameRegistryHost } from '../core/digest.js';
import { InputError } from '../core/errors.js';
import { lifecycleManifestJson, LIFECYCLE_ARTIFACT_TYPE } from '../core/lifecycle.js';
import type { PlanEntry } from '../core/planner.js';
import type { PlannedDigest } from '../core/plan-file.js';
import type { Clock, Logger } from '../core/ports.js';
import { supportedSet } from '../core/supported.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import { unmarkNote, type Registry, type UnmarkOutcome } from '../registry/port.js';
import { sha256Digest } from '../util/hash.js';
import { forEachLimited } from '../util/pool.js';
import { loadImageInfo } from './image-info.js';
import { Inventory, lifecycleMarks, resolveScope } from './inventory.js';

export interface RemovedMark {
  repository: string;
  digest: string;
  referrer: string;
  date?: string;
  /** Absent in a dry run. */
  how?: UnmarkOutcome;
}

export interface UnannotateResult {
  /** True when nothing was deleted: `removed` is what would have been. */
  dryRun: boolean;
  mode: 'digest' | 'from-plan' | 'date';
  removed: RemovedMark[];
  /** Planned digests that no longer carry the plan's mark (removed already, or the image is gone). */
  missing: { repository: string; digest: string; why: string }[];
  /** Repositories searched (`date` only). */
  repositories?: string[];
}

export interface UnannotateOptions {
  /** `[host/]repo@sha256:…`: every lifecycle mark on each is removed. */
  digests: string[];
  /** How the host spells the input in errors (`--digest`, `digest`). */
  label?: string;
  /** A run's plan: exactly the mark it placed on each planned digest (its date, its bytes). */
  fromPlan?: PlannedDigest[];
  /** Every lifecycle mark of this EOL date (`yyyy-MM-dd`) in `repositories` or the image-info's. */
  date?: string;
  repoPrefix?: string;
  repositories?: string[];
  concurrency?: number;
  dryRun?: boolean;
}

/**
 * Rollback: every mark on `digests`; with a plan, the mark its run placed on each digest, found by
 * its deterministic digest (lifecycle.ts), so other dates' and runs' marks stay; with a date, every
 * mark of it in scope. A digest's host must be the configured registry: the same repository and
 * digest elsewhere is not what the user asked to roll back.
 */
export async function unannotate(
  options: UnannotateOptions,
  deps: { registry: Registry; logger: Logger; clock?: Clock; sources?: ImageInfoSource[] },
): Promise<UnannotateResult> {
  const label = options.label ?? 'digest';
  const registryHost = deps.registry.displayName;
  // Parse and check everything before the first delete: bad input writes nothing.
  const refs = options.digests.map((d) => {
    const ref = parseImageRef(d, label);
    if (ref.host !== undefined && !sameRegistryHost(ref.host, registryHost))
      throw new InputError(
        `${label}: ${JSON.stringify(d)} names the registry ${ref.host}, not ${registryHost}; nothing was removed`,
      );
    return ref;
  });
  const dryRun = options.dryRun ?? false;
  const concurrency = options.concurrency ?? 8;
  const mode = options.fromPlan ? 'from-plan' : options.date ? 'date' : 'digest';
  const result: UnannotateResult = { dryRun, mode, removed: [], missing: [] };
  const found: RemovedMark[] = [];

  for (const ref of refs) {
    const { repository, digest } = ref;
    const marks = await lifecycleMarks(deps.registry, repository, digest);
    if (marks.length === 0) deps.logger.info(`${repository}@${digest}: no lifecycle mark`);
    for (const m of marks) found.push({ repository, digest, referrer: m.digest, date: m.date });
  }
  if (options.fromPlan) await marksOfPlan(options.fromPlan, concurrency, deps, found, result);
  if (options.date) {
    const scope = await dateScope(options, deps);
    result.repositories = scope;
    await marksOfDate(options.date, scope, concurrency, deps, found);
  }

  // One mark is removed once, however it was selected.
  const seen = new Set<string>();
  for (const mark of found) {
    const key = `${refKey(mark.repository, mark.digest)} ${mark.referrer}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const how = dryRun
      ? undefined
      : await deps.registry.deleteReferrer(mark.repository, mark.digest, mark.referrer);
    result.removed.push(how ? { ...mark, how } : mark);
    deps.logger.info(
      `${mark.repository}@${mark.digest}: ${dryRun ? 'would remove' : 'removed'} lifecycle mark ${mark.referrer} (${mark.date ?? 'no date'})${unmarkNote(how)}`,
    );
  }
  if (dryRun) deps.logger.info(`dry run: ${result.removed.length} mark(s) would be removed`);
  return result;
}

/** Same bytes as that plan's run placed, so the same digest. */
async function marksOfPlan(
  planned: PlannedDigest[],
  concurrency: number,
  deps: { registry: Registry; logger: Logger },
  found: RemovedMark[],
  result: UnannotateResult,
): Promise<void> {
  const { registry, logger } = deps;
  const byKey = new Map<string, RemovedMark>();
  await forEachLimited(planned, concurrency, async ({ repository, digest, eolDate }) => {
    const missing = (why: string) => void result.missing.push({ repository, digest, why });
    const subject = await registry.describeManifest(repository, digest);
    if (!subject) return missing('not in the registry');
    const referrer = sha256Digest(lifecycleManifestJson(subject, eolDate));
    const referrers = await registry.listReferrers(repository, digest, LIFECYCLE_ARTIFACT_TYPE);
    if (!referrers.some((r) => r.digest === referrer))
      return missing(`no lifecycle mark of ${eolDate} from this plan`);
    byKey.set(refKey(repository, digest), { repository, digest, referrer, date: eolDate });
  });
  // Plan order, whatever order the lookups finished in.
  for (const p of planned) {
    const mark = byKey.get(refKey(p.repository, p.digest));
    if (mark) found.push(mark);
  }
  for (const m of result.missing)
    logger.info(`${m.repository}@${m.digest}: ${m.why}; nothing to remove`);
}

/** `repositories` globs against the catalog, else the repositories the image-info names. */
async function dateScope(
  options: UnannotateOptions,
  deps: { registry: Registry; logger: Logger; sources?: ImageInfoSource[] },
): Promise<string[]> {
  const globs = options.repositories ?? [];
  const sources = deps.sources ?? [];
  if (globs.length === 0 && sources.length === 0)
    throw new InputError(
      'date: give repositories (globs) or imageInfo to say which repositories to search',
    );
  // No sources: no image-info, nothing supported (the globs alone say where to look).
  const loaded = await loadImageInfo(sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  // Marks dated `date` in a repository that left the image-info are the same run's marks.
  return (await resolveScope(deps.registry, supported, globs, deps.logger, { mode: 'mark' }))
    .repositories;
}

/** Every lifecycle mark dated `date` on the manifests of `scope` (referrer artifacts carry none). */
async function marksOfDate(
  date: string,
  scope: string[],
  concurrency: number,
  deps: { registry: Registry; logger: Logger; clock?: Clock },
  found: RemovedMark[],
): Promise<void> {
  const { registry, clock, logger } = deps;
  const inventory = new Inventory(registry, concurrency, clock && { clock, logger });
  const subjects: PlanEntry[] = (await inventory.records(scope))
    .filter((m) => !m.subject)
    .map((m) => ({ ...m, reason: '' }));
  await inventory.enrich(subjects, false);
  for (const s of subjects) {
    for (const mark of inventory.lifecycle.get(refKey(s.repository, s.digest)) ?? [])
      if (mark.date === date)
        found.push({ repository: s.repository, digest: s.digest, referrer: mark.digest, date });
  }
}
