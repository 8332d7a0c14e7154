import { FALLBACK_TAG } from '../../core/digest.js';
import { mapLimited } from '../../util/pool.js';
import { assembleListing, byDigest, type InventoryReader, type Listing } from '../oci/inventory.js';
import type { ManifestJson } from '../oci/manifests.js';
import { FALLBACK_INDEX_ANNOTATION } from '../oci/referrers.js';
import type { GhcrPackages } from './packages.js';

/**
 * Every version of a GHCR package (tagged or untagged, with its push time as `created`), read
 * from the Packages API, then each manifest's bytes by digest (a cached digest costs no
 * request: a digest names its bytes forever). Same shape as the tag listing: fallback indexes
 * (`sha256-<hex>` tags) by subject, and descriptor-only records for children of indexes that
 * are not versions themselves.
 */
export async function listPackageManifests(
  r: InventoryReader,
  packages: GhcrPackages,
  repo: string,
): Promise<Listing> {
  const versions = await packages.listVersions(repo);
  const found = await mapLimited(versions, r.concurrency, async (version) => ({
    tags: version.tags,
    created: version.createdAt,
    m: await byDigest(r, repo, version.digest),
  }));
  // A fallback index we wrote that lost its tag (the registry refused to DELETE it): not an
  // image, and its entries are stale. Never a candidate.
  return assembleListing(repo, found, isGhostFallbackIndex);
}

function isGhostFallbackIndex(json: ManifestJson, tags: string[]): boolean {
  return (
    !tags.some((t) => FALLBACK_TAG.test(t)) &&
    json.annotations?.[FALLBACK_INDEX_ANNOTATION] === 'true'
  );
}
