/**
 * GHCR through the bundled CLI: a fake GHCR (docker-registry behind a proxy that
 * refuses manifest DELETE with 405 UNSUPPORTED and serves the GitHub Packages API) with
 * `--registry-type ghcr`. Every package version is in the inventory (untagged ones too), its
 * `created_at` drives minAge, and every way of removing a mark (unannotate, verify --repair, a
 * roll-back) leaves no mark any client can see in the subject's fallback index, saying which
 * removal happened.
 */
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerRef } from '../../../src/coordination/github.js';
import { type Descriptor } from '../../../src/core/oci.js';
import type { MarkerState } from '../../../src/core/runs.js';
import { OciRegistry } from '../../../src/registry/oci/index.js';
import { annotateArgs, jsonOf, ok, runBundle, useTempDir, type CliRun } from '../../support/cli.js';
import { startFakeGhcr, type FakeGhcr } from '../../support/fake-ghcr.js';
import { FakeGitHub } from '../../support/fake-github.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { writeImageInfo } from '../../support/scenario.js';
import { ociRegistry, pushImage } from '../../support/seed.js';

const HOME = 'octo/images';
const UNLISTED =
  'removed from the referrers index; the lifecycle manifest stays (the registry refuses DELETE)';
const VERSION_DELETED =
  'removed from the referrers index and its package version deleted (the registry refuses DELETE)';

