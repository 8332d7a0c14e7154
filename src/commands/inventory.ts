import { refKey } from '../core/digest.js';
import { lifecycleMarkOf, LIFECYCLE_ARTIFACT_TYPE } from '../core/lifecycle.js';
import type { LifecycleMark, ManifestRecord } from '../core/oci.js';
import type { PlanEntry } from '../core/planner.js';
import type { Registry } from '../registry/port.js';
import { forEachLimited } from '../util/pool.js';

/**
 * What the run learned from the registry, kept across protocol restarts: manifests are
 * immutable, so a listing stays true for what it shows (DESIGN §2 step 5 "may be reused").
 */
export class InventoryCache {
  private readonly byRepository = new Map<string, ManifestRecord[]>();
  readonly lifecycle = new Map<string, LifecycleMark[]>();
  readonly created = new Map<string, string | undefined>();

  constructor(
    private readonly registry: Registry,
    private readonly concurrency: number,
  ) {}

  /** Lists the repositories not listed yet; returns the records of all of `repositories`. */
  async records(repositories: string[]): Promise<ManifestRecord[]> {
    const missing = repositories.filter((r) => !this.byRepository.has(r));
    await forEachLimited(missing, Math.min(4, this.concurrency), async (repository) => {
      this.byRepository.set(repository, await this.registry.listManifests(repository));
    });
    return repositories.flatMap((r) => this.byRepository.get(r) ?? []);
  }

  /** Looks up lifecycle referrers (and, when `needCreated`, the age) of candidates not seen yet. */
  async enrich(candidates: PlanEntry[], needCreated: boolean): Promise<void> {
    const pending = candidates.filter((c) => !this.lifecycle.has(refKey(c.repository, c.digest)));
    await forEachLimited(pending, this.concurrency, async (c) => {
      const key = refKey(c.repository, c.digest);
      if (needCreated && !c.created && !this.created.has(key)) {
        this.created.set(key, await this.registry.imageCreated(c.repository, c.digest));
      }
      const referrers = await this.registry.listReferrers(c.repository, c.digest, LIFECYCLE_ARTIFACT_TYPE);
      this.lifecycle.set(key, referrers.map(lifecycleMarkOf).filter((m): m is LifecycleMark => !!m));
    });
  }
}
