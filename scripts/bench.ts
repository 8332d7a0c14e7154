/**
 * ACR scale benchmark: `npx tsx scripts/bench.ts [--quick | --memory-only]`.
 *
 * Replays test/fixtures/history/buildtools-prereqs-main.300-versions.json (9,244 manifests,
 * 230 supported now) into the fake ACR with 20 ms per request, and measures side by side:
 *   (a) cold annotate, (b) the same run again (steady state, with the manifest cache file),
 *   (b') steady state on a fresh agent: the bundled CLI in a new process and working directory,
 *       no cache file: only the registry-held cache that (a) wrote,
 *   (c) an ImageBuilder-like baseline (GET every listed manifest, one referrers call per
 *       candidate, concurrency 8), (d) a sequential check-then-attach loop (sampled),
 *   (e) peak RSS of a dry run over 100,000 synthetic manifests (fake ACR in another process),
 *   (f) a plain OCI registry (docker-registry, 100 tagged orphans, 20 supported, 10 ms per
 *       request): cold and steady on a fresh agent through the bundled CLI, next to a
 *       check-then-attach loop, in requests per orphan.
 *   (g) a throttled ACR: Basic and Standard budgets per class, 429 without
 *       Retry-After, time compressed (scripts/bench/throttled.ts): eol-gate with defaults, with
 *       acrTier, with maxRequestsPerMinute, and the docker-tools way.
 * Writes bench/results.md and bench/chart.svg. `--quick`: a slice of the data, no (e), nothing
 * written. `--memory-only`: only (e) (needs dist/: `node scripts/build.mjs` first).
 * `--throttled-only`: only (g), its section of bench/results.md replaced.
 *
 * The dataset's digests are of real images we do not have, so each entry becomes a small
 * synthetic manifest (same repository, kind, creation time, supported-or-not) with its own
 * honest digest, and the image-info is written from those.
 */
import { imageInfoOfDigests } from '../test/support/scenario.js';
import { acrAnnotateArgs, annotateOptions } from '../test/support/annotate-options.js';
import { OPTIMISTIC_BUDGETS } from '../src/util/throttle.js';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ContainerRegistryClient, ContainerRegistryContentClient } from '@azure/container-registry';
import { annotate } from '../src/commands/annotate.js';
import { NoneStore } from '../src/coordination/none.js';
import {
  EOL_DATE_ANNOTATION,
  LIFECYCLE_ARTIFACT_TYPE,
  lifecycleManifestJson,
} from '../src/core/lifecycle.js';
import { MediaType } from '../src/core/oci.js';
import { silentLogger } from '../src/core/ports.js';
import { FileSource } from '../src/imageinfo/file-source.js';
import { AcrRegistry, createAcrCredential } from '../src/registry/acr/index.js';
import { systemClock } from '../src/util/clock.js';
import { sha256Digest } from '../src/util/hash.js';
import {
  seedImage,
  seedIndex,
  startFakeAcr,
  type FakeAcr,
} from '../test/support/fake-acr/index.js';
import { startIdentityEndpoint } from '../test/support/identity-endpoint.js';
import { startDockerRegistry } from '../test/support/docker-registry.js';
import { pushImage } from '../test/support/seed.js';
import { OciRegistry } from '../src/registry/oci/index.js';
import { startCountingProxy } from './bench/oci-proxy.js';
import {
  SCALES,
  SIZES,
  throttledScenario,
  throttledTable,
  type ThrottledRun,
} from './bench/throttled.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = join(root, 'test/fixtures/history/buildtools-prereqs-main.300-versions.json');
const LATENCY_MS = 20;
const CONCURRENCY = 8;
const EOL_DATE = '2026-06-01';
const SEQUENTIAL_SAMPLE = 150;
const SYNTHETIC = 100_000;
const CACHE_REPOSITORY = 'eol-gate/cache';
const GROUP = 'bench';
const OCI_ORPHANS = 100;
const OCI_SUPPORTED = 20;
const OCI_LATENCY_MS = 10;
const CLI = fileURLToPath(new URL('../dist/cli/index.cjs', import.meta.url));

interface Entry {
  repository: string;
  digest: string;
  kind: 'manifest' | 'index';
  created: string;
  supportedNow: boolean;
}

