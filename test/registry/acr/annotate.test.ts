import { beforeAll, describe, expect, it } from 'vitest';
import type { FakeAcr, Fault } from '../../support/fake-acr/index.js';
import { HttpStatusError } from '../../../src/util/http.js';
import {
  acrFor,
  capturingLogger,
  EOL_DATE,
  fakeClockThrottle,
  fastRetry,
  lifecycleBySubject,
  runAnnotate,
  seedScenario,
  useFakeAcr,
} from './helpers.js';
import { rejection } from '../../support/errors.js';

/**
 * The core integration scenario through the annotate command, the real SDK and the real
 * credential path (DefaultAzureCredential → managed-identity endpoint → ACR token exchange),
 * then once per fault kind: the final registry state must equal the fault-free one.
 */

const acr = useFakeAcr();
const { fresh } = acr;

let expected: ReturnType<FakeAcr['snapshot']>;

describe('annotate on the fake ACR', () => {
  beforeAll(async () => {
    const fake = await fresh();
    await runAnnotate(acrFor(fake), seedScenario(fake));
    expected = fake.snapshot();
  });

  it('annotates exactly the old orphans, once each, and nothing else', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const result = await runAnnotate(acrFor(fake), scenario);

    expect(result.counts).toMatchObject({
      annotated: 7,
      alreadyAnnotated: 1,
      skippedTooYoung: 1,
      candidates: 7,
    });
    const app = lifecycleBySubject(fake, 'team/app');
    const tool = lifecycleBySubject(fake, 'team/tool');
    for (const o of scenario.orphans) {
      expect((o.repository === 'team/app' ? app : tool).get(o.digest)).toEqual([EOL_DATE]);
    }
    for (const d of [...scenario.supported, scenario.young, scenario.signatureOnSupported]) {
      expect(app.get(d) ?? tool.get(d)).toBeUndefined();
    }
    expect(app.get(scenario.annotatedBefore)).toEqual(['2025-01-01']);
    expect(fake.snapshot()).toEqual(expected);
    // The token exchange really happened, with the managed identity's token.
    expect(fake.counts.exchange).toBeGreaterThan(0);
    expect(acr.env.identity.requests).toBeGreaterThan(0);
  });

  it('a second run finds everything annotated and writes nothing', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    await runAnnotate(acrFor(fake), scenario);
    const puts = fake.counts['manifest-put'];
    const second = await runAnnotate(acrFor(fake), scenario);
    expect(second.counts).toMatchObject({ annotated: 0, alreadyAnnotated: 8 });
    expect(fake.counts['manifest-put']).toBe(puts);
    expect(fake.snapshot()).toEqual(expected);
  });

  const faults: [string, Fault[]][] = [
    [
      '429 without Retry-After on listings and pushes',
      [
        { kind: '429', match: 'list-manifests', times: 2 },
        { kind: '429', match: 'manifest-put', times: 3 },
      ],
    ],
    [
      '429 with Retry-After',
      [{ kind: '429-retry-after', match: 'manifest-put', retryAfterSeconds: 2, times: 2 }],
    ],
    [
      '500 on GET and PUT',
      [
        { kind: '500', match: 'manifest-get', times: 2 },
        { kind: '500', match: 'manifest-put', times: 1, after: 2 },
      ],
    ],
    [
      '503 on the token exchange and on artifact GETs',
      [
        { kind: '503', match: 'token', times: 1, after: 1 },
        { kind: '503', match: 'manifest-get', times: 2 },
      ],
    ],
    [
      'connection resets',
      [
        { kind: 'reset', match: 'manifest-put', times: 2, after: 1 },
        { kind: 'reset', match: 'list-manifests', times: 1 },
      ],
    ],
    [
      'a blob upload that fails midway',
      [{ kind: '503', match: 'blob-upload', times: 1, after: 1 }],
    ],
  ];
  it.each(faults)('ends in the fault-free state despite %s', async (name, injected) => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    for (const f of injected) fake.addFault(f);
    const fast = fastRetry();
    await runAnnotate(acrFor(fake, fast), scenario);
    for (const f of injected) expect(fake.fired.get(f), `${name}: fault fired`).toBe(f.times ?? 1);
    expect(fake.snapshot()).toEqual(expected);
    if (injected.some((f) => f.kind === '429-retry-after')) {
      // Retry-After (2 s) was honoured (the class held that long), not replaced by the 1-5 ms backoff.
      expect(fast.delays.filter((d) => d >= 1900).length).toBeGreaterThanOrEqual(2);
    }
  });

  it('ends in the fault-free state with fixed and spiky latency', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    fake.latencyMs = 5;
    fake.spike = { every: 7, ms: 150 };
    await runAnnotate(acrFor(fake), scenario);
    expect(fake.snapshot()).toEqual(expected);
  });

  it('retries a request that times out', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const slow: Fault = { kind: 'latency', match: 'manifest-put', ms: 1500, times: 1 };
    fake.addFault(slow);
    await runAnnotate(acrFor(fake, fastRetry({ timeoutMs: 300 })), scenario);
    expect(fake.fired.get(slow)).toBe(1);
    expect(fake.snapshot()).toEqual(expected);
  });

  it('skips a manifest that is listed and then gone, with a warning', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    const victim = scenario.orphans[2];
    fake.vanishAfterListing(victim.repository, victim.digest);
    const logger = capturingLogger();
    await runAnnotate(acrFor(fake), scenario, logger);
    const want = structuredClone(expected);
    want['team/app'] = want['team/app'].filter(
      (m) => m.digest !== victim.digest && m.subject !== victim.digest,
    );
    expect(fake.snapshot()).toEqual(want);
    expect(
      logger.lines.some(
        (l) => l.startsWith('warning:') && l.includes(victim.digest) && /gone/.test(l),
      ),
    ).toBe(true);
  });

  it('a persistent error fails the run and is never read as "not annotated"', async () => {
    const fake = await fresh();
    const scenario = seedScenario(fake);
    fake.addFault({ kind: '500', match: 'list-manifests', times: 1000 });
    const failed = await rejection(runAnnotate(acrFor(fake, fastRetry({ retries: 3 })), scenario));
    expect(failed).toBeInstanceOf(HttpStatusError);
    expect(failed).toMatchObject({ status: 500, method: 'GET' });
    expect((failed as Error).message).toMatch(
      /127\.0\.0\.1:\d+: list manifests of team\/\w+ failed after 4 attempts: HTTP 500/,
    );
    expect(lifecycleBySubject(fake, 'team/app').size).toBe(1);
    // A 429 is not an attempt: it fails only once no listing was served for the stall time.
    fake.faults = [];
    fake.addFault({ kind: '429', match: 'list-manifests', times: 100_000 });
    const throttle = fakeClockThrottle({ stallMs: 5 * 60_000 });
    await expect(
      runAnnotate(acrFor(fake, { ...fastRetry({ retries: 3 }), throttle }), scenario),
    ).rejects.toThrow(
      /127\.0\.0\.1:\d+: list manifests of team\/\w+ failed: the registry kept refusing reads \(HTTP 429\): none served for 5 min; this request was refused \d+ times/,
    );
    expect(throttle.stats().read.throttled).toBeGreaterThan(4);
    expect(lifecycleBySubject(fake, 'team/app').size).toBe(1); // only the one seeded before
    // A re-run once the registry recovers finishes the job.
    fake.faults = [];
    await runAnnotate(acrFor(fake), scenario);
    expect(fake.snapshot()).toEqual(expected);
  });
});
