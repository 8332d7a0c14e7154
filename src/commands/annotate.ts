import type { CoordinationStore, CoverScope, GroupRun } from '../coordination/port.js';
import { InputError, RuntimeError } from '../core/errors.js';
import {
  checkAnnotationLimit,
  describeLimit,
  type AnnotationLimit,
  type GuardViolation,
} from '../core/guard.js';
import type { Plan } from '../core/planner.js';
import type { PlannedDigest } from '../core/plan-file.js';
import type { Clock, Logger } from '../core/ports.js';
import { assertGroupName, participantKey, validate } from '../core/protocol.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import type { Registry, UnmarkOutcome } from '../registry/port.js';
import type { Throttle } from '../util/throttle.js';
import { apply } from './apply.js';
import { waitForBarrier, type BarrierOptions } from './barrier.js';
import type { History } from './history.js';
import { loadImageInfo, readFingerprint } from './image-info.js';
import { labelOf, makePlan, readFirstRunHistory, type PlanWithUnmarks } from './plan.js';
import { blockerNames, reconcile, removeMarks, type Reconciled } from './reconcile.js';

export type { PlanWithUnmarks } from './plan.js';

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
   * Blast-radius guard: a plan over it in any repository is written, then refused. Not for
   * `fromPlan`: a person reviewed that plan.
   */
  maxAnnotations?: AnnotationLimit;
  /**
   * Repositories gone from the image-info that the group's memory or its history names: `mark`
   * (default) keeps them in scope, all images unsupported; `ignore` drops them. Only without globs.
   */
  retiredRepositories?: 'mark' | 'ignore';
  /** First run only (no memory yet): older versions of a git-kept image-info to read (0: none). */
  historyDepth?: number;
  /** Step 7 (default true); only the simulator turns it off, to show what it prevents. */
  reconcile?: boolean;
  /** Step 7's own budget from the end of apply (default `timeoutMs`); step 1's unused time is not added. */
  reconcileTimeoutMs?: number;
  /** How the host spells an input in messages (`--on-timeout` on the CLI); default its name. */
  label?: (input: string) => string;
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
  blockers: GroupRun[];
  removed: MarkRef[];
}

export interface AnnotateResult {
  /**
   * `refused`: over `maxAnnotations`; the plan was written, nothing applied. `rolled-back`:
   * applied, then reconcile timed out and removed this run's marks; obeys `onTimeout`.
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
  /** Marks placed (`applied`, `rolled-back`); removals are in `unmarked` and `rollBack`. */
  annotated?: MarkRef[];
  /** Marks removed from supported digests, by the plan or by reconciliation. */
  unmarked: MarkRef[];
  /** Why step 7 re-checked the marks this run placed, when it did. */
  reconciled?: string;
  rollBack?: RollBack;
}

/** docs/design.md §2: wait, read, inventory, plan, validate, apply, reconcile. */
export async function annotate(
  options: AnnotateOptions,
  deps: AnnotateDeps,
): Promise<AnnotateResult> {
  const { registry, store, sources, clock, logger } = deps;
  const label = labelOf(options);
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
      logger.warning(`${message}. Nothing was annotated (${label('onTimeout')}: skip).`);
      return result('timed-out', countsOf());
    }

    // Every pass inventories afresh: a listing from before a restart may lack the index that
    // now protects a digest it showed (docs/design.md §2 step 3).
    const plan = await logger.group('Plan', () => makePlan(options, deps, firstRunHistory));
    logger.info(
      `plan: ${plan.annotate.length} to annotate, ${plan.alreadyAnnotated.length} already annotated, ${plan.tooYoung.length} too young, ${plan.unmark.length} supported digest(s) to unmark`,
    );

    for (const r of plan.retired)
      logger.info(
        `${r.repository} left the image-info: ${r.manifests} image(s), all unsupported (${label('retiredRepositories')}: mark)`,
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

    const counts = countsOf(plan);
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
      counts.annotated = await apply(plan, options.concurrency, deps, placed);
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
      if (options.onTimeout === 'skip')
        logger.warning(`${rollBack.message} (${label('onTimeout')}: skip)`);
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
  const name = `${labelOf(options)('maxAnnotations')} ${describeLimit(limit)}`;
  if (options.fromPlan) {
    logger.info(`${name}: not applied to a run from a reviewed plan`);
    return undefined;
  }
  const planned = new Map<string, number>();
  for (const e of plan.annotate) planned.set(e.repository, (planned.get(e.repository) ?? 0) + 1);
  const violations = checkAnnotationLimit(limit, planned, new Map(Object.entries(plan.manifests)));
  if (violations.length === 0) return undefined;
  for (const v of violations)
    logger.warning(
      `${v.repository}: the plan marks ${v.planned} of ${v.manifests} manifest(s), more than ${name} allows (${v.allowed})`,
    );
  return violations;
}

/** All zero before a plan. */
function countsOf(plan?: Plan): AnnotateCounts {
  return {
    annotated: 0,
    alreadyAnnotated: plan?.alreadyAnnotated.length ?? 0,
    skippedTooYoung: plan?.tooYoung.length ?? 0,
    candidates: plan?.annotate.length ?? 0,
    unmarked: 0,
    rolledBack: 0,
  };
}
