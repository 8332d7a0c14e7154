import { afterEach } from 'vitest';
import { Throttle, type ThrottleOptions } from '../../../src/util/throttle.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  annotate,
  type AnnotateOptions,
  type AnnotateResult,
} from '../../../src/commands/annotate.js';
import { NoneStore } from '../../../src/coordination/none.js';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../../../src/core/lifecycle.js';
import { silentLogger, type Logger } from '../../../src/core/ports.js';
import { FileSource } from '../../../src/imageinfo/file-source.js';
import {
  AcrRegistry,
  createAcrCredential,
  type AcrRegistryOptions,
} from '../../../src/registry/acr/index.js';
import {
  seedArtifact,
  seedImage,
  seedIndex,
  startFakeAcr,
  type FakeAcr,
  type FakeAcrOptions,
} from '../../support/fake-acr/index.js';
import { capturingLogger, fastRetry, instantClock } from '../../support/doubles.js';
import { startIdentityEndpoint, type IdentityEndpoint } from '../../support/identity-endpoint.js';
import { annotateOptions } from '../../support/annotate-options.js';

export const EOL_DATE = '2026-06-01';
export const OLD = new Date('2026-01-01T00:00:00Z');

/**
 * A throttle on a fake clock: its waits (holds after a 429, pacing) advance the clock instead of
 * sleeping, so a registry that keeps refusing reaches the stall limit at once.
 */
export function fakeClockThrottle(options: ThrottleOptions = {}): Throttle & { waited: number[] } {
  let offset = 0;
  const waited: number[] = [];
  const throttle = new Throttle({
    clock: {
      now: () => new Date(Date.now() + offset),
      sleep: async (ms) => {
        waited.push(ms);
        offset += ms;
      },
      random: Math.random,
    },
    ...options,
  });
  return Object.assign(throttle, { waited });
}

export { capturingLogger, fastRetry, type CapturingLogger } from '../../support/doubles.js';

let identity: Promise<IdentityEndpoint> | undefined;

/**
 * One managed-identity endpoint per process, like the host's: MSAL caches the managed-identity
 * token process-wide, so a second endpoint would never be asked.
 */
export function sharedIdentity(): Promise<IdentityEndpoint> {
  identity ??= startIdentityEndpoint().then((endpoint) => {
    Object.assign(process.env, endpoint.env);
    return endpoint;
  });
  return identity;
}

export interface AcrEnvironment {
  fake: FakeAcr;
  identity: IdentityEndpoint;
  close(): Promise<void>;
}

/** A fake ACR plus the managed-identity endpoint that DefaultAzureCredential finds through the environment. */
export async function startAcrEnvironment(options: FakeAcrOptions = {}): Promise<AcrEnvironment> {
  const [fake, endpoint] = await Promise.all([startFakeAcr(options), sharedIdentity()]);
  return { fake, identity: endpoint, close: () => fake.close() };
}

/**
 * One fake ACR at a time for a test file: `fresh()` closes the running one and starts another;
 * the last one is closed after each test.
 */
export function useFakeAcr(): {
  fresh(options?: FakeAcrOptions): Promise<FakeAcr>;
  readonly env: AcrEnvironment;
} {
  let env: AcrEnvironment | undefined;
  afterEach(async () => {
    await env?.close();
    env = undefined;
  });
  return {
    fresh: async (options) => {
      await env?.close();
      env = await startAcrEnvironment(options);
      return env.fake;
    },
    get env() {
      return env!;
    },
  };
}

/** The adapter as a host would build it: DefaultAzureCredential, the real SDK; only the CA is ours. */
export function acrFor(fake: FakeAcr, options: Partial<AcrRegistryOptions> = {}): AcrRegistry {
  const { credential, name } = createAcrCredential({ kind: 'default' });
  return new AcrRegistry({
    endpoint: fake.url,
    credential,
    credentialName: name,
    ca: fake.caPem,
    ...fastRetry(),
    logger: silentLogger,
    ...options,
  });
}

export interface Scenario {
  dir: string;
  imageInfo: string;
  supported: string[];
  orphans: { repository: string; digest: string }[];
  young: string;
  annotatedBefore: string;
  signatureOnSupported: string;
}

