import type { CoordinationStore, GroupRun } from '../coordination/port.js';
import { refKey } from '../core/digest.js';
import { InputError, RuntimeError } from '../core/errors.js';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../core/lifecycle.js';
import { MediaType, type Descriptor } from '../core/oci.js';
import { buildPlan, classify, type Plan, type PlanEntry } from '../core/planner.js';
import type { PlannedDigest } from '../core/plan-file.js';
import type { Clock, Logger } from '../core/ports.js';
import { assertGroupName, describeRun, validate } from '../core/protocol.js';
import { supportedSet } from '../core/supported.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import type { Registry } from '../registry/port.js';
import { sha256Digest } from '../util/hash.js';
import { forEachLimited } from '../util/pool.js';
import { loadImageInfo, readFingerprint } from './image-info.js';
import { InventoryCache, resolveScope } from './inventory.js';
import { ProgressReporter } from './progress.js';
import { waitForBarrier, type BarrierOptions } from './barrier.js';

export interface AnnotateOptions extends BarrierOptions {
  repoPrefix: string;
  /** Scope globs; empty = every repository the image-info names. */
  repositories: string[];
  eolDate: string;
  minAgeMs: number;
  concurrency: number;
  dryRun: boolean;
  /** Restricts the run to these digests (from `--from-plan`); the image-info still protects. */
  fromPlan?: PlannedDigest[];
}

export interface AnnotateDeps {
  registry: Registry;
  store: CoordinationStore;
  sources: ImageInfoSource[];
  clock: Clock;
  logger: Logger;
  /** Called with the validated plan before anything is applied (the hosts write the plan file). */
  onPlan?: (plan: Plan) => Promise<void>;
}

export interface AnnotateCounts {
  annotated: number;
  alreadyAnnotated: number;
  skippedTooYoung: number;
  candidates: number;
}

export interface AnnotateResult {
  outcome: 'applied' | 'dry-run' | 'timed-out';
  counts: AnnotateCounts;
  waitedMs: number;
  waitedFor: GroupRun[];
  restarts: number;
  /** Undefined only when the run timed out before planning. */
  plan?: Plan;
}

/** DESIGN §2: wait, read, inventory, plan, validate, apply. */
export async function annotate(
  options: AnnotateOptions,
  deps: AnnotateDeps,
): Promise<AnnotateResult> {
  const { registry, store, sources, clock, logger } = deps;
  if (sources.length === 0)
    throw new InputError('imageInfo: at least one image-info source is required');
  assertGroupName(options.group);
  // Bad image-info fails now, before the first write and before any wait (invariant 6).
  await loadImageInfo(sources);

  // A run that annotates has recorded its own pushes (DESIGN §2: every run of the group says so
  // before it annotates); a dry run writes nothing, markers included.
  if (!options.dryRun) await store.signal(options.group, 'image-info-updated');

  const inventory = new InventoryCache(registry, options.concurrency);
  const started = clock.now().getTime();
  const waitedFor = new Map<string, GroupRun>();
  let waitedMs = 0;
  let restarts = 0;

  for (;;) {
    const barrier = await waitForBarrier(options, store, clock, logger, started);
    waitedMs += barrier.waitedMs;
    for (const run of barrier.waitedFor) waitedFor.set(run.runId, run);
    // A busy image-info can keep validation failing with nobody blocking: the timeout bounds that too.
    const overdue = restarts > 0 && clock.now().getTime() - started >= options.timeoutMs;
    if (barrier.timedOut || overdue) {
      const names =
        barrier.blockers.map((run) => describeRun(run, clock.now())).join('; ') ||
        'the image-info kept changing';
      const message = `timed out after ${Math.round((clock.now().getTime() - started) / 1000)}s waiting for: ${names}`;
      if (options.onTimeout === 'fail')
        throw new RuntimeError(`${message}. Nothing was annotated.`);
      logger.warning(`${message}. Nothing was annotated (onTimeout: skip).`);
      return {
        outcome: 'timed-out',
        counts: zeroCounts(),
        waitedMs,
        waitedFor: [...waitedFor.values()],
        restarts,
      };
    }

    const plan = await logger.group('Plan', () => makePlan(options, deps, inventory));
    logger.info(
      `plan: ${plan.annotate.length} to annotate, ${plan.alreadyAnnotated.length} already annotated, ${plan.tooYoung.length} too young`,
    );

    // Step 5: store first, then fingerprint. The order is what makes the argument in §2 hold.
    const runs = await store.listRuns(options.group);
    const fingerprint = await readFingerprint(sources);
    const verdict = validate(store.self, runs, plan.fingerprint, fingerprint);
    if (verdict.verdict === 'restart') {
      restarts++;
      logger.info(`validation: ${verdict.reason}; going back to wait (restart ${restarts})`);
      continue;
    }

    const counts: AnnotateCounts = {
      annotated: 0,
      alreadyAnnotated: plan.alreadyAnnotated.length,
      skippedTooYoung: plan.tooYoung.length,
      candidates: plan.annotate.length,
    };
    // The plan is kept before anything is written, so a failed apply still leaves it behind.
    await deps.onPlan?.(plan);
    if (options.dryRun) {
      logger.info('dry run: nothing was written');
      return {
        outcome: 'dry-run',
        counts,
        waitedMs,
        waitedFor: [...waitedFor.values()],
        restarts,
        plan,
      };
    }
    await logger.group(`Annotate ${plan.annotate.length} digest(s)`, async () => {
      counts.annotated = await apply(plan, options.concurrency, registry, clock, logger);
    });
    await store
      .cleanup(options.group)
      .catch((e) => logger.debug(`cleanup: ${(e as Error).message}`));
    return {
      outcome: 'applied',
      counts,
      waitedMs,
      waitedFor: [...waitedFor.values()],
      restarts,
      plan,
    };
  }
}