/** Seeds the fake; returns the image-info path and the synthetic digests. */
function load(
  fake: FakeAcr,
  entries: Entry[],
  dir: string,
): { imageInfo: string; all: { repository: string; digest: string }[] } {
  const supported = new Map<string, string[]>();
  const all: { repository: string; digest: string }[] = [];
  for (const e of entries) {
    const created = new Date(e.created);
    const m =
      e.kind === 'index'
        ? seedIndex(fake, e.repository, [], { created, seed: e.digest })
        : seedImage(fake, e.repository, e.digest, { created });
    all.push({ repository: e.repository, digest: m.digest });
    if (e.supportedNow)
      supported.set(e.repository, [...(supported.get(e.repository) ?? []), m.digest]);
  }
  const imageInfo = join(dir, 'image-info.json');
  writeFileSync(imageInfo, imageInfoOfDigests(supported));
  return { imageInfo, all };
}

function syntheticEntries(n: number): Entry[] {
  const start = Date.parse('2025-01-01T00:00:00Z');
  return Array.from({ length: n }, (_, i) => ({
    repository: `synthetic/repo${i % 10}`,
    digest: `synthetic-${i}`,
    kind: 'manifest',
    created: new Date(start + i * 60_000).toISOString(),
    supportedNow: i % 41 === 0, // spread over all ten repositories
  }));
}

interface Measure {
  name: string;
  requests: number;
  wallMs: number;
  peakRssMb: number;
  note?: string;
}

async function measure(
  name: string,
  fake: FakeAcr | undefined,
  fn: () => Promise<string | void>,
): Promise<Measure> {
  global.gc?.();
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 25);
  fake?.resetCounts();
  const t0 = performance.now();
  const note = await fn();
  const wallMs = performance.now() - t0;
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const m: Measure = {
    name,
    requests: fake?.total ?? 0,
    wallMs,
    peakRssMb: peak / 2 ** 20,
    ...(note ? { note } : {}),
  };
  console.log(
    `${name}: ${m.requests} requests, ${(wallMs / 1000).toFixed(1)} s, peak RSS ${m.peakRssMb.toFixed(0)} MB${note ? ` (${note})` : ''}`,
  );
  return m;
}

function registryFor(
  url: string,
  ca: string | undefined,
  extra: Partial<ConstructorParameters<typeof AcrRegistry>[0]> = {},
): AcrRegistry {
  const { credential, name } = createAcrCredential({ kind: 'default' });
  return new AcrRegistry({
    endpoint: url,
    credential,
    credentialName: name,
    ca,
    concurrency: CONCURRENCY,
    logger: silentLogger,
    ...extra,
  });
}

async function runAnnotate(registry: AcrRegistry, imageInfo: string, dryRun = false) {
  return annotate(
    annotateOptions({ group: GROUP, eolDate: EOL_DATE, concurrency: CONCURRENCY, dryRun }),
    {
      registry,
      store: new NoneStore(),
      sources: [new FileSource(imageInfo)],
      clock: systemClock,
      logger: silentLogger,
    },
  );
}

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

/** (c) What dotnet's ImageBuilder does: GET every listed manifest, then a referrers call per candidate. */
async function baseline(
  fake: FakeAcr,
  repositories: string[],
  supported: Set<string>,
): Promise<string> {
  const { credential } = createAcrCredential({ kind: 'default' });
  const options = { tlsOptions: { ca: fake.caPem } };
  const client = new ContainerRegistryClient(fake.url, credential!, options);
  const referrers = registryFor(fake.url, fake.caPem, { referrersSource: 'api' });
  let candidates = 0;
  for (const repository of repositories) {
    const content = new ContainerRegistryContentClient(fake.url, repository, credential!, options);
    const digests: string[] = [];
    for await (const m of client.getRepository(repository).listManifestProperties())
      digests.push(m.digest);
    const images: string[] = [];
    await pool(digests, CONCURRENCY, async (digest) => {
      const got = await content.getManifest(digest);
      if (!(got.manifest as { subject?: unknown }).subject) images.push(digest);
    });
    const todo = images.filter((d) => !supported.has(d));
    candidates += todo.length;
    await pool(todo, CONCURRENCY, async (digest) => {
      await referrers.listReferrers(repository, digest, LIFECYCLE_ARTIFACT_TYPE);
    });
  }
  return `${candidates} candidates checked`;
}

