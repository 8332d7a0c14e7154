import { refKey } from '../core/digest.js';
import { lifecycleMarkOf, LIFECYCLE_ARTIFACT_TYPE } from '../core/lifecycle.js';
import type { LifecycleMark, ManifestRecord } from '../core/oci.js';
import { childrenOfSupported, type PlanEntry } from '../core/planner.js';
import type { Registry } from '../registry/port.js';
import { forEachLimited } from '../util/pool.js';
import type { Clock, Logger } from '../core/ports.js';
import { ListingProgress, ProgressReporter } from './progress.js';
import { repositoriesInScope, type SupportedSet } from '../core/supported.js';

/** The repositories an annotate looks at, and which of them left the image-info. */
export interface Scope {
  repositories: string[];
  /** In scope only because the group's memory or the image-info's history names them. */
  retired: string[];
}

/**
 * `globs` against the catalog, else what the image-info names plus, unless `retired` is `ignore`,
 * what it named before (memory, history): a repository that left keeps its now unsupported images.
 */
export async function resolveScope(
  registry: Registry,
  supported: SupportedSet,
  globs: string[],
  logger: Logger,
  retired: { mode: 'mark' | 'ignore'; named?: Iterable<string>; label?: string } = {
    mode: 'ignore',
  },
): Promise<Scope> {
  const globbing = globs.some((g) => /[*?]/.test(g));
  const all = globbing ? await registry.listRepositories() : undefined;
  if (globbing && !all)
    logger.warning(
      `${registry.displayName} does not list its catalog: only literal repository names are in scope`,
    );
  const current = repositoriesInScope(all, supported, globs);
  let former: string[] = [];
  if (globs.length === 0) {
    const remembered = (await registry.rememberedRepositories?.()) ?? [];
    former = [...new Set([...remembered, ...(retired.named ?? [])])]
      .filter((r) => !supported.repositories.has(r))
      .sort();
    if (retired.mode === 'ignore' && former.length > 0) {
      logger.info(
        `${retired.label ?? 'retiredRepositories'} ignore: ${former.length} repositor${former.length === 1 ? 'y' : 'ies'} that left the image-info stay out of scope (${former.join(', ')})`,
      );
      former = [];
    }
  }
  const repositories = [...new Set([...current, ...former])].sort();
  logger.info(
    `scope: ${repositories.length} repositor${repositories.length === 1 ? 'y' : 'ies'}${former.length ? `, ${former.length} of them retired` : ''}`,
  );
  return { repositories, retired: former };
}

export async function lifecycleMarks(
  registry: Registry,
  repository: string,
  digest: string,
): Promise<LifecycleMark[]> {
  const referrers = await registry.listReferrers(repository, digest, LIFECYCLE_ARTIFACT_TYPE);
  return referrers.map(lifecycleMarkOf).filter((m) => m !== undefined);
}

/** "Looked up, no lifecycle mark": one shared, frozen array rather than one per candidate. */
const NO_MARKS = Object.freeze([]) as unknown as LifecycleMark[];

/**
 * Marks per candidate by repository then digest: 100,000 candidates cost a map entry each, not a
 * `repo@digest` string. Never looked up means no entry (the planner refuses that as "not
 * annotated", invariant 5).
 */
export class LifecycleLookups {
  private readonly byRepository = new Map<string, Map<string, LifecycleMark[]>>();

  has(repository: string, digest: string): boolean {
    return this.byRepository.get(repository)?.has(digest) ?? false;
  }

  set(repository: string, digest: string, marks: LifecycleMark[]): void {
    let digests = this.byRepository.get(repository);
    if (!digests) this.byRepository.set(repository, (digests = new Map()));
    digests.set(digest, marks.length === 0 ? NO_MARKS : marks);
  }

  /** By `repo@digest` (refKey): repository names cannot contain `@`, so the first one splits. */
  get(key: string): LifecycleMark[] | undefined {
    const at = key.indexOf('@');
    if (at < 0) return undefined;
    return this.byRepository.get(key.slice(0, at))?.get(key.slice(at + 1));
  }
}

/**
 * One pass's registry reads, never reused: a listing from before a restart may lack an index
 * pushed since, showing its children as orphans (docs/design.md §2 step 3).
 */
export class Inventory {
  private readonly byRepository = new Map<string, ManifestRecord[]>();
  readonly lifecycle = new LifecycleLookups();
  readonly created = new Map<string, string | undefined>();

  constructor(
    private readonly registry: Registry,
    private readonly concurrency: number,
    /** Progress of long listings and lookups; none when absent. */
    private readonly progress?: { clock: Clock; logger: Logger },
  ) {}

  /** Lists what is not listed yet; `known` digests are asked for even if no tag shows them. */
  async records(
    repositories: string[],
    known?: ReadonlyMap<string, ReadonlySet<string>>,
  ): Promise<ManifestRecord[]> {
    const missing = repositories.filter((r) => !this.byRepository.has(r));
    const p = this.progress;
    const progress = p && new ListingProgress(missing.length, p.clock, p.logger);
    await forEachLimited(missing, Math.min(4, this.concurrency), async (repository) => {
      const records = await this.registry.listManifests(repository, known?.get(repository));
      this.byRepository.set(repository, records);
      progress?.repositoryListed(records.length);
    });
    progress?.finish();
    return repositories.flatMap((r) => this.byRepository.get(r) ?? []);
  }

  /** Looks up lifecycle referrers (and, when `needCreated`, the age) of candidates not seen yet. */
  async enrich(candidates: PlanEntry[], needCreated: boolean): Promise<void> {
    const pending = candidates.filter((c) => !this.lifecycle.has(c.repository, c.digest));
    const progress = this.reporter(pending.length, 'referrers looked up');
    await forEachLimited(pending, this.concurrency, async (c) => {
      if (needCreated && !c.created) {
        const key = refKey(c.repository, c.digest);
        if (!this.created.has(key))
          this.created.set(key, await this.registry.imageCreated(c.repository, c.digest));
      }
      const marks = await lifecycleMarks(this.registry, c.repository, c.digest);
      this.lifecycle.set(c.repository, c.digest, marks);
      progress?.tick();
    });
    progress?.finish();
  }

  private reporter(total: number, verb: string): ProgressReporter | undefined {
    const p = this.progress;
    return p && new ProgressReporter(total, p.clock, p.logger, verb);
  }

  /** Marks on supported digests (indexes' children too): annotate removes them (converge both ways). */
  async marksOnSupported(
    records: ManifestRecord[],
    supported: SupportedSet,
  ): Promise<Array<{ repository: string; subject: string; referrer: string }>> {
    const protectedChildren = childrenOfSupported(records, supported);
    const targets = records.filter(
      (m) => supported.digests.has(m.digest) || protectedChildren.has(m.digest),
    );
    const found: Array<{ repository: string; subject: string; referrer: string }> = [];
    const progress = this.reporter(targets.length, 'supported digests checked for marks');
    await forEachLimited(targets, this.concurrency, async (t) => {
      for (const mark of await lifecycleMarks(this.registry, t.repository, t.digest))
        found.push({ repository: t.repository, subject: t.digest, referrer: mark.digest });
      progress?.tick();
    });
    progress?.finish();
    return found.sort((a, b) =>
      refKey(a.repository, a.subject).localeCompare(refKey(b.repository, b.subject)),
    );
  }
}
