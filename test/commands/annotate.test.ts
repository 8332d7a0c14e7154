import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { annotate, type AnnotateOptions } from '../../src/commands/annotate.js';
import { GitHubStore, markerRef } from '../../src/coordination/github.js';
import { RuntimeError } from '../../src/core/errors.js';
import type { Clock } from '../../src/core/ports.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import type { Descriptor } from '../../src/core/oci.js';
import type { ReferrerManifest, Registry } from '../../src/registry/port.js';
import { DelegatingRegistry } from '../support/delegating-registry.js';
import { ociRegistry, pushImage, pushIndex } from '../support/seed.js';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.js';
import { FakeGitHub } from '../support/fake-github.js';
import { lifecycleMarksByHttp } from '../support/registry-http.js';
import { seedScenario, type Scenario } from '../support/scenario.js';
import { capturingLogger, type CapturingLogger } from '../support/doubles.js';
import { rejection } from '../support/errors.js';

/**
 * DESIGN §2 steps 1 and 5 through the real command: a real registry, the GitHub store over
 * HTTP against the fake GitHub, and a clock whose sleeps are scripted (virtual time: the
 * polls happen, nothing waits for real).
 */
const GROUP = 'linux';
const fake = new FakeGitHub();
let registry: DockerRegistry;
let scenario: Scenario;
let dir: string;
let imageInfoPath: string;
let logger: CapturingLogger;
let onSleep: ((n: number) => void | Promise<void>) | undefined;
let sleeps: number;

let virtualNow: number;
const clock: Clock = {
  now: () => new Date(virtualNow),
  sleep: async (ms) => {
    virtualNow += ms;
    await onSleep?.(++sleeps);
  },
  random: () => 0.5,
};

const options: AnnotateOptions = {
  repoPrefix: 'public/',
  repositories: [],
  eolDate: '2026-11-22',
  minAgeMs: 0,
  concurrency: 4,
  dryRun: false,
  group: GROUP,
  timeoutMs: 10 * 60_000,
  pollIntervalMs: 30_000,
  onTimeout: 'fail',
};

function selfStore(): GitHubStore {
  const self = fake.createRun({ name: 'annotator' });
  return new GitHubStore({
    apiUrl: fake.apiUrl,
    owner: fake.owner,
    repo: fake.repo,
    runId: self.id,
    runAttempt: 1,
    jobId: '9001',
    sha: fake.headSha,
    token: fake.token,
    retry: { retries: 0 },
    clock,
  });
}

/** A peer job (run, attempt 1, job `<run>1`) writes `publishing`, as its store would. */
const peerJob = (peer: number) => ({ runId: String(peer), attempt: 1, jobId: `${peer}1` });
function peerPublishing(): number {
  const peer = fake.createRun({ name: 'debian' });
  fake.refs.set(
    markerRef(GROUP, peerJob(peer.id), 'publishing', 'job', virtualNow - 1000),
    fake.headSha,
  );
  return peer.id;
}
const recorded = (peer: number) =>
  fake.refs.set(
    markerRef(GROUP, peerJob(peer), 'image-info-updated', 'job', virtualNow),
    fake.headSha,
  );
const marked = async (key: string) =>
  lifecycleMarksByHttp(registry.url, key.split('@')[0], key.split('@')[1]);
const deps = (store = selfStore()) => ({
  registry: ociRegistry(registry.url),
  store,
  sources: [new FileSource(imageInfoPath)],
  clock,
  logger,
});

beforeAll(async () => {
  await fake.start();
  dir = await mkdtemp(join(tmpdir(), 'eol-gate-annotate-'));
});
afterAll(async () => {
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  registry = await startDockerRegistry();
  scenario = await seedScenario(ociRegistry(registry.url));
  imageInfoPath = join(dir, `image-info-${Date.now()}.json`);
  await writeFile(imageInfoPath, scenario.imageInfo);
  fake.refs.clear();
  fake.runs.clear();
  logger = capturingLogger();
  onSleep = undefined;
  sleeps = 0;
  virtualNow = Date.parse('2026-11-22T12:00:00Z');
});
afterEach(async () => {
  await registry.stop();
});

