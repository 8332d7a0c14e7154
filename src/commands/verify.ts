import { refKey } from '../core/digest.js';
import type { LifecycleMark } from '../core/oci.js';
import type { Logger } from '../core/ports.js';
import { childrenOfSupported } from '../core/planner.js';
import { supportedSet } from '../core/supported.js';
import { Inventory, lifecycleMarks, resolveScope } from './inventory.js';
import type { ImageInfoSource } from '../imageinfo/source.js';
import { unmarkNote, type Registry, type UnmarkOutcome } from '../registry/port.js';
import { forEachLimited } from '../util/pool.js';
import { loadImageInfo } from './image-info.js';

export interface VerifyOptions {
  repoPrefix: string;
  repositories: string[];
  concurrency: number;
  repair: boolean;
}

export interface Finding {
  repository: string;
  digest: string;
  marks: LifecycleMark[];
  why: 'supported' | 'child-of-supported-index';
}

export interface VerifyResult {
  checked: number;
  findings: Finding[];
  repaired: number;
  /** Repairs that were not a plain DELETE (refused), by outcome; absent when all were deleted. */
  repairedHow?: Partial<Record<Exclude<UnmarkOutcome, 'deleted'>, number>>;
}

/**
 * Invariant 1 as a check: no supported digest (or supported index's child) carries a mark.
 * Supported digests are checked in their own repository even if unlisted (untagged, plain registry).
 */
export async function verify(
  options: VerifyOptions,
  deps: { registry: Registry; sources: ImageInfoSource[]; logger: Logger },
): Promise<VerifyResult> {
  const { registry, logger } = deps;
  const loaded = await loadImageInfo(deps.sources, options.repoPrefix);
  const supported = supportedSet(loaded.infos, options.repoPrefix);
  // Retired repositories too: a supported digest is protected whatever repository holds it.
  const retired = { mode: 'mark' } as const;
  const scope = await resolveScope(registry, supported, options.repositories, logger, retired);
  const records = await new Inventory(registry, options.concurrency).records(scope.repositories);

  const targets = new Map<string, { repository: string; digest: string; why: Finding['why'] }>();
  const target = (repository: string, digest: string, why: Finding['why']) => {
    const key = refKey(repository, digest);
    if (!targets.has(key)) targets.set(key, { repository, digest, why });
  };
  for (const ref of supported.digests.values())
    target(ref.registryRepository, ref.digest, 'supported');
  for (const m of records)
    if (supported.digests.has(m.digest)) target(m.repository, m.digest, 'supported');
  // Children of supported indexes: whatever `classify` would protect.
  const protectedChildren = childrenOfSupported(records, supported);
  for (const m of records)
    if (protectedChildren.has(m.digest)) target(m.repository, m.digest, 'child-of-supported-index');

  const findings: Finding[] = [];
  await forEachLimited([...targets.values()], options.concurrency, async (t) => {
    const marks = await lifecycleMarks(registry, t.repository, t.digest);
    if (marks.length > 0) findings.push({ ...t, marks });
  });
  findings.sort((a, b) =>
    refKey(a.repository, a.digest).localeCompare(refKey(b.repository, b.digest)),
  );
  for (const f of findings)
    logger.error(
      `${f.repository}@${f.digest} is ${f.why === 'supported' ? 'supported' : 'a child of a supported index'} but marked end-of-life (${f.marks.map((m) => m.date ?? 'no date').join(', ')})`,
    );

  let repaired = 0;
  let repairedHow: VerifyResult['repairedHow'];
  for (const f of options.repair ? findings : [])
    for (const mark of f.marks) {
      const how = await registry.deleteReferrer(f.repository, f.digest, mark.digest);
      repaired++;
      if (how && how !== 'deleted') {
        repairedHow ??= {};
        repairedHow[how] = (repairedHow[how] ?? 0) + 1;
      }
      logger.info(
        `removed lifecycle mark ${mark.digest} from ${f.repository}@${f.digest}${unmarkNote(how)}`,
      );
    }
  return { checked: targets.size, findings, repaired, ...(repairedHow ? { repairedHow } : {}) };
}
