import { isDigest } from '../../core/digest.js';
import { MediaType, type Descriptor } from '../../core/oci.js';
import { HttpStatusError } from '../../util/http.js';
import { nextLink } from '../links.js';
import { errorCode, httpError, type OciClient } from './client.js';
import { parseManifest } from './manifests.js';

/**
 * The OCI 1.1 referrers API of one registry. Whether the registry has it is learnt once, and
 * only from an answer that tells.
 */
export class ReferrersApi {
  /** undefined until a referrers request or a push told us. */
  exists?: boolean;
  /** The lookup probing for the API while `exists` is undefined. */
  private probing?: Promise<unknown>;

  constructor(private readonly client: OciClient) {}

  /** The API's list; undefined when the fallback tag alone must answer (no API, or an ambiguous 404). */
  async list(
    repo: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[] | undefined> {
    // Until the registry has told whether it has the API, one lookup probes at a time: a 404
    // racing with a concurrent 200 must not teach "no API" (see `read`).
    while (this.exists === undefined && this.probing) await this.probing.catch(() => {});
    if (this.exists === false) return undefined;
    if (this.exists) return this.read(repo, subject, artifactType);
    const probe = this.read(repo, subject, artifactType);
    this.probing = probe;
    try {
      return await probe;
    } finally {
      if (this.probing === probe) this.probing = undefined;
    }
  }

  private async read(
    repo: string,
    subject: string,
    artifactType?: string,
  ): Promise<Descriptor[] | undefined> {
    const query = artifactType ? `?artifactType=${encodeURIComponent(artifactType)}` : '';
    const seen = new Set<string>();
    const out: Descriptor[] = [];
    for (
      let next: string | undefined = this.client.url(`/v2/${repo}/referrers/${subject}${query}`);
      next && !seen.has(next);
    ) {
      const firstPage = seen.size === 0;
      seen.add(next);
      const res = await this.client.request(next, { headers: { Accept: MediaType.ociIndex } });
      if (res.status === 404 && firstPage) {
        // A registry with the API never answers 404 for an existing repository (spec 1.1), but
        // it may for a missing one: that is "no referrers", not "no API".
        const code = await errorCode(res);
        if (code === 'NAME_UNKNOWN') return [];
        // A registry error code (MANIFEST_UNKNOWN: some registries with the API answer so for a
        // subject they do not hold) does not tell whether the API exists: this lookup reads the
        // fallback tag and the next one asks again.
        if (code) return undefined;
        // No error code: the route does not exist. Only the very first answer may teach "no
        // API". Once the API has answered (or on a later page) a 404 is a failure: reading it as
        // "no API" would make marked digests look unmarked (invariants 4, 5).
        if (this.exists === undefined) {
          this.exists = false;
          return undefined;
        }
        throw new HttpStatusError(404, 'GET', next, '');
      }
      if (!res.ok) throw await httpError(res, 'GET', next);
      this.exists = true;
      const body = new Uint8Array(await res.arrayBuffer());
      const index = parseManifest(body, `${repo} referrers of ${subject}`);
      // Filter ourselves unless the registry says it applied the artifactType filter.
      const applied = (res.headers.get('oci-filters-applied') ?? '')
        .split(',')
        .map((s) => s.trim());
      const filterHere = artifactType !== undefined && !applied.includes('artifactType');
      for (const d of index.manifests ?? []) {
        if (d && isDigest(d.digest) && (!filterHere || d.artifactType === artifactType))
          out.push(d);
      }
      const link = nextLink(res.headers.get('link'));
      next = link ? new URL(link, next).toString() : undefined;
    }
    return out;
  }
}