/** (d) One digest at a time: check its referrers, then describe and attach. Sampled. */
async function sequential(
  fake: FakeAcr,
  sample: { repository: string; digest: string }[],
): Promise<string> {
  const registry = registryFor(fake.url, fake.caPem, { referrersSource: 'api', concurrency: 1 });
  for (const { repository, digest } of sample) {
    const existing = await registry.listReferrers(repository, digest, LIFECYCLE_ARTIFACT_TYPE);
    if (existing.length > 0) continue;
    const subject = (await registry.describeManifest(repository, digest))!;
    const json = lifecycleManifestJson(subject, EOL_DATE);
    await registry.pushReferrer(repository, subject, {
      bytes: new TextEncoder().encode(json),
      digest: sha256Digest(json),
      mediaType: MediaType.ociManifest,
      artifactType: LIFECYCLE_ARTIFACT_TYPE,
      annotations: { [EOL_DATE_ANNOTATION]: EOL_DATE },
    });
  }
  return `${sample.length} digests sampled`;
}

/** Child mode: serve `n` synthetic manifests so the parent's RSS is the annotator's alone. */
async function serve(n: number): Promise<void> {
  const fake = await startFakeAcr();
  const dir = mkdtempSync(join(tmpdir(), 'bench-synthetic-'));
  const { imageInfo } = load(fake, syntheticEntries(n), dir);
  process.stdout.write(JSON.stringify({ url: fake.url, imageInfo, caPath: fake.caPath }) + '\n');
}

/**
 * Runs the bundled CLI as a pipeline's fresh agent would: new process, new working directory;
 * `args` include `--json`.
 */
async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ counts: Record<string, number> }> {
  const cwd = mkdtempSync(join(tmpdir(), 'bench-agent-'));
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c));
  child.stderr!.on('data', (c: Buffer) => (err += c));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`eol-gate ${args[0]} failed (${code}): ${err.slice(-2000)}`);
  return JSON.parse(out) as { counts: Record<string, number> };
}

/** (b') The CLI on a fresh agent: no cache file, only the registry-held cache (a) left. */
async function freshAgent(fake: FakeAcr, imageInfo: string): Promise<string> {
  const r = await cli(
    acrAnnotateArgs(
      fake.url,
      imageInfo,
      '--group',
      GROUP,
      '--eol-date',
      EOL_DATE,
      '--concurrency',
      String(CONCURRENCY),
    ),
    { NODE_EXTRA_CA_CERTS: fake.caPath },
  );
  return `${r.counts.alreadyAnnotated} already annotated, ${r.counts.annotated} annotated`;
}

interface OciFigures {
  orphans: number;
  tags: number;
  cold: number;
  steady: number;
  loopCold: number;
  loopSteady: number;
}

/**
 * (f) A real docker-registry behind a counting proxy (10 ms per request). The product: the
 * bundled CLI, cold then steady, each a fresh agent. The loop: per orphan, look for a mark
 * through the fallback tag, then describe and attach (what `oras discover` + `oras attach`
 * per digest do), on its own copy of the same images.
 */
