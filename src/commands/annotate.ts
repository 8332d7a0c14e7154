import type { CoordinationStore, CoverScope, GroupRun } from '../coordination/port.js';
import { refKey } from '../core/digest.js';
import { formatDuration } from '../core/duration.js';
import { InputError, RuntimeError } from '../core/errors.js';
import {
  checkAnnotationLimit,
  describeLimit,
  type AnnotationLimit,
  type GuardViolation,
} from '../core/guard.js';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../core/lifecycle.js';
import { MediaType, type Descriptor } from '../core/oci.js';
import { buildPlan, classify, type Plan, type PlanEntry } from '../core/planner.js';
import type { PlannedDigest } from '../core/plan-file.js';
import type { Clock, Logger } from '../core/ports.js';
import {
  assertGroupName,
  describeRun,
  needsReconcile,
  participantKey,
  validate,
} from '../core/protocol.js';
import { supportedSet } from '../core/supported.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import { unmarkNote, type Registry, type UnmarkOutcome } from '../registry/port.js';
import { sha256Digest } from '../util/hash.js';
import { forEachLimited } from '../util/pool.js';
import { loadImageInfo, readFingerprint } from './image-info.js';
import { readHistory, type History } from './history.js';
import { Inventory, resolveScope } from './inventory.js';
import { ProgressReporter } from './progress.js';
import type { Throttle } from '../util/throttle.js';
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
  /** What this participant's `image-info-updated` covers (default `job`). */
  scope?: CoverScope;
  /** Also remove lifecycle marks from supported digests (default true). */
  unmarkSupported?: boolean;
  /**
   * The blast-radius guard: a plan that marks more than this in any repository is written and
   * refused. A `fromPlan` run is exempt: its plan is the one a person reviewed.
   */
  maxAnnotations?: AnnotationLimit;
  /**
   * Repositories that left the image-info but the group's memory or the image-info's history
   * names: `mark` (default) keeps them in scope, where all their images are unsupported;
   * `ignore` leaves them out. Only without `repositories` globs.
   */
  retiredRepositories?: 'mark' | 'ignore';
  /**
   * On a group's first run (no memory yet): how many older versions of a git-kept image-info
   * to read for digests and repositories they named (0: none).
   */
  historyDepth?: number;
  /**
   * Step 7 (default true). Only the simulator turns it off, to show what the step prevents;
   * no input reaches it.
   */
  reconcile?: boolean;
  /**
   * Step 7's own budget, counted from the end of apply (default `timeoutMs`): what step 1 left
   * of `timeoutMs` is not carried over.
   */
  reconcileTimeoutMs?: number;
}

export interface AnnotateDeps {
  registry: Registry;
  store: CoordinationStore;
  sources: ImageInfoSource[];
  clock: Clock;
  logger: Logger;
  /** Called with the validated plan before anything is applied (the hosts write the plan file). */
  onPlan?: (plan: Plan) => Promise<void>;
  /** The registry clients' request budgets, for progress lines that say what paces the marks. */
  throttle?: Throttle;
}

export interface AnnotateCounts {
  annotated: number;
  alreadyAnnotated: number;
  skippedTooYoung: number;
  candidates: number;
  /** Lifecycle marks removed from supported digests (the plan's unmarks and reconciliation). */
  unmarked: number;
  /** Marks this run placed and removed again because reconcile timed out (outcome `rolled-back`). */
  rolledBack: number;
}

/** A lifecycle mark, as placed or removed: the referrer on its subject. */
export interface MarkRef {
  repository: string;
  subject: string;
  referrer: string;
  /** How a removed mark went (absent: placed, or removed by a registry that said nothing). */
  how?: UnmarkOutcome;
}

/** Step 7 ran out of its budget: every mark this run placed was removed again. */
export interface RollBack {
  /** One sentence for the log and the summary: how long, who blocked, what was removed. */
  message: string;
  /** Who still blocked when reconcile's budget ran out. */
  blockers: GroupRun[];
  /** The marks this run placed, then removed. */
  removed: MarkRef[];
}

