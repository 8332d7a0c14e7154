import { parseImageRef } from '../core/digest.js';
import { lifecycleMarkOf, LIFECYCLE_ARTIFACT_TYPE } from '../core/lifecycle.js';
import type { Logger } from '../core/ports.js';
import type { Registry } from '../registry/port.js';

export interface UnannotateResult {
  removed: { repository: string; digest: string; referrer: string; date?: string }[];
}

/** Rollback: removes every lifecycle mark from the given `repo@sha256:…` digests. */
export async function unannotate(
  options: { digests: string[] },
  deps: { registry: Registry; logger: Logger },
): Promise<UnannotateResult> {
  // Parse everything before the first delete: bad input writes nothing.
  const refs = options.digests.map((d, i) => parseImageRef(d, `digest[${i}]`));
  const removed: UnannotateResult['removed'] = [];
  for (const ref of refs) {
    const referrers = await deps.registry.listReferrers(
      ref.repository,
      ref.digest,
      LIFECYCLE_ARTIFACT_TYPE,
    );
    const marks = referrers.map(lifecycleMarkOf).filter((m) => m !== undefined);
    if (marks.length === 0) deps.logger.info(`${ref.repository}@${ref.digest}: no lifecycle mark`);
    for (const mark of marks) {
      await deps.registry.deleteReferrer(ref.repository, ref.digest, mark.digest);
      removed.push({
        repository: ref.repository,
        digest: ref.digest,
        referrer: mark.digest,
        date: mark.date,
      });
      deps.logger.info(
        `${ref.repository}@${ref.digest}: removed lifecycle mark ${mark.digest} (${mark.date ?? 'no date'})`,
      );
    }
  }
  return { removed };
}