async function ociScenario(): Promise<OciFigures> {
  const registry = await startDockerRegistry();
  const proxy = await startCountingProxy(registry.url, OCI_LATENCY_MS);
  try {
    const direct = new OciRegistry({ url: registry.url, logger: silentLogger });
    const seed = async (repo: string) => {
      const supported: string[] = [];
      const orphans: { digest: string; size: number; mediaType: string }[] = [];
      for (let i = 0; i < OCI_SUPPORTED + OCI_ORPHANS; i++) {
        const image = await pushImage(direct, repo, { tag: `v${i}`, seed: `${repo}-${i}` });
        if (i < OCI_SUPPORTED) supported.push(image.digest);
        else orphans.push(image);
      }
      return { supported, orphans };
    };
    const product = await seed('bench/app');
    const loop = await seed('bench/loop');
    const dir = mkdtempSync(join(tmpdir(), 'bench-oci-'));
    const imageInfo = join(dir, 'image-info.json');
    writeFileSync(
      imageInfo,
      JSON.stringify({
        schemaVersion: '2.0',
        repos: [
          {
            repo: 'bench/app',
            images: [
              {
                platforms: product.supported.map((d) => ({
                  digest: `mcr.microsoft.com/bench/app@${d}`,
                  simpleTags: [],
                })),
              },
            ],
          },
        ],
      }),
    );
    const args = [
      'annotate',
      '--registry',
      proxy.url,
      '--registry-type',
      'oci',
      '--image-info',
      imageInfo,
      '--coordinator',
      'none',
      '--group',
      GROUP,
      '--eol-date',
      EOL_DATE,
      '--min-age',
      '0',
      '--concurrency',
      String(CONCURRENCY),
      '--json',
    ];
    proxy.reset();
    const cold = await cli(args);
    if (cold.counts.annotated !== OCI_ORPHANS)
      throw new Error(`(f) cold annotated ${cold.counts.annotated}`);
    const coldRequests = proxy.total;
    proxy.reset();
    const steady = await cli(args);
    if (steady.counts.alreadyAnnotated !== OCI_ORPHANS)
      throw new Error(`(f) steady: ${JSON.stringify(steady.counts)}`);
    const steadyRequests = proxy.total;

    const checkThenAttach = async () => {
      const reg = new OciRegistry({
        url: proxy.url,
        concurrency: CONCURRENCY,
        logger: silentLogger,
      });
      await pool(loop.orphans, CONCURRENCY, async (subject) => {
        const marks = await reg.listReferrers(
          'bench/loop',
          subject.digest,
          LIFECYCLE_ARTIFACT_TYPE,
        );
        if (marks.length > 0) return;
        const described = (await reg.describeManifest('bench/loop', subject.digest))!;
        const json = lifecycleManifestJson(described, EOL_DATE);
        await reg.pushReferrer('bench/loop', described, {
          bytes: new TextEncoder().encode(json),
          digest: sha256Digest(json),
          mediaType: MediaType.ociManifest,
          artifactType: LIFECYCLE_ARTIFACT_TYPE,
          annotations: { [EOL_DATE_ANNOTATION]: EOL_DATE },
        });
      });
    };
    proxy.reset();
    await checkThenAttach();
    const loopCold = proxy.total;
    proxy.reset();
    await checkThenAttach();
    const loopSteady = proxy.total;
    const tags = (await direct.listTags('bench/app')).length;
    const figures = {
      orphans: OCI_ORPHANS,
      tags,
      cold: coldRequests,
      steady: steadyRequests,
      loopCold,
      loopSteady,
    };
    console.log(`(f) OCI: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await proxy.close();
    await registry.stop();
  }
}

function svg(rows: Measure[]): string {
  const w = 720;
  const bar = 22;
  const panel = (title: string, value: (m: Measure) => number, unit: string, y0: number) => {
    const max = Math.max(...rows.map(value));
    const lines = rows.map((m, i) => {
      const v = value(m);
      const len = Math.max(2, (v / max) * 420);
      const y = y0 + 28 + i * (bar + 8);
      return `<text x="10" y="${y + 15}" font-size="12">${m.name}</text><rect x="230" y="${y}" width="${len.toFixed(1)}" height="${bar}" fill="#2f6fb0"/><text x="${(235 + len).toFixed(1)}" y="${y + 15}" font-size="12">${v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1)} ${unit}</text>`;
    });
    return `<text x="10" y="${y0 + 16}" font-size="14" font-weight="bold">${title}</text>${lines.join('')}`;
  };
  const h1 = 28 + rows.length * (bar + 8) + 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${2 * h1 + 10}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/>${panel('HTTP requests', (m) => m.requests, '', 0)}${panel('Wall time', (m) => m.wallMs / 1000, 's', h1)}</svg>`;
}

function firstLine<T>(child: ReturnType<typeof spawn>): Promise<T> {
  return new Promise((resolve, reject) => {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk;
      if (buf.includes('\n')) resolve(JSON.parse(buf.split('\n')[0]) as T);
    });
    child.on('exit', (code) => reject(new Error(`bench child exited with ${code}`)));
  });
}

/**
 * (e) 100,000 manifests: the fake and the annotator each in their own process, so the
 * annotator's peak RSS (getrusage maxrss) is its own, not the fake's or (a)-(c)'s.
 * Needs the managed-identity endpoint main() starts. EOL_GATE_BENCH_PHASES=1 makes the
 * preload print RSS/heap samples as the run goes (on stderr, passed through).
 */