export interface AnnotateResult {
  /**
   * `refused`: the plan exceeds `maxAnnotations`; it was written, nothing was applied.
   * `rolled-back`: the plan was applied, then reconcile timed out and removed every mark this
   * run placed (`rollBack` says who blocked); it follows `onTimeout` like `timed-out`.
   */
  outcome: 'applied' | 'dry-run' | 'timed-out' | 'refused' | 'rolled-back';
  counts: AnnotateCounts;
  waitedMs: number;
  waitedFor: GroupRun[];
  restarts: number;
  /** Why each validation sent the run back to wait, in order. */
  restartReasons: string[];
  /** Repositories over `maxAnnotations` (outcome `refused`, or a dry run that would be refused). */
  overLimit?: GuardViolation[];
  /** Undefined only when the run timed out before planning. */
  plan?: PlanWithUnmarks;
  /**
   * Marks this run placed (outcomes `applied` and `rolled-back`); reconciliation's removals are
   * in `unmarked`, a roll-back's in `rollBack`.
   */
  annotated?: MarkRef[];
  /** Marks removed from supported digests, by the plan or by reconciliation. */
  unmarked: MarkRef[];
  /** Why step 7 re-checked the marks this run placed, when it did. */
  reconciled?: string;
  /** Outcome `rolled-back`: who blocked, and the marks removed. */
  rollBack?: RollBack;
}