describe('annotate with a coordination store', () => {
  it('marks its own run image-info-updated, waits for a publishing peer, then annotates', async () => {
    const peer = peerPublishing();
    onSleep = (n) => {
      if (n === 2) recorded(peer);
    };
    const store = selfStore();
    const written: string[] = [];
    fake.mount((req) => {
      if (req.method === 'POST' && req.path.endsWith('/git/refs'))
        written.push(String((JSON.parse(req.body) as { ref?: string }).ref));
      return undefined;
    });
    const result = await annotate(options, deps(store));

    expect(sleeps).toBe(2);
    expect(result.outcome).toBe('applied');
    expect(result.waitedFor.map((r) => r.runId)).toEqual([String(peer)]);
    expect(result.waitedMs).toBeGreaterThanOrEqual(2 * 0.75 * options.pollIntervalMs);
    expect(
      logger.of('info').some((l) => l.startsWith('waiting: ') && l.includes(`run ${peer}`)),
    ).toBe(true);
    expect(written).toEqual([
      markerRef(
        GROUP,
        store.self!,
        'image-info-updated',
        'job',
        Date.parse('2026-11-22T12:00:00Z'),
      ),
    ]);
    for (const key of scenario.orphans) expect(await marked(key)).toHaveLength(1);
  });

  it('a peer that finished (cancelled, crashed) without recording never blocks', async () => {
    const peer = peerPublishing();
    fake.complete(peer, 'cancelled');
    const result = await annotate(options, deps());
    expect(sleeps).toBe(0);
    expect(result.counts.annotated).toBe(scenario.orphans.length);
  });

  it('onTimeout skip: annotates nothing, succeeds, names the blocking run', async () => {
    const peer = peerPublishing();
    const result = await annotate({ ...options, onTimeout: 'skip', timeoutMs: 90_000 }, deps());
    expect(result.outcome).toBe('timed-out');
    expect(result.counts.annotated).toBe(0);
    expect(logger.lines.find((l) => l.startsWith('warning: timed out'))).toContain(`run ${peer}`);
    for (const key of scenario.orphans) expect(await marked(key)).toEqual([]);
  });

  it('onTimeout fail: a runtime error naming the blocking run, nothing written', async () => {
    const peer = peerPublishing();
    const error = await rejection(annotate({ ...options, timeoutMs: 90_000 }, deps()));
    expect(error).toBeInstanceOf(RuntimeError);
    expect(error.message).toMatch(new RegExp(`timed out after \\d+s waiting for: run ${peer}`));
    for (const key of scenario.orphans) expect(await marked(key)).toEqual([]);
  });

  it('a run that starts publishing during the inventory sends annotate back to wait', async () => {
    let lists = 0;
    let peer = 0;
    fake.mount((req) => {
      // Listings: the signal's read-back, step 1's poll, then step 5's validation poll, just
      // before which a new registrant appears. (Had it hit another poll, restarts would be 0.)
      if (req.method === 'GET' && req.path.includes('/git/matching-refs/') && ++lists === 3)
        peer = peerPublishing();
      return undefined;
    });
    onSleep = () => {
      recorded(peer);
    };
    const result = await annotate(options, deps());
    expect(result.restarts).toBe(1);
    expect(result.restartReasons).toEqual([
      '1 participant(s) started publishing during the inventory',
    ]);
    expect(result.waitedFor.map((r) => r.runId)).toEqual([String(peer)]);
    expect(
      logger
        .of('info')
        .some((l) =>
          /validation: 1 participant\(s\) started publishing during the inventory/.test(l),
        ),
    ).toBe(true);
    expect(result.counts.annotated).toBe(scenario.orphans.length);
  });

  it('an image-info change during the inventory restarts, and the new image-info protects', async () => {
    // The peer's update lands between plan and validation and now supports one of the orphans.
    const [repo, digest] = scenario.orphans[0].split('@');
    const doc = JSON.parse(scenario.imageInfo);
    doc.repos.push({
      repo: repo.replace(/^public\//, ''),
      images: [
        { platforms: [{ digest: `mcr.microsoft.com/${repo.replace(/^public\//, '')}@${digest}` }] },
      ],
    });
    let lists = 0;
    fake.mount(async (req) => {
      if (req.method === 'GET' && req.path.includes('/git/matching-refs/') && ++lists === 3) {
        await writeFile(imageInfoPath, JSON.stringify(doc));
      }
      return undefined;
    });
    const result = await annotate(options, deps());
    expect(result.restarts).toBe(1);
    expect(result.restartReasons).toEqual(['image-info changed since it was read']);
    expect(
      logger.of('info').some((l) => l.includes('validation: image-info changed since it was read')),
    ).toBe(true);
    expect(await marked(scenario.orphans[0])).toEqual([]);
    for (const key of scenario.orphans.slice(1)) expect(await marked(key)).toHaveLength(1);
    expect(result.counts.annotated).toBe(scenario.orphans.length - 1);
  });

  it('bad image-info fails before the first write: no marker, no wait', async () => {
    await writeFile(
      imageInfoPath,
      '{"schemaVersion":"2.0","repos":[{"repo":"x","images":[{"platforms":[{}]}]}]}',
    );
    peerPublishing();
    const store = selfStore();
    fake.requests.length = 0;
    const error = await rejection(annotate(options, deps(store)));
    expect(error.message).toMatch(
      /repos\[0\]\.images\[0\]\.platforms\[0\]\.digest: missing digest/,
    );
    expect(sleeps).toBe(0);
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
  });

  it('a dry run writes no marker and no annotation, and deletes nothing (not even stale refs)', async () => {
    // A finished peer's refs are stale: a real run would delete them, a dry run must not.
    const peer = peerPublishing();
    fake.complete(peer);
    await makeSupported(scenario.preAnnotated.digest);
    fake.requests.length = 0;
    const registry = new WriteCountingRegistry(ociRegistry(registryUrl()));
    const result = await annotate({ ...options, dryRun: true }, { ...deps(), registry });
    expect(result.outcome).toBe('dry-run');
    expect(result.counts.candidates).toBe(scenario.orphans.length);
    expect(result.plan?.unmark).toHaveLength(1);
    expect(fake.requests.filter((r) => r.method !== 'GET')).toEqual([]);
    expect(registry.writes).toEqual([]);
    for (const key of scenario.orphans) expect(await marked(key)).toEqual([]);
  });
});

/** Adds a digest of the app repository to the image-info (a rollback records an old image). */
async function makeSupported(digest: string): Promise<void> {
  const doc = JSON.parse(await readFile(imageInfoPath, 'utf8'));
  doc.repos[0].images.push({
    platforms: [
      { digest: `mcr.microsoft.com/dotnet/app@${digest}`, dockerfile: 'src/app/Dockerfile' },
    ],
  });
  await writeFile(imageInfoPath, JSON.stringify(doc));
}
const registryUrl = () => registry.url;

/** Counts the registry writes a command makes (and lets a test act just before the first). */
class WriteCountingRegistry extends DelegatingRegistry {
  readonly writes: string[] = [];
  constructor(
    inner: Registry,
    private readonly beforeFirstPush?: () => Promise<void>,
  ) {
    super(inner);
  }
  override async pushReferrer(repository: string, subject: Descriptor, manifest: ReferrerManifest) {
    const first = this.writes.length === 0;
    this.writes.push(`push ${repository}@${subject.digest}`);
    if (first) await this.beforeFirstPush?.();
    return this.inner.pushReferrer(repository, subject, manifest);
  }
  override deleteReferrer(repository: string, subject: string, referrer: string) {
    this.writes.push(`delete ${repository}@${subject}`);
    return this.inner.deleteReferrer(repository, subject, referrer);
  }
}

describe('Protocol II: restarts, rollbacks and unmarks (docs/design.md §2 steps 3, 4 and 7)', () => {
  it('hole 1: after a restart the inventory is fresh, so a child listed before its index was pushed stays protected', async () => {
    const reg = ociRegistry(registry.url);
    const app = scenario.supportedImage.repository;
    // The peer has pushed an attestation-like child C (tagged, so the listing shows it) and
    // has just signalled publishing; our first listing sees C but not yet its index.
    const child = await pushImage(reg, app, { seed: 'peer:attestation', tag: 'att' });
    let lists = 0;
    let peer = 0;
    fake.mount(async (req) => {
      // Step 5's poll: by now the peer pushed D and I = [C, D] and shows publishing.
      if (req.method === 'GET' && req.path.includes('/git/matching-refs/') && ++lists === 3) {
        peer = peerPublishing();
        const platform = await pushImage(reg, app, { seed: 'peer:platform', tag: 'peer-amd64' });
        const index = await pushIndex(reg, app, [child, platform], 'peer');
        const doc = JSON.parse(await readFile(imageInfoPath, 'utf8'));
        doc.repos[0].images.push({
          manifest: {
            digest: `mcr.microsoft.com/dotnet/app@${index.digest}`,
            sharedTags: ['peer'],
          },
          platforms: [{ digest: `mcr.microsoft.com/dotnet/app@${platform.digest}` }],
        });
        pendingImageInfo = JSON.stringify(doc);
      }
      return undefined;
    });
    let pendingImageInfo = '';
    onSleep = async () => {
      // While we wait, the peer records I and D, then signals image-info-updated.
      await writeFile(imageInfoPath, pendingImageInfo);
      recorded(peer);
    };
    const result = await annotate(options, deps());
    expect(result.restarts).toBe(1);
    expect(await marked(`${app}@${child.digest}`)).toEqual([]);
    for (const key of scenario.orphans) expect(await marked(key)).toHaveLength(1);
  });

  it('hole 6: an existing orphan recorded again while it is being marked loses its mark (reconcile)', async () => {
    const [repo, digest] = scenario.orphans
      .find((k) => k.startsWith(scenario.supportedImage.repository))!
      .split('@');
    let peer = 0;
    // A rollback starts right after validation: it signals publishing as our marks go out ...
    const registry = new WriteCountingRegistry(ociRegistry(registryUrl()), async () => {
      peer = peerPublishing();
    });
    // ... and records the old digest (identical bytes, already in the registry) while we wait.
    onSleep = async () => {
      await makeSupported(digest);
      recorded(peer);
    };
    const result = await annotate(options, { ...deps(), registry });
    expect(result.reconciled).toMatch(/began publishing/);
    expect(await marked(`${repo}@${digest}`)).toEqual([]);
    expect(result.unmarked.map((m) => `${m.repository}@${m.subject}`)).toEqual([
      `${repo}@${digest}`,
    ]);
    expect(result.counts.unmarked).toBe(1);
    for (const key of scenario.orphans.filter((k) => k !== `${repo}@${digest}`))
      expect(await marked(key)).toHaveLength(1);
  });

  it('unmarks: a supported digest carrying a lifecycle mark (a rollback) is unmarked by default', async () => {
    const { repository, digest } = scenario.preAnnotated;
    await makeSupported(digest);
    expect(await marked(`${repository}@${digest}`)).toHaveLength(1);
    const result = await annotate(options, deps());
    expect(result.counts.unmarked).toBe(1);
    expect(await marked(`${repository}@${digest}`)).toEqual([]);
    expect(logger.of('info').some((l) => l.includes('removed (supported by the image-info)'))).toBe(
      true,
    );
  });

  it('unmarkSupported false leaves such marks alone', async () => {
    const { repository, digest } = scenario.preAnnotated;
    await makeSupported(digest);
    const result = await annotate({ ...options, unmarkSupported: false }, deps());
    expect(result.counts.unmarked).toBe(0);
    expect(await marked(`${repository}@${digest}`)).toHaveLength(1);
  });
});

describe('hole 7 of Protocol III: reconcile has its own budget, counted from the end of apply', () => {
  const MINUTE = 60_000;
  const hourOptions: AnnotateOptions = {
    ...options,
    timeoutMs: 60 * MINUTE,
    pollIntervalMs: 2 * MINUTE,
  };

  /**
   * Peer A publishes until 58 minutes into a 60-minute timeout; apply takes 3 minutes, and peer
   * B (a rollback) starts publishing as the first mark goes out. B re-records one orphan
   * `recordAfterMs` after the end of apply (never, if undefined).
   */
  function lateRollback(recordAfterMs?: number) {
    const start = virtualNow;
    const [repo, digest] = scenario.orphans
      .find((k) => k.startsWith(scenario.supportedImage.repository))!
      .split('@');
    const a = peerPublishing();
    const t = { peer: 0, applyEnded: 0, reconcileSleeps: 0 };
    const registry = new WriteCountingRegistry(ociRegistry(registryUrl()), async () => {
      t.peer = peerPublishing();
      virtualNow += 3 * MINUTE;
      t.applyEnded = virtualNow;
    });
    onSleep = async () => {
      if (!t.peer) {
        if (virtualNow - start >= 58 * MINUTE) recorded(a);
        return;
      }
      t.reconcileSleeps++;
      if (recordAfterMs !== undefined && virtualNow - t.applyEnded >= recordAfterMs) {
        await makeSupported(digest);
        recorded(t.peer);
      }
    };
    return { registry, rerecorded: `${repo}@${digest}`, t, start };
  }

  // On the code before the fix: apply ended 61 minutes in, reconcile timed out without one poll
  // (0 sleeps), removed all 5 marks (the 4 real orphans' too) and reported outcome `applied`.
  it('after a 58-minute wait, a rollback that starts during apply is waited for, not rolled back', async () => {
    const { registry, rerecorded, t, start } = lateRollback(5 * MINUTE);
    const result = await annotate(hourOptions, { ...deps(), registry });
    expect(t.applyEnded - start).toBe(61 * MINUTE);
    expect(result.outcome).toBe('applied');
    expect(result.reconciled).toBe('1 participant(s) began publishing while marks were applied');
    expect(t.reconcileSleeps).toBe(3); // 2, 4, 6 minutes after apply: B recorded after 5
    expect(result.waitedMs).toBe(64 * MINUTE);
    expect(await marked(rerecorded)).toEqual([]);
    for (const key of scenario.orphans.filter((k) => k !== rerecorded))
      expect(await marked(key)).toHaveLength(1);
    expect(result.counts).toMatchObject({ annotated: 5, unmarked: 1, rolledBack: 0 });
    expect(result.rollBack).toBeUndefined();
  });

  it('reconcileTimeout defaults to timeout, counted from the end of apply; running out rolls back (onTimeout skip: a warning)', async () => {
    const { registry, t } = lateRollback();
    const result = await annotate({ ...hourOptions, onTimeout: 'skip' }, { ...deps(), registry });
    expect(virtualNow - t.applyEnded).toBe(60 * MINUTE);
    expect(t.reconcileSleeps).toBe(30);
    expect(result.outcome).toBe('rolled-back');
    expect(result.reconciled).toMatch(
      /began publishing while marks were applied; timed out, rolled back/,
    );
    for (const key of scenario.orphans) expect(await marked(key)).toEqual([]);
    expect(result.counts).toMatchObject({ annotated: 5, unmarked: 0, rolledBack: 5 });
    expect(result.unmarked).toEqual([]);
    expect(result.rollBack!.removed).toHaveLength(5);
    expect(result.rollBack!.blockers.map((r) => r.runId)).toEqual([String(t.peer)]);
    const warnings = logger.lines.filter((l) => l.startsWith('warning: '));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      new RegExp(
        `^warning: reconcile timed out after 1h waiting for: run ${t.peer} .*\\. Rolled back: all 5 mark\\(s\\) this run placed were removed .*\\(onTimeout: skip\\)$`,
      ),
    );
  });

  it('reconcileTimeout bounds reconcile alone; onTimeout fail returns the roll-back for the host to fail', async () => {
    const { registry, t } = lateRollback();
    const result = await annotate(
      { ...hourOptions, reconcileTimeoutMs: 10 * MINUTE },
      { ...deps(), registry },
    );
    expect(virtualNow - t.applyEnded).toBe(10 * MINUTE);
    expect(result.outcome).toBe('rolled-back');
    expect(result.rollBack!.message).toMatch(
      new RegExp(`^reconcile timed out after 10m waiting for: run ${t.peer} `),
    );
    for (const key of scenario.orphans) expect(await marked(key)).toEqual([]);
    // fail: no skip warning; the job logs the error and exits 1 (test/platform/cli).
    expect(logger.lines.filter((l) => l.startsWith('warning: '))).toEqual([]);
  });

  it('a short reconcileTimeout does not shorten step 1', async () => {
    const a = peerPublishing();
    onSleep = () => {
      if (sleeps === 20) recorded(a);
    };
    const result = await annotate({ ...hourOptions, reconcileTimeoutMs: 0 }, deps());
    expect(result.outcome).toBe('applied');
    expect(result.waitedMs).toBe(40 * MINUTE);
    for (const key of scenario.orphans) expect(await marked(key)).toHaveLength(1);
  });
});
