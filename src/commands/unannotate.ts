import { parseImageRef, sameRegistryHost } from '../core/digest.js';
import { InputError } from '../core/errors.js';
import { lifecycleMarkOf, LIFECYCLE_ARTIFACT_TYPE } from '../core/lifecycle.js';
import type { Logger } from '../core/ports.js';
import type { Registry } from '../registry/port.js';

export interface UnannotateResult {
  removed: { repository: string; digest: string; referrer: string; date?: string }[];
}

/**
 * Rollback: removes every lifecycle mark from the given `[host/]repo@sha256:…` digests. A host
 * must be the configured registry's: the same repository and digest on another registry is not
 * what the user asked to roll back.
 */
export async function unannotate(
  options: {
    digests: string[];
    /** How the host spells the input in errors (`--digest`, `digest`). */
    label?: string;
  },
  deps: { registry: Registry; logger: Logger },
): Promise<UnannotateResult> {
  const label = options.label ?? 'digest';
  const registryHost = deps.registry.displayName;
  // Parse and check everything before the first delete: bad input writes nothing.
  const refs = options.digests.map((d) => {
    const ref = parseImageRef(d, label);
    if (ref.host !== undefined && !sameRegistryHost(ref.host, registryHost)) {
      throw new InputError(
        `${label}: ${JSON.stringify(d)} names the registry ${ref.host}, not ${registryHost}; nothing was removed`,
      );
    }
    return ref;
  });
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