async function memoryScenario(): Promise<Measure> {
  const server = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', String(SYNTHETIC)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const info = await firstLine<{ url: string; imageInfo: string; caPath: string }>(server);
  // The product as pipelines run it: the bundled CLI, with a preload reporting its peak RSS.
  const t0 = performance.now();
  const runner = spawn(
    process.execPath,
    [
      '--require',
      fileURLToPath(new URL('./bench/report-rss.cjs', import.meta.url)),
      fileURLToPath(new URL('../dist/cli/index.cjs', import.meta.url)),
      'annotate',
      '--registry',
      info.url,
      '--registry-type',
      'acr',
      '--image-info',
      info.imageInfo,
      '--dry-run',
      '--json',
      '--coordinator',
      'none',
      '--min-age',
      '0',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_EXTRA_CA_CERTS: info.caPath },
    },
  );
  let out = '';
  let err = '';
  runner.stdout!.on('data', (c: Buffer) => (out += c));
  runner.stderr!.on('data', (c: Buffer) => (err += c));
  const code = await new Promise<number | null>((resolve) => runner.on('exit', resolve));
  const wallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`(e) failed: ${err.slice(-2000)}`);
  const maxRssMb = Number(/EOL_GATE_MAX_RSS_MB=([\d.]+)/.exec(err)?.[1]);
  const r = {
    requests: Number.NaN,
    wallMs,
    maxRssMb,
    candidates: (JSON.parse(out) as { counts: { candidates: number } }).counts.candidates,
  };
  server.kill();
  const e: Measure = {
    name: `(e) dry run, ${SYNTHETIC.toLocaleString('en-US')} manifests`,
    requests: r.requests,
    wallMs: r.wallMs,
    peakRssMb: r.maxRssMb,
    note: `${r.candidates} candidates planned`,
  };
  console.log(
    `${e.name}: ${e.requests} requests, ${(e.wallMs / 1000).toFixed(1)} s, peak RSS ${e.peakRssMb.toFixed(0)} MB (${e.note})`,
  );
  if (process.env.EOL_GATE_BENCH_PHASES)
    process.stderr.write(
      err
        .split('\n')
        .filter((l) => l.startsWith('EOL_GATE_'))
        .join('\n') + '\n',
    );
  return e;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--serve') return serve(Number(args[1]));
  const quick = args.includes('--quick');

  const identity = await startIdentityEndpoint();
  Object.assign(process.env, identity.env);
  if (args.includes('--memory-only')) {
    // Only (e), for iterating on memory: `node scripts/build.mjs && npx tsx scripts/bench.ts --memory-only`.
    try {
      const e = await memoryScenario();
      console.log(
        `peak RSS ≤ 200 MB with ${SYNTHETIC.toLocaleString('en-US')} manifests: ${e.peakRssMb <= 200 ? 'yes' : 'NO'} (${e.peakRssMb.toFixed(0)} MB)`,
      );
    } finally {
      await identity.close();
    }
    return;
  }
  if (args.includes('--throttled-only')) {
    try {
      const g = await throttledScenario(quick);
      console.log(`\n${throttledTable(g)}`);
      if (!quick) {
        const path = join(root, 'bench', 'results.md');
        const text = readFileSync(path, 'utf8');
        const start = text.indexOf(THROTTLED_START);
        const end = text.indexOf(THROTTLED_END);
        const section = throttledSection(g);
        writeFileSync(
          path,
          start >= 0 && end > start
            ? text.slice(0, start) + section + text.slice(end + THROTTLED_END.length)
            : text.replace(
                '\n## Why steady state is cheap',
                `\n${section}\n\n## Why steady state is cheap`,
              ),
        );
        console.log('\nwrote the throttled section of bench/results.md');
      }
    } finally {
      await identity.close();
    }
    return;
  }
  const data = JSON.parse(readFileSync(DATA, 'utf8')) as { digests: Entry[] };
  const entries = quick ? data.digests.slice(-1200) : data.digests;
  const fake = await startFakeAcr();
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  const cacheFile = join(dir, 'manifest-cache.jsonl');
  const { imageInfo, all } = load(fake, entries, dir);
  const repositories = [...new Set(entries.map((e) => e.repository))];
  const supportedCount = entries.filter((e) => e.supportedNow).length;
  const orphans = entries.length - supportedCount;
  console.log(
    `${entries.length} manifests, ${supportedCount} supported, ${orphans} to annotate; ${LATENCY_MS} ms per request, concurrency ${CONCURRENCY}`,
  );

  // (d) first, on a sample of the cold registry, so it attaches to digests (a) would annotate.
  const supportedDigests = new Set<string>(
    JSON.parse(readFileSync(imageInfo, 'utf8')).repos.flatMap(
      (r: { images: { platforms: { digest: string }[] }[] }) =>
        r.images.flatMap((i) => i.platforms.map((p) => p.digest.split('@')[1])),
    ),
  );
  const sample = all.filter((m) => !supportedDigests.has(m.digest)).slice(0, SEQUENTIAL_SAMPLE);
  fake.latencyMs = LATENCY_MS;
  const d = await measure('(d) sequential loop (sample)', fake, () => sequential(fake, sample));
  // Undo the sample so (a) starts cold.
  for (const s of sample)
    for (const r of fake.referrersOf(s.repository, s.digest))
      fake.deleteManifest(s.repository, r.digest);

  let annotated = 0;
  const a = await measure('(a) cold annotate', fake, async () => {
    const registry = registryFor(fake.url, fake.caPem, {
      manifestCache: cacheFile,
      registryCache: { repository: CACHE_REPOSITORY, group: GROUP },
    });
    const r = await runAnnotate(registry, imageInfo);
    await registry.flush(); // as the job does after a run that wrote
    annotated = r.counts.annotated;
    return `${annotated} annotated`;
  });
  const b = await measure('(b) steady state', fake, async () => {
    const r = await runAnnotate(
      registryFor(fake.url, fake.caPem, { manifestCache: cacheFile }),
      imageInfo,
    );
    return `${r.counts.alreadyAnnotated} already annotated, ${r.counts.annotated} annotated`;
  });
  const bFresh = await measure("(b') steady state on a fresh agent", fake, () =>
    freshAgent(fake, imageInfo),
  );
  const c = await measure('(c) ImageBuilder-like baseline', fake, () =>
    baseline(fake, repositories, supportedDigests),
  );
  await fake.close();

  let e: Measure | undefined;
  if (!quick) e = await memoryScenario();
  const f = await ociScenario();
  await identity.close();

  const sequentialFull = (d.wallMs / sample.length) * orphans;
  // The limiter paces writes at Premium's budget before any refusal (util/throttle.ts): one
  // manifest PUT per mark can go no faster than that, whatever the latency.
  const budgetFloor = (annotated / OPTIMISTIC_BUDGETS.write) * 60_000;
  const floor = Math.max((a.requests * LATENCY_MS) / CONCURRENCY, budgetFloor);
  const checks = [
    [`steady state ≤ 100 requests`, b.requests <= 100, `${b.requests}`],
    [
      `steady state on a fresh agent (b') ≤ 100 requests`,
      bFresh.requests <= 100,
      `${bFresh.requests}`,
    ],
    [
      `(b') ≥ 100× fewer requests than (c)`,
      c.requests / bFresh.requests >= 100,
      `${(c.requests / bFresh.requests).toFixed(0)}×`,
    ],
    [
      `steady state ≥ 100× fewer requests than (c)`,
      c.requests / b.requests >= 100,
      `${(c.requests / b.requests).toFixed(0)}×`,
    ],
    [
      `cold ≤ 2.1 requests per annotation`,
      a.requests / annotated <= 2.1,
      `${(a.requests / annotated).toFixed(3)}`,
    ],
    [
      `cold wall time ≤ 1.5× floor (requests × latency ÷ concurrency, or marks at the write budget)`,
      a.wallMs <= 1.5 * floor,
      `${(a.wallMs / floor).toFixed(2)}× of ${(floor / 1000).toFixed(1)} s`,
    ],
    [
      `cold ≥ 10× faster than (d) (extrapolated to ${orphans})`,
      sequentialFull / a.wallMs >= 10,
      `${(sequentialFull / a.wallMs).toFixed(1)}×`,
    ],
    [
      `OCI (f): steady on a fresh agent ≤ 1.2 requests per tag`,
      f.steady / f.tags <= 1.2,
      `${(f.steady / f.tags).toFixed(2)} (${f.steady} for ${f.tags} tags)`,
    ],
    [
      `OCI (f): cold ≤ 4.5 requests per orphan`,
      f.cold / f.orphans <= 4.5,
      `${(f.cold / f.orphans).toFixed(2)}`,
    ],
    ...(e
      ? [
          [
            `peak RSS ≤ 200 MB with ${SYNTHETIC.toLocaleString('en-US')} manifests`,
            e.peakRssMb <= 200,
            `${e.peakRssMb.toFixed(0)} MB`,
          ] as const,
        ]
      : []),
  ] as const;

  const rows = [a, b, bFresh, c, d, ...(e ? [e] : [])];
  const table = [
    '| scenario | requests | wall time | peak RSS | note |',
    '|---|---:|---:|---:|---|',
    ...rows.map(
      (m) =>
        `| ${m.name} | ${Number.isNaN(m.requests) ? 'n/a (separate process)' : m.requests.toLocaleString('en-US')} | ${(m.wallMs / 1000).toFixed(1)} s | ${m.peakRssMb.toFixed(0)} MB | ${m.note ?? ''} |`,
    ),
  ].join('\n');
  const targets = [
    '| target | met | value |',
    '|---|---|---|',
    ...checks.map(([t, ok, v]) => `| ${t} | ${ok ? 'yes' : '**no**'} | ${v} |`),
  ].join('\n');
  const perOrphan = (n: number) => (n / f.orphans).toFixed(2);
  const ociTable = [
    '| (f) docker-registry, 100 tagged orphans, 20 supported | cold | steady (fresh agent) |',
    '|---|---:|---:|',
    `| eol-gate (bundled CLI, registry-held cache) | ${f.cold} (${perOrphan(f.cold)} per orphan) | ${f.steady} (${perOrphan(f.steady)} per orphan, ${(f.steady / f.tags).toFixed(2)} per tag) |`,
    `| check-then-attach loop (fallback lookup, describe, attach per orphan) | ${f.loopCold} (${perOrphan(f.loopCold)} per orphan) | ${f.loopSteady} (${perOrphan(f.loopSteady)} per orphan) |`,
  ].join('\n');
  console.log(`\n${table}\n\n${ociTable}\n\n${targets}`);
  if (quick) return;
  const g = await throttledScenario();
  console.log(`\n${throttledTable(g)}`);

  mkdirSync(join(root, 'bench'), { recursive: true });
  writeFileSync(join(root, 'bench', 'chart.svg'), svg([a, b, bFresh, c, d]));
  writeFileSync(
    join(root, 'bench', 'results.md'),
    `# ACR benchmark

Made by \`npx tsx scripts/bench.ts\` on ${new Date().toISOString().slice(0, 10)} (Node ${process.version}).
Data: \`buildtools-prereqs-main.300-versions.json\` replayed into the fake ACR (test/support/fake-acr):
${entries.length.toLocaleString('en-US')} manifests (synthetic bytes, the dataset's repository, kind, creation
time and support status), ${supportedCount} supported, ${orphans.toLocaleString('en-US')} to annotate. Every request
waits ${LATENCY_MS} ms; concurrency ${CONCURRENCY}. Requests are counted by the fake (401 challenges and
token exchanges included). RSS of (a)–(d) includes the in-process fake registry; (e) runs the
fake in another process, so its RSS is the annotator's alone.

![requests and wall time](chart.svg)

${table}

(d) ran on ${sample.length} digests; over all ${orphans.toLocaleString('en-US')} it would take about
${(sequentialFull / 1000 / 60).toFixed(1)} min. (b') is the bundled CLI in a new process and a new
working directory with no cache file: it starts from the registry-held cache that (a) wrote.

Wall times meet ACR's published budgets before the latency: the request limiter (see (g)) starts
writes at Premium's 2,000 a minute, so (a)'s 9,014 manifest PUTs take at least 270 s, and (c) and
(d) look up referrers one candidate at a time at 250 a minute per identity. (a) against (d)
therefore compares budgets.

A plain OCI registry (f): Debian's docker-registry (distribution 2.8, no referrers API) behind a
proxy that counts requests and adds ${OCI_LATENCY_MS} ms to each; concurrency ${CONCURRENCY}; \`minAge\` 0
(the registry keeps no push time: with a \`minAge\` an age is the youngest of the image config's
\`created\` and the group's first sighting, so a first run defers every candidate). Both eol-gate runs are fresh agents
(the bundled CLI, new process, no cache file); the loop runs on its own copy of the images.

${ociTable}

${targets}

${throttledSection(g)}

## Why steady state is cheap

Lifecycle artifacts sit in the same repository as their subject, so the listing that the
inventory needs anyway (pages of 1,000) shows every referrer. What a listed artifact *is*
(its subject and date) comes from its manifest, fetched once per digest ever and kept in a
digest-keyed cache: a file (\`cacheFile\`) where the agent keeps one, and always one OCI artifact
in the registry itself (\`cacheRepository\`, default \`<repoPrefix>eol-gate/cache\`, one tag per
group), which a fresh agent reads with two requests. Entries are self-verifying (a lifecycle
entry is re-rendered from its subject and date, anything else is kept as raw bytes, and either
must hash to its digest), and whether a referrer exists always comes from the current listing,
so a stale, missing, corrupt or foreign cache only costs requests. The copy is rewritten only
when a run learnt something, in one manifest PUT by tag (last writer wins, whole content).
Cold runs pay one GET (the subject descriptor needs the manifest size, which the listing lacks,
and the body tells whether the manifest is itself a referrer) and one PUT per annotation.

On a plain OCI registry the tags list names every \`sha256-<hex>\` fallback tag, so a candidate
costs no referrers lookup: the listing read its fallback index already. With the cache, a
steady run sends one HEAD per tag (has it moved?) and takes the bytes from the cache.

The same copy holds the group's memory: every repository it inventoried and, on a registry that
lists only tags, every manifest it saw (first sighting, last tags, kind, children). The next run
lists a remembered manifest that lost its tags with one HEAD while it is unmarked and none once
it is marked (re-checked every 30 days); one the registry no longer has is forgotten. The copy
is written only when something was learnt, so a steady run costs what it did before: (b') and
(f) above include it. On ACR and GHCR, whose listings are complete and carry push times, it
holds only the repositories (what a retired repository needs).

## Where the memory of (e) goes

About 55 MB is Node and the bundle before any work. What grows with the registry: the
listing pages (read straight from \`/acr/v1/<repo>/_manifests\` and turned into records at once,
media types interned: the SDK's models cost several copies of every page), one record per
manifest, one plan entry per candidate (the classifier's entry itself when nothing is added),
a lifecycle lookup per candidate (keyed by repository, then the digest string the record already
holds), and the plan file, written a digest at a time rather than built as one string.
\`EOL_GATE_BENCH_PHASES=1 npx tsx scripts/bench.ts --memory-only\` prints memory at each log line;
\`EOL_GATE_BENCH_SNAPSHOT=<file> EOL_GATE_BENCH_SNAPSHOT_AT='plan: '\` takes a heap snapshot there
for \`node scripts/bench/heap-summary.mjs <file>\` (see scripts/bench/report-rss.cjs).
`,
  );
  console.log('\nwrote bench/results.md and bench/chart.svg');
}

