import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDockerRegistry, type DockerRegistry } from '../support/docker-registry.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import { FakeGitHub } from '../support/fake-github.js';
import { MemoryBackend } from './memory-backend.js';
import { RealBackend } from './real-backend.js';
import {
  DEFAULT_PARAMS,
  formatTable,
  runSchedule,
  summarize,
  type ScheduleResult,
} from './schedule.js';

const SEEDS = Array.from({ length: 60 }, (_, i) => i + 1);

const CLEAN = { wrongful: [], duplicates: 0, errors: [] };

function expectClean(results: ScheduleResult[]): void {
  for (const { seed, backend, wrongful, duplicates, errors } of results)
    expect({ wrongful, duplicates, errors }, `${backend}, seed ${seed}`).toEqual(CLEAN);
}

/** One in-memory schedule per seed of `seeds`, in `mode`, on the backend `backendOf` makes. */
async function runSeeds(
  seeds: number[],
  mode: 'naive' | 'gated',
  backendOf: (seed: number) => MemoryBackend,
): Promise<ScheduleResult[]> {
  const results: ScheduleResult[] = [];
  for (const seed of seeds) results.push(await runSchedule(seed, mode, backendOf(seed)));
  return results;
}

describe('race simulator, in memory (fixed seeds)', () => {
  it('naive annotation marks supported images EOL in a clear share of schedules', async () => {
    const results = await runSeeds(SEEDS, 'naive', (seed) => new MemoryBackend(seed));
    const [s] = summarize(results);
    console.log(formatTable([s]));
    expect(s.schedulesWithWrongful / s.schedules).toBeGreaterThan(0.3);
    expect(s.wrongfulSupportedAtEnd).toBeGreaterThan(0);
    expect(s.errors).toBe(0);
  });

  it.each(['github', 'azure-devops'] as const)(
    'gated (%s markers): 0 wrongful, 0 duplicates, and the gate really waited',
    async (flavor) => {
      const results = await runSeeds(SEEDS, 'gated', (seed) => new MemoryBackend(seed, flavor));
      const [s] = summarize(results);
      console.log(formatTable([s]));
      expectClean(results);
      // Not vacuous: EOL marks were made, runs were waited for, cancels and retries happened.
      expect(s.annotations).toBeGreaterThan(SEEDS.length);
      expect(s.schedulesThatWaited).toBeGreaterThan(SEEDS.length / 2);
      expect(s.cancellations).toBeGreaterThan(0);
      expect(s.retries).toBeGreaterThan(0);
    },
  );

  it('has power: a store that returns before its write is visible lets wrongful marks through', async () => {
    const results = await runSeeds(
      SEEDS.slice(0, 30),
      'gated',
      (seed) => new MemoryBackend(seed, 'github', { unconfirmedWriteDelayMs: 15_000 }),
    );
    expect(summarize(results)[0].schedulesWithWrongful).toBeGreaterThan(0);
  });

  it('replays a schedule exactly from its seed', async () => {
    const a = await runSchedule(7, 'naive', new MemoryBackend(7));
    const b = await runSchedule(7, 'naive', new MemoryBackend(7));
    expect(b).toEqual(a);
  });
});

describe('race simulator, real stores over HTTP and a real docker-registry (fixed seeds)', () => {
  let registry: DockerRegistry;
  const ado = new FakeAzureDevOps();
  const github = new FakeGitHub();
  // Fewer, smaller schedules: these run in real (scaled) time.
  const params = {
    ...DEFAULT_PARAMS,
    pipelines: [3, 4] as [number, number],
    pushes: [1, 2] as [number, number],
  };

  beforeAll(async () => {
    registry = await startDockerRegistry();
    await ado.start();
    await github.start();
    // Some latency, and now and then a throttled request, as in real life.
    ado.latencyMs = () => Math.random() * 3;
    github.latencyMs = () => Math.random() * 3;
    ado.listLag = 1;
    github.listLag = 1;
  });
  afterAll(async () => {
    await registry?.stop();
    await ado.close();
    await github.close();
  });

  it.each(['azure-devops', 'github'] as const)(
    'gated through the %s store: 0 wrongful, 0 duplicates',
    async (kind) => {
      const results: ScheduleResult[] = [];
      for (const seed of [1, 2, 3]) {
        if (kind === 'azure-devops')
          ado.fail({ status: 429, headers: { 'retry-after': '0.01' }, times: 1 });
        else github.secondaryRateLimit(0.01, 1);
        const backend = new RealBackend(
          kind === 'azure-devops' ? { kind, fake: ado } : { kind, fake: github },
          registry.url,
          seed,
          `sim${seed}${kind}`,
        );
        results.push(await runSchedule(seed, 'gated', backend, params));
      }
      const [s] = summarize(results);
      console.log(formatTable([s]));
      expectClean(results);
      expect(s.annotations).toBeGreaterThan(0);
      expect(s.schedulesThatWaited).toBeGreaterThan(0);
    },
    120_000,
  );
});
