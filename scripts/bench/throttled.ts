/**
 * The throttled scenario of the bench: a fake ACR that meters requests per class the
 * way Azure Container Registry does (reads, writes, referrer lookups per identity, token
 * requests) and answers past a budget with `429 TOOMANYREQUESTS` and no `Retry-After`.
 *
 * Time is compressed SCALES[tier] times so a run takes seconds, not minutes: the fake's budget
 * window is 60 s / scale with the documented per-minute counts, and the client's clock (its
 * limiters' `now` and every sleep) runs that many times faster, so a limiter started at "100 a
 * minute" paces 100 per compressed minute. Figures are ratios, which the scale does not change:
 * wall time over the floor the budget allows (max over classes of served ÷ budget, in windows),
 * and the share of requests refused.
 */
import { imageInfoOfDigests } from '../../test/support/scenario.js';
import { annotateOptions } from '../../test/support/annotate-options.js';
import { annotate } from '../../src/commands/annotate.js';
import { NoneStore } from '../../src/coordination/none.js';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../../src/core/lifecycle.js';
import { MediaType } from '../../src/core/oci.js';
import { silentLogger, type Clock } from '../../src/core/ports.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import {
  AcrRegistry,
  createAcrCredential,
  type AcrRegistryOptions,
} from '../../src/registry/acr/index.js';
import { sha256Digest } from '../../src/util/hash.js';
import { systemClock } from '../../src/util/clock.js';
import { DEFAULT_RETRY } from '../../src/util/http.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  seedImage,
  startFakeAcr,
  type FakeAcr,
  type RequestKind,
} from '../../test/support/fake-acr/index.js';

/**
 * How many times faster than real time each tier runs. Standard's budgets are 3–5× Basic's: its
 * compression is smaller, so the in-process client and fake (a few hundred requests a second)
 * are never the bottleneck.
 */
export const SCALES: Record<'basic' | 'standard', number> = { basic: 10, standard: 4 };
const CONCURRENCY = 8;
const EOL_DATE = '2026-06-01';
const OLD = new Date('2026-01-01T00:00:00Z');

type Class = 'read' | 'write' | 'referrers' | 'token';
const CLASSES: Class[] = ['read', 'write', 'referrers', 'token'];
export type Tier = 'basic' | 'standard';
/** Per minute, as Microsoft documents them; referrer lookups per identity on every tier. */
export const BUDGETS: Record<Tier, Record<Class, number>> = {
  basic: { read: 1_000, write: 100, referrers: 250, token: 1_000 },
  standard: { read: 3_000, write: 500, referrers: 250, token: 3_000 },
};

function classOf(kind: RequestKind, method: string): Class {
  if (kind === 'exchange' || kind === 'token') return 'token';
  if (kind === 'referrers') return 'referrers';
  return method === 'GET' || method === 'HEAD' ? 'read' : 'write';
}

/** A sliding window per class; a refused request does not count against the budget. */
class Meter {
  private readonly admitted: Record<Class, number[]> = {
    read: [],
    write: [],
    referrers: [],
    token: [],
  };
  served: Record<Class, number> = { read: 0, write: 0, referrers: 0, token: 0 };
  /** Every served request (time, class), for EOL_GATE_BENCH_TRACE. */
  readonly trace: [number, Class][] = [];
  refused: Record<Class, number> = { read: 0, write: 0, referrers: 0, token: 0 };

  constructor(
    readonly budget: Record<Class, number>,
    readonly windowMs: number,
  ) {}

  reset(): void {
    for (const c of CLASSES) {
      this.served[c] = 0;
      this.refused[c] = 0;
    }
  }

  /** True: over budget, refuse. */
  readonly over = (info: { kind: RequestKind; method: string }): boolean => {
    const c = classOf(info.kind, info.method);
    const now = Date.now();
    const list = this.admitted[c];
    while (list.length > 0 && list[0] <= now - this.windowMs) list.shift();
    if (list.length >= this.budget[c]) {
      this.refused[c]++;
      return true;
    }
    list.push(now);
    this.served[c]++;
    this.trace.push([now, c]);
    return false;
  };

  /** The least wall time the budget allows for what was served: the busiest class's windows. */
  floorMs(): number {
    return Math.max(...CLASSES.map((c) => this.served[c] / this.budget[c])) * this.windowMs;
  }
}

interface World {
  fake: FakeAcr;
  meter: Meter;
  imageInfo: string;
  orphans: { repository: string; digest: string }[];
  close(): Promise<void>;
}

