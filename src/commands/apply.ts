import type { Descriptor } from '../core/oci.js';
import type { Plan, PlanEntry } from '../core/planner.js';
import { lifecycleReferrer } from '../registry/lifecycle-referrer.js';
import type { Registry } from '../registry/port.js';
import { forEachLimited } from '../util/pool.js';
import type { AnnotateDeps, MarkRef } from './annotate.js';
import { ProgressReporter } from './progress.js';

/** Step 6: places the plan's marks; `placed` collects each before its push. */
export async function apply(
  plan: Plan,
  concurrency: number,
  { registry, clock, logger, throttle }: Omit<AnnotateDeps, 'store' | 'sources'>,
  placed: MarkRef[],
): Promise<number> {
  const pacing = throttle && { throttle, noun: 'marks' };
  const progress = new ProgressReporter(plan.annotate.length, clock, logger, 'annotated', pacing);
  let done = 0;
  await forEachLimited(plan.annotate, concurrency, async (entry) => {
    const subject = await subjectDescriptor(registry, entry);
    if (!subject) {
      logger.warning(
        `${entry.repository}@${entry.digest}: gone from the registry since the inventory; skipped`,
      );
      return;
    }
    const mark = lifecycleReferrer(subject, entry.eolDate ?? plan.eolDate);
    // Recorded before the push: a push that failed half-way may still have landed.
    const ref = { repository: entry.repository, subject: entry.digest, referrer: mark.digest };
    placed.push(ref);
    if ((await registry.pushReferrer(entry.repository, subject, mark)) !== 'pushed') {
      // A referrer pushed as an image: nothing was placed (the adapter said why).
      placed.splice(placed.indexOf(ref), 1);
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
