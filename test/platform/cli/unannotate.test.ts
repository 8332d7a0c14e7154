import { beforeAll, describe, expect, it } from 'vitest';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { ok, runCli, useScenarioRegistry } from '../../support/cli.js';
import { ociRegistry } from '../../support/seed.js';

/** `unannotate host/repo@digest`: the host is the configured registry's, or nothing is deleted. */
describe('eol-gate unannotate: the host of host/repo@digest', () => {
  const f = useScenarioRegistry('eol-gate-unannotate-');
  let host: string;
  const unannotate = (...args: string[]) =>
    runCli(['unannotate', '--registry', f.registry.url, ...args]);

  beforeAll(async () => {
    const oci = ociRegistry(f.registry.url);
    host = new URL(f.registry.url).host;
    for (const key of f.scenario.orphans.slice(0, 2)) {
      const [repository, digest] = key.split('@');
      const subject = await oci.describeManifest(repository, digest);
      await oci.pushReferrer(repository, subject!, lifecycleReferrer(subject!, '2026-01-01'));
    }
  });

  it('a digest on another registry fails as bad input before any delete, naming --digest', async () => {
    const [mine, other] = f.scenario.orphans;
    const run = await unannotate('--digest', mine, '--digest', `mcr.microsoft.com/${other}`);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--digest: "mcr.microsoft.com/${other}"`);
    expect(run.stderr).toMatch(
      new RegExp(`registry mcr\\.microsoft\\.com, not ${host.replace(/\./g, '\\.')}`),
    );
    // Nothing deleted, not even the first digest, which names no host.
    expect(await f.marks(mine)).toHaveLength(1);
    expect(await f.marks(other)).toHaveLength(1);
  });

  it("a digest that names the configured registry's host is unannotated", async () => {
    const [mine] = f.scenario.orphans;
    const run = ok(await unannotate('--digest', `${host}/${mine}`, '--json'));
    expect(JSON.parse(run.stdout).removed).toHaveLength(1);
    expect(await f.marks(mine)).toEqual([]);
  });
});
