import { RuntimeError } from '../../core/errors.js';
import { MediaType, type Descriptor, type ManifestRecord } from '../../core/oci.js';
import type { ManifestFacts } from '../manifest-facts.js';
import type { AcrClient } from './client.js';

/**
 * A listed repository's referrers, per subject digest: ACR keeps a subject's referrers in its
 * repository, so a complete listing answers `listReferrers` without the referrers API. Pushes
 * and deletes of this run keep it current.
 */
export class ReferrerSnapshot {
  private constructor(private readonly bySubject: Map<string, Descriptor[]>) {}

  /** From a listing's records and what their bodies said (`facts`: subjects, annotations, sizes). */
  static of(records: ManifestRecord[], facts: Map<string, ManifestFacts>): ReferrerSnapshot {
    const bySubject = new Map<string, Descriptor[]>();
    for (const record of records) {
      const f = record.subject ? facts.get(record.digest) : undefined;
      if (!f?.subject) continue;
      const d: Descriptor = { mediaType: record.mediaType, digest: record.digest, size: f.size };
      if (record.artifactType) d.artifactType = record.artifactType;
      if (f.annotations) d.annotations = f.annotations;
      const known = bySubject.get(f.subject.digest);
      if (known) known.push(d);
      else bySubject.set(f.subject.digest, [d]);
    }
    return new ReferrerSnapshot(bySubject);
  }

  /** Copies of `subject`'s referrers, of `artifactType` when given. */
  referrersOf(subject: string, artifactType?: string): Descriptor[] {
    return (this.bySubject.get(subject) ?? [])
      .filter((d) => !artifactType || d.artifactType === artifactType)
      .map((d) => ({ ...d }));
  }

  add(subject: string, referrer: Descriptor): void {
    const list = this.bySubject.get(subject) ?? [];
    if (!list.some((d) => d.digest === referrer.digest)) {
      list.push(referrer);
      this.bySubject.set(subject, list);
    }
  }

  remove(subject: string, referrer: string): void {
    const kept = this.bySubject.get(subject)?.filter((d) => d.digest !== referrer);
    if (kept) this.bySubject.set(subject, kept);
  }
}

/** The referrers API (`/v2/<repo>/referrers/<digest>`), every page, filtered by us as well. */
export async function referrersFromApi(
  client: AcrClient,
  repository: string,
  subject: string,
  artifactType?: string,
): Promise<Descriptor[]> {
  const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
  const what = `referrers of ${repository}@${subject}`;
  const found: Descriptor[] = [];
  const seen = new Set<string>();
  const path = `/v2/${repository}/referrers/${subject}${query}`;
  for await (const page of client.pages(repository, path, MediaType.ociIndex, what)) {
    // Filter ourselves too: a registry that ignored the filter says so in OCI-Filters-Applied.
    for (const entry of page) {
      const d = entry as Descriptor | null;
      if (!d || typeof d.digest !== 'string') {
        throw new RuntimeError(`${client.displayName}: ${what}: an entry has no digest`);
      }
      if ((!artifactType || d.artifactType === artifactType) && !seen.has(d.digest)) {
        seen.add(d.digest);
        found.push(d);
      }
    }
  }
  return found;
}
