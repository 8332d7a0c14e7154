import type { Descriptor } from '../core/oci.js';
import type { Plan, PlanEntry } from '../core/planner.js';
import type { Clock, Logger } from '../core/ports.js';
import { lifecycleReferrer } from '../registry/lifecycle-referrer.js';
import type { Registry } from '../registry/port.js';
import { forEachLimited } from '../util/pool.js';
import type { Throttle } from '../util/throttle.js';
import type { MarkRef } from './annotate.js';
import { ProgressReporter } from './progress.js';

/** Step 6: places the plan's marks; `placed` collects each before its push. */
export async function apply(
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
    const mark = lifecycleReferrer(subject, date);
    const digest = mark.digest;
    // Recorded before the push: a push that failed half-way may still have landed.
    placed.push({ repository: entry.repository, subject: entry.digest, referrer: digest });
    const outcome = await registry.pushReferrer(entry.repository, subject, mark);
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
