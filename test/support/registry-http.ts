import { LIFECYCLE_ARTIFACT_TYPE, EOL_DATE_ANNOTATION } from '../../src/core/lifecycle.js';

/**
 * Reads a registry with plain HTTP calls, independent of the adapter under test: what a
 * scanner would see through the distribution-spec 1.1 referrers fallback tag.
 */
export async function lifecycleMarksByHttp(
  url: string,
  repository: string,
  digest: string,
): Promise<{ digest: string; date: string }[]> {
  const res = await fetch(`${url}/v2/${repository}/manifests/${digest.replace(':', '-')}`, {
    headers: { accept: 'application/vnd.oci.image.index.v1+json' },
  });
  if (res.status === 404) return [];
  if (!res.ok) throw new Error(`GET fallback index of ${repository}@${digest}: HTTP ${res.status}`);
  const index = (await res.json()) as {
    manifests: { digest: string; artifactType?: string; annotations?: Record<string, string> }[];
  };
  return index.manifests
    .filter((m) => m.artifactType === LIFECYCLE_ARTIFACT_TYPE)
    .map((m) => ({ digest: m.digest, date: m.annotations?.[EOL_DATE_ANNOTATION] ?? '' }));
}

export async function tagsByHttp(url: string, repository: string): Promise<string[]> {
  const res = await fetch(`${url}/v2/${repository}/tags/list?n=1000`);
  if (res.status === 404) return [];
  const body = (await res.json()) as { tags: string[] | null };
  return (body.tags ?? []).sort();
}

/** Every repository's tag list: a snapshot to prove that a failed run wrote nothing. */
export async function registrySnapshot(url: string): Promise<Record<string, string[]>> {
  const res = await fetch(`${url}/v2/_catalog?n=1000`);
  const { repositories } = (await res.json()) as { repositories: string[] };
  const out: Record<string, string[]> = {};
  for (const r of repositories) out[r] = await tagsByHttp(url, r);
  return out;
}