/** 2 repositories, `orphans` old orphans and `supported` supported images, metered at `tier`. */
async function world(tier: Tier, orphans: number, supported: number): Promise<World> {
  const fake = await startFakeAcr();
  const repos = ['throttled/app', 'throttled/tool'];
  const supportedBy = new Map<string, string[]>();
  const out: { repository: string; digest: string }[] = [];
  for (let i = 0; i < supported; i++) {
    const repository = repos[i % repos.length];
    const d = seedImage(fake, repository, `s${i}`, { created: OLD }).digest;
    supportedBy.set(repository, [...(supportedBy.get(repository) ?? []), d]);
  }
  for (let i = 0; i < orphans; i++) {
    const repository = repos[i % repos.length];
    out.push({ repository, digest: seedImage(fake, repository, `o${i}`, { created: OLD }).digest });
  }
  const dir = mkdtempSync(join(tmpdir(), 'bench-throttled-'));
  const imageInfo = join(dir, 'image-info.json');
  writeFileSync(imageInfo, imageInfoOfDigests(supportedBy));
  const meter = new Meter(BUDGETS[tier], 60_000 / SCALES[tier]);
  fake.addFault({ kind: '429', match: meter.over, times: Number.MAX_SAFE_INTEGER });
  return { fake, meter, imageInfo, orphans: out, close: () => fake.close() };
}

/** The client's compressed clock. */
function compressedClock(scale: number): Clock {
  const t0 = Date.now();
  return {
    now: () => new Date(t0 + (Date.now() - t0) * scale),
    sleep: (ms) => systemClock.sleep(ms / scale),
    random: Math.random,
  };
}

/**
 * The per-class throttle (src/util/throttle.ts) on the compressed clock, when this checkout has
 * one (the per-class limiters).
 */
async function throttleFor(
  options: { tier?: Tier; maxRequestsPerMinute?: number },
  clock: Clock,
): Promise<unknown> {
  const path = '../../src/util/throttle.js';
  const mod = (await import(path).catch(() => undefined)) as
    { Throttle?: new (o: Record<string, unknown>) => unknown } | undefined;
  if (!mod?.Throttle) return undefined;
  return new mod.Throttle({ ...options, clock });
}

function registryFor(fake: FakeAcr, extra: Record<string, unknown>) {
  const { credential, name } = createAcrCredential({ kind: 'default' });
  return new AcrRegistry({
    endpoint: fake.url,
    credential,
    credentialName: name,
    ca: fake.caPem,
    concurrency: CONCURRENCY,
    ...extra,
  } as AcrRegistryOptions);
}

export interface ThrottledRun {
  tier: Tier;
  way: string;
  ok: boolean;
  note: string;
  wallMs: number;
  floorMs: number;
  served: number;
  refused: number;
  writes: number;
  reads: number;
}

function summarize(
  w: World,
  tier: Tier,
  way: string,
  wallMs: number,
  ok: boolean,
  note: string,
): ThrottledRun {
  const served = CLASSES.reduce((s, c) => s + w.meter.served[c], 0);
  const refused = CLASSES.reduce((s, c) => s + w.meter.refused[c], 0);
  const run: ThrottledRun = {
    tier,
    way,
    ok,
    note,
    wallMs,
    floorMs: w.meter.floorMs(),
    served,
    refused,
    writes: w.meter.served.write,
    reads: w.meter.served.read,
  };
  if (process.env.EOL_GATE_BENCH_TRACE) {
    // Served requests per class in each tenth of a budget window: where the time went.
    const t0 = w.meter.trace[0]?.[0] ?? 0;
    const slot = w.meter.windowMs / 10;
    const rows = new Map<number, Record<Class, number>>();
    for (const [t, c] of w.meter.trace) {
      const k = Math.floor((t - t0) / slot);
      const row = rows.get(k) ?? { read: 0, write: 0, referrers: 0, token: 0 };
      row[c]++;
      rows.set(k, row);
    }
    for (const [k, row] of [...rows].sort(([a], [b]) => a - b))
      console.log(`  ${((k * slot) / 1000).toFixed(1)} s: ${JSON.stringify(row)}`);
  }
  console.log(
    `(g) ${tier} ${way}: ${ok ? 'ok' : 'FAILED'} ${(wallMs / 1000).toFixed(1)} s = ${(wallMs / run.floorMs).toFixed(2)}× floor ${(run.floorMs / 1000).toFixed(1)} s; ${refused} of ${served + refused} refused; ${run.writes} writes, ${run.reads} reads; ${note}`,
  );
  return run;
}

async function eolGate(
  tier: Tier,
  way: 'defaults' | 'acrTier' | 'maxRequestsPerMinute',
  orphans: number,
  supported: number,
): Promise<ThrottledRun> {
  const w = await world(tier, orphans, supported);
  try {
    const clock = compressedClock(SCALES[tier]);
    // maxRequestsPerMinute: one cap for every class at the write budget.
    const options =
      way === 'acrTier'
        ? { tier }
        : way === 'maxRequestsPerMinute'
          ? { maxRequestsPerMinute: BUDGETS[tier].write }
          : {};
    const throttle = await throttleFor(options, clock);
    // Without the throttle module the cap is the adapter's own, on the real clock: compressed by hand.
    const extra: Record<string, unknown> = throttle
      ? { retry: DEFAULT_RETRY, clock, throttle }
      : way === 'maxRequestsPerMinute'
        ? { retry: DEFAULT_RETRY, maxRequestsPerMinute: BUDGETS[tier].write * SCALES[tier] }
        : { retry: DEFAULT_RETRY, clock };
    const registry = registryFor(w.fake, extra);
    w.meter.reset();
    const t0 = performance.now();
    let ok = false;
    let note = '';
    try {
      const result = await annotate(
        annotateOptions({ group: 'bench-throttled', eolDate: EOL_DATE, concurrency: CONCURRENCY }),
        {
          registry,
          store: new NoneStore(),
          sources: [new FileSource(w.imageInfo)],
          clock: systemClock,
          logger: silentLogger,
        },
      );
      await registry.flush?.();
      const marked = w.orphans.filter(
        (o) => w.fake.referrersOf(o.repository, o.digest, LIFECYCLE_ARTIFACT_TYPE).length === 1,
      ).length;
      ok = marked === w.orphans.length;
      note = `${marked}/${w.orphans.length} marked (${result.counts.annotated} annotated)`;
    } catch (e) {
      const marked = w.orphans.filter(
        (o) => w.fake.referrersOf(o.repository, o.digest, LIFECYCLE_ARTIFACT_TYPE).length > 0,
      ).length;
      note = `failed: ${(e as Error).message.slice(0, 120)}; ${marked}/${w.orphans.length} marked`;
    }
    return summarize(w, tier, way, performance.now() - t0, ok, note);
  } finally {
    await w.close();
  }
}