/** docs/design.md §2: wait, read, inventory, plan, validate, apply, reconcile. */
export async function annotate(
  options: AnnotateOptions,
  deps: AnnotateDeps,
): Promise<AnnotateResult> {
  const { registry, store, sources, clock, logger } = deps;
  if (sources.length === 0)
    throw new InputError('imageInfo: at least one image-info source is required');
  assertGroupName(options.group);
  // Bad image-info (names the prefix makes invalid too) fails now, before the first write and
  // before any wait (invariant 6).
  await loadImageInfo(sources, options.repoPrefix);

  // A participant that annotates has recorded its own pushes (docs/design.md §2: every job of
  // the group says so before it annotates); a dry run writes nothing, markers included.
  if (!options.dryRun) await store.signal(options.group, 'image-info-updated', options.scope);

  const started = clock.now().getTime();
  const waitedFor = new Map<string, GroupRun>();
  let waitedMs = 0;
  let restarts = 0;
  const restartReasons: string[] = [];
  // Each wait has its own budget: step 1 from the run's start, step 7 from the end of apply.
  const wait = async (since: number, budgetMs: number) => {
    const barrier = await waitForBarrier(options, store, clock, logger, since, budgetMs);
    waitedMs += barrier.waitedMs;
    for (const run of barrier.waitedFor) waitedFor.set(participantKey(run), run);
    return barrier;
  };
  const result = (
    outcome: AnnotateResult['outcome'],
    counts: AnnotateCounts,
    rest: Partial<AnnotateResult> = {},
  ): AnnotateResult => ({
    outcome,
    counts,
    waitedMs,
    waitedFor: [...waitedFor.values()],
    restarts,
    restartReasons: [...restartReasons],
    unmarked: [],
    ...rest,
  });

  // Read once, on the group's first run: the passes after a restart ask the same history.
  let history: Promise<History | undefined> | undefined;
  const firstRunHistory = () => (history ??= readFirstRunHistory(options, deps));

  for (;;) {
    const barrier = await wait(started, options.timeoutMs);
    // A busy image-info can keep validation failing with nobody blocking: the timeout bounds that too.
    const overdue = restarts > 0 && clock.now().getTime() - started >= options.timeoutMs;
    if (barrier.timedOut || overdue) {
      const message = `timed out after ${Math.round((clock.now().getTime() - started) / 1000)}s waiting for: ${blockerNames(barrier.blockers, clock) || 'the image-info kept changing'}`;
      if (options.onTimeout === 'fail')
        throw new RuntimeError(`${message}. Nothing was annotated.`);
      logger.warning(`${message}. Nothing was annotated (onTimeout: skip).`);
      return result('timed-out', zeroCounts());
    }

    // Every pass inventories afresh: a listing from before a restart may lack the index that
    // now protects a digest it showed (docs/design.md §2 step 3).
    const plan = await logger.group('Plan', () =>
      makePlan(
        options,
        deps,
        new Inventory(registry, options.concurrency, { clock, logger }),
        firstRunHistory,
      ),
    );
    logger.info(
      `plan: ${plan.annotate.length} to annotate, ${plan.alreadyAnnotated.length} already annotated, ${plan.tooYoung.length} too young, ${plan.unmark.length} supported digest(s) to unmark`,
    );

    for (const r of plan.retired)
      logger.info(
        `${r.repository} left the image-info: ${r.manifests} image(s), all unsupported (retiredRepositories: mark)`,
      );
    for (const note of plan.notes) logger.info(`note: ${note}`);
    for (const r of plan.stopped)
      logger.warning(
        `${r.repository}: supported index ${r.indexes.join(', ')} could not be read, so nothing in this repository is planned (its children stay protected); re-run once it reads`,
      );

    // Step 5: store first, then fingerprint. The order is what makes the argument in §2 hold.
    const runs = await store.listRuns(options.group);
    const fingerprint = await readFingerprint(sources);
    const verdict = validate(store.self, runs, plan.fingerprint, fingerprint);
    if (verdict.verdict === 'restart') {
      restarts++;
      restartReasons.push(verdict.reason);
      logger.info(`validation: ${verdict.reason}; going back to wait (restart ${restarts})`);
      continue;
    }

    const counts: AnnotateCounts = {
      annotated: 0,
      alreadyAnnotated: plan.alreadyAnnotated.length,
      skippedTooYoung: plan.tooYoung.length,
      candidates: plan.annotate.length,
      unmarked: 0,
      rolledBack: 0,
    };
    // The plan is kept before anything is written, so a failed apply still leaves it behind.
    await deps.onPlan?.(plan);
    const overLimit = overAnnotationLimit(options, plan, logger);
    if (options.dryRun) {
      logger.info('dry run: nothing was written');
      return result('dry-run', counts, { plan, overLimit });
    }
    if (overLimit) return result('refused', counts, { plan, overLimit });
    const placed: MarkRef[] = [];
    await logger.group(`Annotate ${plan.annotate.length} digest(s)`, async () => {
      counts.annotated = await apply(
        plan,
        options.concurrency,
        registry,
        clock,
        logger,
        placed,
        deps.throttle,
      );
    });
    const unmarked: MarkRef[] = [];
    if (plan.unmark.length > 0)
      await logger.group(`Unmark ${plan.unmark.length} supported digest(s)`, () =>
        removeMarks(plan.unmark, registry, logger, unmarked, 'supported by the image-info'),
      );
    let reconciled: Reconciled = {};
    if (options.reconcile !== false) {
      // Step 7's budget starts now, whatever step 1 used of its own.
      const applied = clock.now().getTime();
      const budgetMs = options.reconcileTimeoutMs ?? options.timeoutMs;
      reconciled = await logger.group('Reconcile', () =>
        reconcile(options, deps, plan.fingerprint, placed, unmarked, {
          budgetMs,
          wait: () => wait(applied, budgetMs),
        }),
      );
    }
    counts.unmarked = unmarked.length;
    const { rollBack } = reconciled;
    if (rollBack) {
      counts.rolledBack = rollBack.removed.length;
      // onTimeout fail: the host fails the step with this message (the summary is written first).
      if (options.onTimeout === 'skip') logger.warning(`${rollBack.message} (onTimeout: skip)`);
    }
    await store
      .cleanup(options.group)
      .catch((e) => logger.debug(`cleanup: ${(e as Error).message}`));
    return result(rollBack ? 'rolled-back' : 'applied', counts, {
      plan,
      annotated: placed,
      unmarked,
      reconciled: reconciled.reason,
      rollBack,
    });
  }
}