/**
 * The core scenario: two repositories; supported images, a supported index and its children,
 * old orphans, a young orphan, an orphan annotated before, signatures. Seeded in-process.
 */
export function seedScenario(fake: FakeAcr, orphanCount = 6): Scenario {
  const app = 'team/app';
  const tool = 'team/tool';
  const s1 = seedImage(fake, app, 's1', { tags: ['latest'], created: OLD });
  const c1 = seedImage(fake, app, 'c1', { created: OLD });
  const c2 = seedImage(fake, app, 'c2', { created: OLD });
  const idx = seedIndex(fake, app, [c1, c2], { tags: ['multi'], created: OLD });
  const orphans = Array.from({ length: orphanCount }, (_, i) =>
    seedImage(fake, app, `o${i}`, { created: OLD, tags: i === 0 ? ['old'] : [] }),
  );
  const young = seedImage(fake, app, 'young', { created: new Date() });
  const annotated = seedImage(fake, app, 'annotated', { created: OLD });
  pushLifecycle(fake, app, annotated, '2025-01-01');
  const signatureOnSupported = seedArtifact(fake, app, s1, 'application/vnd.cncf.notary.signature');
  seedArtifact(fake, app, orphans[0], 'application/vnd.cncf.notary.signature');
  const t1 = seedImage(fake, tool, 't1', { created: OLD, docker: true, tags: ['1.0'] });
  const t2 = seedImage(fake, tool, 't2', { created: OLD, docker: true });

  const dir = mkdtempSync(join(tmpdir(), 'acr-scenario-'));
  const imageInfo = join(dir, 'image-info.json');
  const platform = (repo: string, digest: string) => ({
    digest: `mcr.microsoft.com/${repo}@${digest}`,
    simpleTags: [],
    dockerfile: 'Dockerfile',
  });
  writeFileSync(
    imageInfo,
    JSON.stringify({
      schemaVersion: '2.0',
      repos: [
        {
          repo: app,
          images: [
            { platforms: [platform(app, s1.digest)] },
            {
              manifest: { digest: `mcr.microsoft.com/${app}@${idx.digest}`, sharedTags: ['multi'] },
              platforms: [],
            },
          ],
        },
        { repo: tool, images: [{ platforms: [platform(tool, t1.digest)] }] },
      ],
    }),
  );
  return {
    dir,
    imageInfo,
    supported: [s1.digest, idx.digest, c1.digest, c2.digest, t1.digest],
    orphans: [
      ...orphans.map((o) => ({ repository: app, digest: o.digest })),
      { repository: tool, digest: t2.digest },
    ],
    young: young.digest,
    annotatedBefore: annotated.digest,
    signatureOnSupported,
  };
}

export function pushLifecycle(
  fake: FakeAcr,
  repository: string,
  subject: { digest: string; size: number; mediaType: string },
  date: string,
): string {
  fake.seedBlob(repository, '{}');
  return fake.seedManifest(repository, lifecycleManifestJson(subject, date));
}

/** Annotates `imageInfo`'s orphans through `registry` (group `acr-test`, marks dated EOL_DATE). */
export function runAnnotate(
  registry: AcrRegistry,
  { imageInfo }: { imageInfo: string },
  logger: Logger = capturingLogger(),
  options: Partial<AnnotateOptions> = {},
): Promise<AnnotateResult> {
  return annotate(annotateOptions({ group: 'acr-test', eolDate: EOL_DATE, ...options }), {
    registry,
    store: new NoneStore(),
    sources: [new FileSource(imageInfo)],
    clock: instantClock,
    logger,
  });
}

/** Lifecycle referrers per subject, from the registry's own state. */
export function lifecycleBySubject(fake: FakeAcr, repository: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of fake.snapshot()[repository] ?? []) {
    if (m.artifactType !== LIFECYCLE_ARTIFACT_TYPE || !m.subject) continue;
    out.set(m.subject, [
      ...(out.get(m.subject) ?? []),
      m.annotations?.[EOL_DATE_ANNOTATION] ?? '?',
    ]);
  }
  return out;
}