describe('GHCR through the bundled CLI', () => {
  const github = new FakeGitHub({ owner: 'octo', repo: 'images' });
  let ghcr: FakeGhcr;
  let pusher: OciRegistry;
  const dir = useTempDir('eol-gate-ghcr-');
  let seq = 0;
  let stamp = Date.now() - 60_000;

  beforeAll(async () => {
    await github.start();
    ghcr = await startFakeGhcr({ orgs: ['acme'], apiFallback: github.apiUrl });
    pusher = ociRegistry(ghcr.url);
  });
  afterAll(async () => {
    await ghcr?.close();
    await github.close();
  });

  /** The environment of a CLI step: the Packages API (and GitHub behind it) at the fake. */
  const env = (who?: { runId: number; attempt: number; jobId: number }) => ({
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: dir(),
    EOL_GATE_RETRIES: '0',
    GITHUB_API_URL: ghcr.apiUrl,
    GITHUB_REPOSITORY: HOME,
    GITHUB_TOKEN: github.token,
    GITHUB_SHA: github.headSha,
    ...(who
      ? {
          GITHUB_RUN_ID: String(who.runId),
          GITHUB_RUN_ATTEMPT: String(who.attempt),
          EOL_GATE_JOB_ID: String(who.jobId),
        }
      : {}),
  });
  const cli = (args: string[], who?: Parameters<typeof env>[0]) =>
    runBundle(env(who), [...args, '--registry-type', 'ghcr']);
  const marks = (repo: string, d: Descriptor) => lifecycleMarksByHttp(ghcr.url, repo, d.digest);

  /** A repository of its own, images pushed in order (each with its own tag unless given). */
  async function seed(images: { name: string; tag?: string }[]) {
    const n = ++seq;
    const repo = `acme/ghcr-${n}/app`;
    const pushed: Record<string, Descriptor> = {};
    for (const { name, tag } of images)
      pushed[name] = await pushImage(pusher, repo, {
        seed: `${repo}:${name}`,
        tag: tag ?? name,
        created: '2024-05-01T00:00:00Z',
      });
    return { repo, group: `ghcr-${n}`, imageInfo: join(dir(), `ghcr-${n}.json`), pushed };
  }

  /** `annotate --json` as the repository's own group (its memory holds no other test's repository). */
  const annotate = (group: string, imageInfo: string, ...more: string[]) =>
    cli([
      'annotate',
      '--registry',
      ghcr.url,
      '--image-info',
      imageInfo,
      '--coordinator',
      'none',
      '--group',
      group,
      '--json',
      ...(more.includes('--min-age') ? [] : ['--min-age', '0']),
      ...more,
    ]);

  /** `unannotate` of `subject` in `repo`. */
  const unannotate = (repo: string, subject: Descriptor, ...more: string[]) =>
    cli(['unannotate', '--registry', ghcr.url, '--digest', `${repo}@${subject.digest}`, ...more]);

  async function mark(repo: string, subject: Descriptor, date = '2026-01-01'): Promise<string> {
    const mark = lifecycleReferrer(subject, date);
    await pusher.pushReferrer(repo, subject, mark);
    return mark.digest;
  }

  it('(a) an untagged version (its tag moved to v2) is in the inventory and marked on the first run', async () => {
    const { repo, group, imageInfo, pushed } = await seed([
      { name: 'v1', tag: 'latest' },
      { name: 'v2', tag: 'latest' },
    ]);
    const { v1, v2 } = pushed;
    expect(ghcr.version(repo, v1.digest)?.tags).toEqual([]);
    await writeImageInfo(imageInfo, repo, [v2]);
    const run = ok(await annotate(group, imageInfo));
    expect(jsonOf(run)).toMatchObject({ outcome: 'applied', counts: { annotated: 1 } });
    expect(await marks(repo, v1)).toHaveLength(1);
    expect(await marks(repo, v2)).toEqual([]);
    // The Packages API was asked, not the tag list.
    expect(ghcr.requests.some((r) => r.startsWith('GET /orgs/acme/packages/container/'))).toBe(
      true,
    );
  });

  it('(b) created_at drives minAge: pushed seconds ago is too young under 1h, 2 days ago is marked', async () => {
    const { repo, group, imageInfo, pushed } = await seed([
      { name: 'young' },
      { name: 'old' },
      { name: 's' },
    ]);
    ghcr.setCreated(repo, pushed.old.digest, new Date(Date.now() - 2 * 86_400_000).toISOString());
    await writeImageInfo(imageInfo, repo, [pushed.s]);
    // With the group's memory on (the default): GHCR's push time is the age, not a first sighting.
    const run = ok(await annotate(group, imageInfo, '--min-age', '1h'));
    expect(jsonOf(run).counts).toMatchObject({ annotated: 1, skippedTooYoung: 1 });
    expect(await marks(repo, pushed.old)).toHaveLength(1);
    // The image config says 2024: only created_at makes it young.
    expect(await marks(repo, pushed.young)).toEqual([]);
  });

  it('(c) unannotate: the mark leaves the fallback index and its package version is deleted', async () => {
    const { repo, pushed } = await seed([{ name: 'o' }]);
    const referrer = await mark(repo, pushed.o);
    expect(await marks(repo, pushed.o)).toHaveLength(1);
    const run = ok(await unannotate(repo, pushed.o, '--json'));
    expect(jsonOf<{ removed: unknown[] }>(run).removed).toEqual([
      expect.objectContaining({ digest: pushed.o.digest, referrer, how: 'version-deleted' }),
    ]);
    expect(await marks(repo, pushed.o)).toEqual([]);
    expect(ghcr.version(repo, referrer)).toBeUndefined();
    expect(run.stderr).toContain(VERSION_DELETED);
  });

  it('(c) unannotate without admin on the package: unlisted, the manifest stays, the summary says so', async () => {
    const { repo, pushed } = await seed([{ name: 'o' }]);
    const referrer = await mark(repo, pushed.o);
    ghcr.refuseVersionDeletes = true;
    try {
      const run = ok(await unannotate(repo, pushed.o));
      expect(run.stdout).toContain(`1 mark(s) ${UNLISTED}.`);
      expect(run.stderr).toMatch(/HTTP 403.*packages: write/);
      expect(await marks(repo, pushed.o)).toEqual([]);
      expect(ghcr.version(repo, referrer)).toBeDefined();
    } finally {
      ghcr.refuseVersionDeletes = false;
    }
  });

  it('(c) verify --repair removes the mark of a supported digest for every client, saying how', async () => {
    const { repo, imageInfo, pushed } = await seed([{ name: 's' }]);
    await writeImageInfo(imageInfo, repo, [pushed.s]);
    await mark(repo, pushed.s);
    const common = ['verify', '--registry', ghcr.url, '--image-info', imageInfo];
    const run = ok(await cli([...common, '--repair', '--json']));
    expect(jsonOf(run)).toMatchObject({ repaired: 1, repairedHow: { 'version-deleted': 1 } });
    expect(await marks(repo, pushed.s)).toEqual([]);
    ok(await cli(common));
  });

  it('(c) a roll-back removes every mark it placed from the fallback indexes, saying how', async () => {
    const { repo, imageInfo, group, pushed } = await seed([
      { name: 's' },
      { name: 'o1' },
      { name: 'o2' },
    ]);
    await writeImageInfo(imageInfo, repo, [pushed.s]);
    // A publisher starts while the first mark is written: reconcile waits for it, in vain.
    const publisher = github.createRun({ name: 'rollback' });
    const job = github.createJob({ run_id: publisher.id, name: 'push' });
    let fired = false;
    ghcr.onRequest = (method, path) => {
      if (!fired && method === 'PUT' && path.startsWith(`/v2/${repo}/manifests/`)) {
        fired = true;
        const ref = markerRef(
          group,
          {
            runId: String(publisher.id),
            attempt: 1,
            jobId: String(job.id),
            repository: HOME,
          },
          'publishing' as MarkerState,
          'job',
          stamp++,
          HOME,
        );
        github.refs.set(ref, github.headSha);
      }
    };
    const self = github.createRun({ name: 'annotate' });
    const selfJob = github.createJob({ run_id: self.id, name: 'annotate' });
    let run: CliRun;
    try {
      run = await cli(
        annotateArgs(
          { registry: ghcr.url, imageInfo, group, timeout: '30m' },
          '--reconcile-timeout',
          '1s',
        ),
        { runId: self.id, attempt: 1, jobId: selfJob.id },
      );
    } finally {
      ghcr.onRequest = undefined;
    }
    expect(fired).toBe(true);
    const out = jsonOf<{
      outcome: string;
      rolledBack: { marks: { subject: string; how?: string }[] };
    }>(run);
    expect(out.outcome, run.stderr).toBe('rolled-back');
    expect(out.rolledBack.marks.map((m) => m.how)).toEqual(['version-deleted', 'version-deleted']);
    for (const d of [pushed.o1, pushed.o2, pushed.s]) expect(await marks(repo, d)).toEqual([]);
    expect(run.stderr).toContain(VERSION_DELETED);
  }, 60_000);
});