/** The guard, after validation and before apply; undefined when the plan is within the limit. */
function overAnnotationLimit(
  options: AnnotateOptions,
  plan: PlanWithUnmarks,
  logger: Logger,
): GuardViolation[] | undefined {
  const limit = options.maxAnnotations;
  if (!limit || plan.annotate.length === 0) return undefined;
  if (options.fromPlan) {
    logger.info(
      `maxAnnotations ${describeLimit(limit)}: not applied to a run from a reviewed plan`,
    );
    return undefined;
  }
  const planned = new Map<string, number>();
  for (const e of plan.annotate) planned.set(e.repository, (planned.get(e.repository) ?? 0) + 1);
  const violations = checkAnnotationLimit(limit, planned, new Map(Object.entries(plan.manifests)));
  if (violations.length === 0) return undefined;
  for (const v of violations)
    logger.warning(
      `${v.repository}: the plan marks ${v.planned} of ${v.manifests} manifest(s), more than maxAnnotations ${describeLimit(limit)} allows (${v.allowed})`,
    );
  return violations;
}

function blockerNames(blockers: GroupRun[], clock: Clock): string {
  return blockers.map((run) => describeRun(run, clock.now())).join('; ');
}

/** What step 7 did: why it re-checked (if it did), and the roll-back (if it timed out). */
interface Reconciled {
  reason?: string;
  rollBack?: RollBack;
}

/**
 * Step 7: a participant that began publishing after validation, or an image-info that changed,
 * may have recorded a digest this run just marked (an old image re-pushed). Wait for them (for
 * `reconcileTimeout`, counted from the end of apply), re-read, and remove the marks on digests
 * that are now supported. If they do not finish in time, every mark this run placed is removed
 * (none of them can be shown safe) and the run reports a roll-back.
 */
