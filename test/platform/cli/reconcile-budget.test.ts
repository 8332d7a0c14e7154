/**
 * Protocol III, hole 7 (docs/design.md §7), through the bundled CLI and action (fake GitHub, real docker-registry):
 * reconcile (docs/design.md §2 step 7) has its own budget, `reconcileTimeout`, counted from the
 * end of apply, and a roll-back is reported as one and follows `onTimeout`.
 *
 * A publisher "starts during apply" for real: a proxy in front of the registry writes its
 * `publishing` marker into the fake GitHub when the first lifecycle mark is pushed through it.
 * EOL_GATE_CLI_BUNDLE points the file at another CLI bundle (e.g. one built before the fix):
 * there the first test ends rolled back (every mark removed) and reports `applied`.
 */
import { describe, expect, it } from 'vitest';
import type { MarkerState } from '../../../src/core/runs.js';
import {
  annotateArgs,
  HOME_REPOSITORY as HOME,
  jsonOf,
  useGitHubCli,
  type CliRun,
} from '../../support/cli.js';
import { proxyOnLoopback } from '../../support/loopback.js';
import { runAction } from '../../support/runner.js';
import { writeImageInfo } from '../../support/scenario.js';

/** A proxy to the registry that calls `onFirstWrite` (once) before forwarding the first write to `repo`. */
function applyHook(target: string, repo: string, onFirstWrite: () => void) {
  let fired = false;
  return proxyOnLoopback(target, (req) => {
    const write = req.method !== 'GET' && req.method !== 'HEAD';
    if (write && !fired && (req.url ?? '').startsWith(`/v2/${repo}/`)) {
      fired = true;
      onFirstWrite();
    }
  });
}

