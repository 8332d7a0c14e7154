import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lifecycleReferrer } from '../../../src/registry/lifecycle-referrer.js';
import { runCli } from '../../support/cli.js';
import { startDockerRegistry, type DockerRegistry } from '../../support/docker-registry.js';
import { lifecycleMarksByHttp } from '../../support/registry-http.js';
import { seedScenario, type Scenario } from '../../support/scenario.js';
import { ociRegistry } from '../../support/seed.js';

/** `unannotate host/repo@digest`: the host is the configured registry's, or nothing is deleted. */
describe('eol-gate unannotate: the host of host/repo@digest', () => {
  let registry: DockerRegistry;
  let scenario: Scenario;
  let host: string;

  const marks = (key: string) => {
    const [repository, digest] = key.split('@');
    return lifecycleMarksByHttp(registry.url, repository, digest);
  };

  beforeAll(async () => {
    registry = await startDockerRegistry();
    const oci = ociRegistry(registry.url);
    scenario = await seedScenario(oci);
    host = new URL(registry.url).host;
    for (const key of scenario.orphans.slice(0, 2)) {
      const [repository, digest] = key.split('@');
      const subject = await oci.describeManifest(repository, digest);
      await oci.pushReferrer(repository, subject!, lifecycleReferrer(subject!, '2026-01-01'));
    }
  });

  afterAll(async () => {
    await registry?.stop();
  });

  it('a digest on another registry fails as bad input before any delete, naming --digest', async () => {
    const [mine, other] = scenario.orphans;
    const run = await runCli([
      'unannotate',
      '--registry',
      registry.url,
      '--digest',
      mine,
      '--digest',
      `mcr.microsoft.com/${other}`,
    ]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(`--digest: "mcr.microsoft.com/${other}"`);
    expect(run.stderr).toMatch(
      new RegExp(`registry mcr\\.microsoft\\.com, not ${host.replace(/\./g, '\\.')}`),
    );
    // Nothing deleted, not even the first digest, which names no host.
    expect(await marks(mine)).toHaveLength(1);
    expect(await marks(other)).toHaveLength(1);
  });

  it("a digest that names the configured registry's host is unannotated", async () => {
    const [mine] = scenario.orphans;
    const run = await runCli([
      'unannotate',
      '--registry',
      registry.url,
      '--digest',
      `${host}/${mine}`,
      '--json',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).removed).toHaveLength(1);
    expect(await marks(mine)).toEqual([]);
  });
});