/**
 * The docker-tools way (dotnet/docker-tools#2137–#2143): one referrers lookup per candidate,
 * paced at 250 a minute (their limiter), then a mark for each unmarked candidate, pushed by the
 * same adapter (defaults) so only the approach differs.
 */
async function dockerTools(tier: Tier, orphans: number, supported: number): Promise<ThrottledRun> {
  const w = await world(tier, orphans, supported);
  try {
    const clock = compressedClock(SCALES[tier]);
    const throttle = await throttleFor({}, clock);
    const registry = registryFor(w.fake, {
      retry: DEFAULT_RETRY,
      clock,
      referrersSource: 'api',
      ...(throttle ? { throttle } : {}),
    });
    w.meter.reset();
    const t0 = performance.now();
    let ok = false;
    let note = '';
    try {
      const interval = 60_000 / 250 / SCALES[tier];
      let next = Date.now();
      const todo: { repository: string; digest: string }[] = [];
      let i = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (i < w.orphans.length) {
            const o = w.orphans[i++];
            const at = Math.max(Date.now(), next);
            next = at + interval;
            if (at > Date.now()) await new Promise((r) => setTimeout(r, at - Date.now()));
            const found = await registry.listReferrers(
              o.repository,
              o.digest,
              LIFECYCLE_ARTIFACT_TYPE,
            );
            if (found.length === 0) todo.push(o);
          }
        }),
      );
      let j = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (j < todo.length) {
            const o = todo[j++];
            const subject = (await registry.describeManifest(o.repository, o.digest))!;
            const json = lifecycleManifestJson(subject, EOL_DATE);
            await registry.pushReferrer(o.repository, subject, {
              bytes: new TextEncoder().encode(json),
              digest: sha256Digest(json),
              mediaType: MediaType.ociManifest,
              artifactType: LIFECYCLE_ARTIFACT_TYPE,
              annotations: { [EOL_DATE_ANNOTATION]: EOL_DATE },
            });
          }
        }),
      );
      ok = true;
      note = `${todo.length}/${w.orphans.length} marked`;
    } catch (e) {
      note = `failed: ${(e as Error).message.slice(0, 120)}`;
    }
    return summarize(w, tier, 'docker-tools way', performance.now() - t0, ok, note);
  } finally {
    await w.close();
  }
}

/** Orphans and supported images per tier: enough writes to pass the write budget a few times. */
export const SIZES: Record<Tier, { orphans: number; supported: number }> = {
  basic: { orphans: 300, supported: 90 },
  standard: { orphans: 1_000, supported: 90 },
};

export async function throttledScenario(quick = false): Promise<ThrottledRun[]> {
  const runs: ThrottledRun[] = [];
  const ways = ['defaults', 'acrTier', 'maxRequestsPerMinute'] as const;
  // EOL_GATE_BENCH_ONLY=standard:acrTier runs one (tier:way) only.
  const only = process.env.EOL_GATE_BENCH_ONLY;
  const wanted = (tier: Tier, way: string) => !only || only === `${tier}:${way}`;
  for (const tier of ['basic', 'standard'] as const) {
    const { orphans, supported } = quick ? { orphans: 120, supported: 90 } : SIZES[tier];
    for (const way of ways)
      if (wanted(tier, way)) runs.push(await eolGate(tier, way, orphans, supported));
    if (wanted(tier, 'docker-tools')) runs.push(await dockerTools(tier, orphans, supported));
  }
  return runs;
}

export function throttledTable(runs: ThrottledRun[]): string {
  const rows = runs.map(
    (r) =>
      `| ${r.tier} | ${r.way} | ${r.ok ? 'yes' : '**no**'} | ${(r.wallMs / r.floorMs).toFixed(2)}× | ${((100 * r.refused) / (r.served + r.refused)).toFixed(1)} % | ${r.writes} / ${r.reads} | ${r.note} |`,
  );
  return [
    '| tier | run | all marked | wall ÷ floor | refused | writes / reads served | note |',
    '|---|---|---|---:|---:|---:|---|',
    ...rows,
  ].join('\n');
}