async function reconcile(
  options: AnnotateOptions,
  deps: AnnotateDeps,
  plannedFingerprint: string,
  placed: MarkRef[],
  unmarked: MarkRef[],
  budget: {
    /** `reconcileTimeout`, counted from the end of apply. */
    budgetMs: number;
    wait: () => Promise<{ timedOut: boolean; blockers: GroupRun[] }>;
  },
): Promise<Reconciled> {
  const { registry, store, sources, clock, logger } = deps;
  if (placed.length === 0) return {};
  const runs = await store.listRuns(options.group);
  const fingerprint = await readFingerprint(sources);
  const check = needsReconcile(store.self, runs, plannedFingerprint, fingerprint);
  if (!check.reconcile) {
    logger.info('reconcile: nobody began publishing and the image-info is unchanged');
    return {};
  }
  logger.info(`reconcile: ${check.reason}; waiting, then re-reading the image-info`);
  const barrier = await budget.wait();
  if (barrier.timedOut) {
    const blockers = blockerNames(barrier.blockers, clock);
    const after = formatDuration(budget.budgetMs);
    logger.info(
      `reconcile: still blocked ${after} after apply by ${blockers}; rolling back: removing all ${placed.length} mark(s) this run placed`,
    );
    const removed: MarkRef[] = [];
    await removeMarks(
      [...placed],
      registry,
      logger,
      removed,
      'rolled back: not shown safe in time',
    );
    return {
      reason: `${check.reason}; timed out, rolled back`,
      rollBack: {
        message: `reconcile timed out after ${after} waiting for: ${blockers}. Rolled back: all ${removed.length} mark(s) this run placed were removed (a later run places them again)`,
        blockers: barrier.blockers,
        removed,
      },
    };
  }
  const loaded = await loadImageInfo(sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  const scope = [...new Set(placed.map((m) => m.repository))].sort();
  // The marked subjects are asked of the registry even where no tag and no memory shows them.
  const known = new Map<string, Set<string>>();
  for (const m of placed) addTo(known, m.repository, m.subject);
  const records = await new Inventory(registry, options.concurrency).records(scope, known);
  const stillCandidates = new Set(
    classify(records, supported).candidates.map((c) => refKey(c.repository, c.digest)),
  );
  const now = placed.filter((m) => !stillCandidates.has(refKey(m.repository, m.subject)));
  await removeMarks(now, registry, logger, unmarked, 'recorded again while it was being marked');
  logger.info(`reconcile: ${now.length} of ${placed.length} mark(s) removed`);
  return { reason: check.reason };
}

async function removeMarks(
  marks: MarkRef[],
  registry: Registry,
  logger: Logger,
  removed: MarkRef[],
  why: string,
): Promise<void> {
  for (const m of marks) {
    const how = await registry.deleteReferrer(m.repository, m.subject, m.referrer);
    removed.push({ ...m, how });
    logger.info(
      `${m.repository}@${m.subject}: lifecycle mark ${m.referrer} removed (${why})${unmarkNote(how)}`,
    );
  }
}

async function makePlan(
  options: AnnotateOptions,
  deps: AnnotateDeps,
  inventory: Inventory,
  firstRunHistory: () => Promise<History | undefined>,
): Promise<PlanWithUnmarks> {
  const { registry, sources, clock, logger } = deps;
  const loaded = await loadImageInfo(sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  logger.info(
    `image-info: ${supported.digests.size} supported digest(s) in ${sources.map((s) => s.name).join(', ')}`,
  );

  const history = options.fromPlan ? undefined : await firstRunHistory();
  const scope = options.fromPlan
    ? {
        repositories: [...new Set(options.fromPlan.map((p) => p.repository))].sort(),
        retired: [],
      }
    : await resolveScope(registry, supported, options.repositories, logger, {
        mode: options.retiredRepositories ?? 'mark',
        named: history?.repositories,
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

/**
 * On a group's first run on a registry that keeps a memory (a cache repository), the image-info's
 * history: what older versions named. Later runs remember instead.
 */
async function readFirstRunHistory(
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

function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

/**
 * The plan, with the lifecycle marks on supported digests that annotate removes, and the
 * distinct manifests of each repository in scope (what the guard and the summary count against).
 */
export type PlanWithUnmarks = Plan & {
  unmark: MarkRef[];
  manifests: Record<string, number>;
  /** Repositories that left the image-info, in scope with all their images (retiredRepositories). */
  retired: Array<{ repository: string; manifests: number }>;
  /** What this run could not see, and why (a source without history). */
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

async function apply(
  plan: Plan,
  concurrency: number,
  registry: Registry,
  clock: Clock,
  logger: Logger,
  placed: MarkRef[],
  throttle?: Throttle,
): Promise<number> {
  const progress = new ProgressReporter(
    plan.annotate.length,
    clock,
    logger,
    'annotated',
    undefined,
    throttle && { throttle, noun: 'marks' },
  );
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
    const digest = sha256Digest(json);
    // Recorded before the push: a push that failed half-way may still have landed.
    placed.push({ repository: entry.repository, subject: entry.digest, referrer: digest });
    const outcome = await registry.pushReferrer(entry.repository, subject, {
      bytes: new TextEncoder().encode(json),
      digest,
      mediaType: MediaType.ociManifest,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: date },
    });
    if (outcome !== 'pushed') {
      // A referrer pushed as an image: nothing was placed (the adapter said why).
      placed.splice(
        placed.findIndex((m) => m.referrer === digest && m.subject === entry.digest),
        1,
      );
      return;
    }
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
  return {
    annotated: 0,
    alreadyAnnotated: 0,
    skippedTooYoung: 0,
    candidates: 0,
    unmarked: 0,
    rolledBack: 0,
  };
}