async function makePlan(
  options: AnnotateOptions,
  deps: AnnotateDeps,
  inventory: InventoryCache,
): Promise<Plan> {
  const { registry, sources, clock, logger } = deps;
  const loaded = await loadImageInfo(sources);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  logger.info(
    `image-info: ${supported.digests.size} supported digest(s) in ${sources.map((s) => s.name).join(', ')}`,
  );

  const scope = options.fromPlan
    ? [...new Set(options.fromPlan.map((p) => p.repository))].sort()
    : await resolveScope(registry, supported, options.repositories, logger);
  const records = await inventory.records(scope);
  const classification = classify(records, supported);
  if (options.fromPlan)
    restrictToPlan(classification.candidates, options.fromPlan, logger, records);
  await inventory.enrich(classification.candidates, options.minAgeMs > 0);
  return buildPlan({
    classification,
    lifecycle: inventory.lifecycle,
    created: inventory.created,
    now: clock.now(),
    minAgeMs: options.minAgeMs,
    eolDate: options.eolDate,
    fingerprint: loaded.fingerprint,
  });
}

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

async function apply(
  plan: Plan,
  concurrency: number,
  registry: Registry,
  clock: Clock,
  logger: Logger,
): Promise<number> {
  const progress = new ProgressReporter(plan.annotate.length, clock, logger, 'annotated');
  let done = 0;
  await forEachLimited(plan.annotate, concurrency, async (entry) => {
    const subject = await subjectDescriptor(registry, entry);
    if (!subject) {
      logger.warning(
        `${entry.repository}@${entry.digest}: gone from the registry since the inventory; skipped`,
      );
      return;
    }
    const date = entry.eolDate ?? plan.eolDate;
    const json = lifecycleManifestJson(subject, date);
    await registry.pushReferrer(entry.repository, subject, {
      bytes: new TextEncoder().encode(json),
      digest: sha256Digest(json),
      mediaType: MediaType.ociManifest,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: date },
    });
    done++;
    progress.tick();
  });
  progress.finish();
  return done;
}

/** A subject descriptor needs the manifest's size, which some listings do not give. */
async function subjectDescriptor(
  registry: Registry,
  entry: PlanEntry,
): Promise<Descriptor | undefined> {
  if (entry.size !== undefined)
    return { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
  return registry.describeManifest(entry.repository, entry.digest);
}

function zeroCounts(): AnnotateCounts {
  return { annotated: 0, alreadyAnnotated: 0, skippedTooYoung: 0, candidates: 0 };
}