describe('reconcile has its own budget (hole 7) through the bundles', () => {
  const f = useGitHubCli('eol-gate-reconcile-');
  const { github, marks } = f;

  /** s supported; o1, o2 orphans; r an old image a rollback records again. */
  const seed = () => f.seed('reconcile', ['s', 'o1', 'o2', 'r'], ['s']);

  /** A participant (run, job) of another workflow, and its markers written into the fake. */
  function publisher(name: string) {
    const run = github.createRun({ name });
    const job = github.createJob({ run_id: run.id, name: 'push' });
    const signal = (group: string, state: MarkerState) =>
      f.setMarker(group, { run, attempt: 1, jobId: job.id }, state);
    return { run, job, signal };
  }

  /** `eol-gate annotate --json` as a job of another workflow's run (onTimeout fail, the default). */
  const cli = (gate: Parameters<typeof annotateArgs>[0], ...more: string[]) =>
    f.cli(f.annotator(), annotateArgs(gate, '--on-timeout', 'fail', ...more));

  const json = (run: CliRun) =>
    jsonOf<Record<string, unknown> & { outcome: string; counts: Record<string, number> }>(run);

  it('after most of the timeout spent waiting, a rollback that starts during apply is waited for, not rolled back', async () => {
    const { repo, imageInfo, s, o1, o2, r, group } = await seed();
    // A blocks for most of the 6s timeout; B starts publishing as the first mark goes out and
    // records r (an old image, re-pushed) 3s later: more than step 1 left, less than 6s.
    const a = publisher('publish');
    a.signal(group, 'publishing');
    const b = publisher('rollback');
    let bRecorded: Promise<void> | undefined;
    const proxy = await applyHook(f.registry.url, repo, () => {
      b.signal(group, 'publishing');
      bRecorded = new Promise((resolve) =>
        setTimeout(async () => {
          await writeImageInfo(imageInfo, repo, [s, r]);
          b.signal(group, 'image-info-updated');
          resolve();
        }, 3000),
      );
    });
    try {
      const running = cli({ registry: proxy.url, imageInfo, group, timeout: '6s' });
      const aRecorded = setTimeout(() => a.signal(group, 'image-info-updated'), 5000);
      const result = await running;
      clearTimeout(aRecorded);
      await bRecorded;
      expect(result.code, result.stderr).toBe(0);
      expect(json(result)).toMatchObject({
        outcome: 'applied',
        counts: { annotated: 3, unmarked: 1, rolledBack: 0 },
        reconciled: '1 participant(s) began publishing while marks were applied',
      });
      expect(await marks(repo, r), 'r: recorded again by the rollback').toEqual([]);
      for (const d of [o1, o2]) expect(await marks(repo, d), 'a real orphan').toHaveLength(1);
      expect(await marks(repo, s)).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('reconcileTimeout runs out: every mark is rolled back, the step fails (onTimeout fail) naming who blocked', async () => {
    const { repo, imageInfo, o1, o2, r, group } = await seed();
    const b = publisher('rollback');
    const proxy = await applyHook(f.registry.url, repo, () => b.signal(group, 'publishing'));
    try {
      const result = await cli(
        { registry: proxy.url, imageInfo, group, timeout: '30m' },
        '--reconcile-timeout',
        '1s',
      );
      expect(result.code, result.stderr).toBe(1);
      const out = json(result);
      expect(out).toMatchObject({
        outcome: 'rolled-back',
        counts: { annotated: 3, rolledBack: 3, unmarked: 0 },
        kind: 'timeout',
      });
      expect(out.error).toMatch(
        new RegExp(
          `^reconcile timed out after 1s waiting for: run ${b.run.id} \\(attempt 1\\) "rollback", job "push" ${b.job.id}.*\\. Rolled back: all 3 mark\\(s\\) this run placed were removed`,
        ),
      );
      expect(result.stderr).toMatch(/error: reconcile timed out .*Rolled back: all 3 mark\(s\)/);
      for (const d of [o1, o2, r]) expect(await marks(repo, d)).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 30_000);

  it('onTimeout skip (the action): a warning, exit 0, and the summary and the result output say rolled back', async () => {
    const { repo, imageInfo, o1, o2, r, group } = await seed();
    const b = publisher('rollback');
    const proxy = await applyHook(f.registry.url, repo, () => b.signal(group, 'publishing'));
    const self = github.createRun({ name: 'annotate' });
    try {
      const run = await runAction({
        inputs: {
          command: 'annotate',
          registry: proxy.url,
          imageInfo,
          group,
          coordinator: 'github',
          minAge: '0',
          pollInterval: '100ms',
          reconcileTimeout: '1s',
          onTimeout: 'skip',
          uploadPlan: 'false',
        },
        githubToken: github.token,
        checkRunId: String(github.createJob({ run_id: self.id, name: 'annotate' }).id),
        env: {
          EOL_GATE_RETRIES: '0',
          GITHUB_API_URL: github.apiUrl,
          GITHUB_REPOSITORY: HOME,
          GITHUB_RUN_ID: String(self.id),
          GITHUB_RUN_ATTEMPT: '1',
          GITHUB_SHA: github.headSha,
        },
      });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const warnings = run.commands.filter((c) => c.command === 'warning').map((c) => c.message);
      expect(warnings.join('\n')).toMatch(
        new RegExp(
          `reconcile timed out after 1s waiting for: run ${b.run.id} .*Rolled back: all 3 mark\\(s\\) this run placed were removed.*\\(onTimeout: skip\\)`,
        ),
      );
      expect(run.commands.filter((c) => c.command === 'error')).toEqual([]);
      expect(JSON.parse(run.outputs.result)).toMatchObject({
        outcome: 'rolled-back',
        counts: { rolledBack: 3 },
        rolledBack: { blockers: [{ runId: String(b.run.id) }] },
      });
      expect(run.summary).toContain(
        '**Rolled back: reconcile timed out waiting for 1 participant(s) that began publishing during apply, so all 3 mark(s) this run placed were removed (a later run places them again).**',
      );
      expect(run.summary).toContain('| rolled back (reconcile timed out) | 3 |');
      for (const d of [o1, o2, r]) expect(await marks(repo, d)).toEqual([]);
    } finally {
      await proxy.close();
    }
  }, 30_000);
});