const THROTTLED_START = '<!-- throttled: npx tsx scripts/bench.ts --throttled-only -->';
const THROTTLED_END = '<!-- /throttled -->';

/** (g) for bench/results.md, between markers so `--throttled-only` can replace it alone. */
function throttledSection(g: ThrottledRun[]): string {
  return `${THROTTLED_START}
## (g) A throttled registry

Made on ${new Date().toISOString().slice(0, 10)}. The fake ACR meters each class in a sliding window and
answers past its budget with \`429 TOOMANYREQUESTS\` and no \`Retry-After\` (a refused request
does not count): reads (GET/HEAD), writes (PUT/POST/PATCH/DELETE), referrer lookups (250 per
identity) and token requests, at Microsoft's per-minute figures for Basic (1,000 reads / 100
writes) and Standard (3,000 / 500). Time is compressed (Basic ${SCALES.basic}×, Standard ${SCALES.standard}×): the window is a
minute ÷ that, with the per-minute counts, and the client's clock (its limiters and every sleep) runs as much faster, so the
figures are ratios: wall time over the floor the budget allows (for each class, requests served
÷ budget, in windows; the largest), and refused requests over all requests. Two repositories,
${SIZES.basic.supported} supported images; ${SIZES.basic.orphans} orphans on Basic, ${SIZES.standard.orphans} on Standard (a few write budgets each);
concurrency ${CONCURRENCY}, no latency. *defaults*: nothing configured (the limiters start optimistic
and learn the budgets from the refusals); *acrTier*: the limiters start at the tier's documented
budgets (\`new Throttle({ tier })\`, what the \`acrTier\` input configures); *maxRequestsPerMinute*: the write
budget as one cap for every class (one shared cap). The docker-tools way: one referrers lookup per candidate at 250 a
minute, then the marks, pushed by the same adapter with its defaults.

${throttledTable(g)}

Writes are what a write budget pays for. Counted at the wire by
test/platform/cli/registry-writes.test.ts (the CLI, 20 marks in 2 repositories, the registry-held
cache on): the empty config blob of the lifecycle manifests is checked and uploaded once per
repository (single flight; a cross-repository mount where a repository already holds it, a
monolithic \`POST ?digest=\` where the registry stores one), and a re-run right after a run writes
nothing, the cache included (a run that deleted manifests saves a cache without them).

| writes, 20 marks in 2 repositories | before (3d241b2^) | now | bound N + 3(R + 1) |
|---|---:|---:|---:|
| fake ACR, cold | 75 (20 manifest PUTs, 48 upload writes for \`{}\`, 7 for the cache) | 27 (20, 3, 4) | 29 |
| docker-registry, cold (no referrers API: + 20 fallback-index PUTs) | 49 (40, 4, 5) | 47 (40, 3, 4) | 29 + 20 |
| immediate re-run after a run that deleted manifests (a replaced fallback index, an unmarked image) | 3 on docker-registry, 7 on the fake ACR (the cache saved again) | 0 | 0 |
${THROTTLED_END}`;
}

await main();
