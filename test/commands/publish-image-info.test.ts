import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { publishImageInfo } from '../../src/commands/publish-image-info.js';
import { InputError, RuntimeError } from '../../src/core/errors.js';
import { formatImageInfo } from '../../src/core/image-info-merge.js';
import { silentLogger, type Logger } from '../../src/core/ports.js';
import { FileSource } from '../../src/imageinfo/file-source.js';
import { AzureReposSource } from '../../src/imageinfo/azure-repos-source.js';
import { GitHubContentsSource } from '../../src/imageinfo/github-source.js';
import {
  ImageInfoNotFoundError,
  type WritableImageInfoSource,
} from '../../src/imageinfo/source.js';
import { sha256Digest } from '../../src/util/hash.js';
import { FakeAzureDevOps } from '../support/fake-azure-devops.js';
import { FakeGitHub } from '../support/fake-github.js';
import { capturingLogger, manualClock } from '../support/doubles.js';
import { systemClock } from '../../src/util/clock.js';
import { rejection } from '../support/errors.js';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const platform = (n: number, extra: Record<string, unknown> = {}) => ({
  dockerfile: `src/img${n}/amd64/Dockerfile`,
  simpleTags: [`tag${n}`],
  digest: `mcr.microsoft.com/team/app@${digest(n)}`,
  osType: 'Linux',
  osVersion: 'noble',
  architecture: 'amd64',
  ...extra,
});
const doc = (...ns: number[]) =>
  formatImageInfo({
    schemaVersion: '2.0',
    repos: [{ repo: 'team/app', images: ns.map((n) => ({ platforms: [platform(n)] })) }],
  });
type Doc = { repos: Array<{ images: Array<{ platforms: Array<{ digest: string }> }> }> };
const digestsIn = (text: string): string[] =>
  (JSON.parse(text) as Doc).repos.flatMap((r) =>
    r.images.flatMap((i) => i.platforms.map((p) => p.digest.split('@')[1])),
  );

const fakeClock = () => manualClock(Date.parse('2026-05-01T00:00:00Z'));

/** In-memory compare-and-swap source; `beforeWrite` lets a test act as a concurrent writer. */
function memory(
  initial: string | undefined,
  beforeWrite?: (set: (t: string) => void, attempt: number) => void,
) {
  let text = initial;
  let writes = 0;
  const source: WritableImageInfoSource & { text(): string | undefined; writes(): number } = {
    name: 'memory:image-info.json',
    text: () => text,
    writes: () => writes,
    read: async () => {
      if (text === undefined) throw new ImageInfoNotFoundError('memory:image-info.json: not found');
      return { text, fingerprint: sha256Digest(text) };
    },
    write: async (next, expected) => {
      writes++;
      beforeWrite?.((t) => (text = t), writes);
      if ((text === undefined ? 'absent' : sha256Digest(text)) !== expected) return 'conflict';
      text = next;
      return { text, fingerprint: sha256Digest(text) };
    },
  };
  return source;
}

const base = { fragmentName: 'run-42/image-info.json', message: 'Publish image-info for run 42' };

describe('publishImageInfo', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-publish-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('merges into a file target, then signals (after the write is durable)', async () => {
    const path = join(dir, 'image-info.json');
    await writeFile(path, doc(1, 2));
    const signalled: string[] = [];
    const result = await publishImageInfo(
      { ...base, target: new FileSource(path), fragmentText: doc(3) },
      {
        clock: fakeClock(),
        logger: silentLogger,
        signal: async () => void signalled.push(await readFile(path, 'utf8')),
      },
    );
    expect(result).toEqual({
      attempts: 1,
      fingerprint: sha256Digest(doc(1, 2, 3)),
      changed: true,
      stale: [],
    });
    expect(await readFile(path, 'utf8')).toBe(doc(1, 2, 3));
    expect(signalled).toEqual([doc(1, 2, 3)]);
  });

  it('is a no-op (no write) when the target already has the fragment, and still signals', async () => {
    const target = memory(doc(1, 2));
    const signal = vi.fn(async () => {});
    const result = await publishImageInfo(
      { ...base, target, fragmentText: doc(2) },
      { clock: fakeClock(), logger: silentLogger, signal },
    );
    expect(result).toEqual({
      attempts: 1,
      fingerprint: sha256Digest(doc(1, 2)),
      changed: false,
      stale: [],
    });
    expect(target.writes()).toBe(0);
    expect(signal).toHaveBeenCalledOnce();
  });

  it('a missing target is an InputError that says --create creates it; with create it is created', async () => {
    const target = memory(undefined);
    const signal = vi.fn(async () => {});
    const err = await rejection(
      publishImageInfo(
        { ...base, target, fragmentText: doc(1) },
        { clock: fakeClock(), logger: silentLogger, signal },
      ),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(
      /memory:image-info\.json: the target image-info does not exist; pass --create/,
    );
    expect(signal).not.toHaveBeenCalled();
    expect(target.writes()).toBe(0);

    const created = await publishImageInfo(
      { ...base, target, fragmentText: doc(1), create: true },
      { clock: fakeClock(), logger: silentLogger, signal },
    );
    expect(created.changed).toBe(true);
    expect(target.text()).toBe(doc(1));
  });

  it('a bad fragment fails before anything is read or written, naming the fragment and JSON path', async () => {
    const target = memory(doc(1));
    const read = vi.spyOn(target, 'read');
    const bad = doc(2).replace(digest(2), 'sha256:xyz');
    const err = await rejection(
      publishImageInfo(
        { ...base, target, fragmentText: bad },
        { clock: fakeClock(), logger: silentLogger },
      ),
    );
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(
      /^run-42\/image-info\.json: repos\[0\]\.images\[0\]\.platforms\[0\]\.digest: /,
    );
    expect(read).not.toHaveBeenCalled();
    expect(target.text()).toBe(doc(1));
  });

  it("on conflict re-reads and re-merges, so the other writer's entry survives; backoff is jittered through the clock", async () => {
    // Another publisher lands entry 9 between our read and our first write.
    const target = memory(doc(1), (set, attempt) => {
      if (attempt === 1) set(doc(1, 9));
    });
    const clock = fakeClock();
    const logger = capturingLogger();
    const result = await publishImageInfo(
      { ...base, target, fragmentText: doc(2), baseDelayMs: 100 },
      { clock, logger },
    );
    expect(result.attempts).toBe(2);
    expect(digestsIn(target.text()!)).toEqual([digest(1), digest(9), digest(2)]);
    expect(clock.sleeps).toEqual([50]); // random 0.5 × cap 100
    expect(logger.of('info').some((m) => m.includes('changed since it was read'))).toBe(true);
  });

  it('gives up after maxAttempts with a RuntimeError, without ever overwriting and without signalling', async () => {
    let n = 100;
    const target = memory(doc(1), (set) => set(doc(1, n++))); // someone always gets in first
    const signal = vi.fn(async () => {});
    const clock = fakeClock();
    const err = await rejection(
      publishImageInfo(
        {
          ...base,
          target,
          fragmentText: doc(2),
          maxAttempts: 4,
          baseDelayMs: 100,
          maxDelayMs: 300,
        },
        { clock, logger: silentLogger, signal },
      ),
    );
    expect(err).toBeInstanceOf(RuntimeError);
    expect(err.message).toMatch(/after 4 attempts.*nothing was overwritten/);
    expect(signal).not.toHaveBeenCalled();
    expect(digestsIn(target.text()!)).not.toContain(digest(2));
    expect(clock.sleeps).toEqual([50, 100, 150]); // capped exponential × 0.5
  });

  it('two publishers racing on the fake GitHub contents API both end up in the file', async () => {
    const server = await new FakeGitHub().start();
    server.latencyMs = () => Math.random() * 5;
    try {
      server.contents.setFile('org', 'images', 'main', 'image-info.json', doc(1));
      const mk = () =>
        new GitHubContentsSource(
          { owner: 'org', repo: 'images', path: 'image-info.json', branch: 'main' },
          { apiUrl: server.apiUrl, token: server.token },
        );
      const clock = systemClock;
      const results = await Promise.all(
        [doc(2), doc(3), doc(4)].map((fragmentText, i) =>
          publishImageInfo(
            { ...base, fragmentName: `run-${i}.json`, target: mk(), fragmentText, baseDelayMs: 5 },
            { clock, logger: silentLogger },
          ),
        ),
      );
      expect(results.every((r) => r.changed)).toBe(true);
      expect(
        new Set(digestsIn(server.contents.getFile('org', 'images', 'main', 'image-info.json')!)),
      ).toEqual(new Set([1, 2, 3, 4].map(digest)));
      expect(server.contents.commits).toHaveLength(3);
    } finally {
      await server.close();
    }
  });
});

/**
 * An entry never moves to an older build. Each case publishes two builds of the same
 * platform(s) in turn through the real target adapters and checks what the shared file names.
 */
describe('publishImageInfo: build times (an entry never moves back in time)', () => {
  const NEW = '2026-11-22T10:00:00.1234567Z';
  const OLD = '2026-11-20T10:00:00.1234567Z';
  const arches = ['amd64', 'arm64'];
  const build = (n: number, created: string | undefined, manifest = false, archs = ['amd64']) =>
    formatImageInfo({
      schemaVersion: '2.0',
      repos: [
        {
          repo: 'team/app',
          images: [
            {
              productVersion: '1.0',
              ...(manifest && {
                manifest: {
                  digest: `mcr.microsoft.com/team/app@${digest(n * 100)}`,
                  created,
                  sharedTags: ['1.0'],
                },
              }),
              platforms: archs.map((arch, i) => ({
                dockerfile: `src/app/${arch}/Dockerfile`,
                simpleTags: [`1.0-${arch}`],
                digest: `mcr.microsoft.com/team/app@${digest(n * 100 + i + 1)}`,
                osType: 'Linux',
                osVersion: 'noble',
                architecture: arch,
                ...(created !== undefined && { created }),
              })),
            },
          ],
        },
      ],
    });
  const allDigests = (text: string): string[] => {
    const d = JSON.parse(text) as {
      repos: Array<{
        images: Array<{
          manifest?: { digest: string };
          platforms: Doc['repos'][0]['images'][0]['platforms'];
        }>;
      }>;
    };
    return d.repos.flatMap((r) =>
      r.images.flatMap((i) => [
        ...(i.manifest ? [i.manifest.digest.split('@')[1]] : []),
        ...i.platforms.map((p) => p.digest.split('@')[1]),
      ]),
    );
  };

  interface TimedTarget {
    source: () => WritableImageInfoSource;
    text: () => string;
  }
  let dir: string;
  let github: FakeGitHub;
  let azure: FakeAzureDevOps;
  let n = 0;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'eol-gate-publish-times-'));
    github = await new FakeGitHub().start();
    azure = await new FakeAzureDevOps().start();
  });
  afterAll(async () => {
    await github?.close();
    await azure?.close();
    await rm(dir, { recursive: true, force: true });
  });
  const retry = { retries: 1, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 5000 };
  const targets: Record<string, (initial: string) => Promise<TimedTarget>> = {
    file: async (initial) => {
      const path = join(dir, `image-info-${++n}.json`);
      await writeFile(path, initial);
      return { source: () => new FileSource(path), text: () => readFileSync(path, 'utf8') };
    },
    'GitHub contents': async (initial) => {
      const branch = `b${++n}`;
      github.contents.setFile('org', 'images', branch, 'image-info.json', initial);
      return {
        source: () =>
          new GitHubContentsSource(
            { owner: 'org', repo: 'images', path: 'image-info.json', branch },
            { apiUrl: github.apiUrl, token: github.token, retry },
          ),
        text: () => github.contents.getFile('org', 'images', branch, 'image-info.json')!,
      };
    },
    'Azure Repos': async (initial) => {
      const branch = `b${++n}`;
      azure.repos.commit('Images', 'image-info', branch, { 'image-info.json': initial });
      return {
        source: () =>
          new AzureReposSource(
            { project: 'Images', repo: 'image-info', path: 'image-info.json', branch },
            { collectionUri: azure.collectionUri, token: azure.token, retry },
          ),
        text: () => azure.repos.getFile('Images', 'image-info', branch, 'image-info.json')!,
      };
    },
  };
  const publish = (target: TimedTarget, fragmentText: string, logger: Logger = silentLogger) =>
    publishImageInfo(
      { ...base, target: target.source(), fragmentText },
      { clock: fakeClock(), logger },
    );

  describe.each(Object.keys(targets))('%s target', (kind) => {
    it('newer then older: the newer build stays, the older is reported and stays an orphan', async () => {
      const target = await targets[kind](build(1, NEW));
      const logger = capturingLogger();
      const result = await publish(target, build(2, OLD), logger);
      expect(allDigests(target.text())).toEqual([digest(101)]);
      expect(result.changed).toBe(false);
      expect(result.stale).toEqual([
        expect.objectContaining({
          kind: 'platform',
          repo: 'team/app',
          dockerfile: 'src/app/amd64/Dockerfile',
          architecture: 'amd64',
          kept: { digest: `mcr.microsoft.com/team/app@${digest(101)}`, created: NEW },
          stale: { digest: `mcr.microsoft.com/team/app@${digest(201)}`, created: OLD },
        }),
      ]);
      expect(logger.of('warning').join('\n')).toContain(digest(201));
      expect(logger.of('warning').join('\n')).toContain(OLD);
    });

    it('older then newer: replaced', async () => {
      const target = await targets[kind](build(1, OLD));
      const result = await publish(target, build(2, NEW));
      expect(allDigests(target.text())).toEqual([digest(201)]);
      expect(result).toMatchObject({ changed: true, stale: [] });
    });

    it('equal times: replaced (a re-run of the same build)', async () => {
      const target = await targets[kind](build(1, NEW));
      const result = await publish(target, build(2, NEW));
      expect(allDigests(target.text())).toEqual([digest(201)]);
      expect(result).toMatchObject({ changed: true, stale: [] });
    });

    it('a manifest-list image follows its platforms', async () => {
      const target = await targets[kind](build(1, NEW, true, arches));
      const stale = await publish(target, build(2, OLD, true, arches));
      expect(allDigests(target.text())).toEqual([digest(100), digest(101), digest(102)]);
      expect(stale.stale.map((s) => [s.kind, s.kept.digest, s.stale.digest])).toEqual([
        ['platform', expect.stringContaining(digest(101)), expect.stringContaining(digest(201))],
        ['platform', expect.stringContaining(digest(102)), expect.stringContaining(digest(202))],
        [
          'manifest-list',
          expect.stringContaining(digest(100)),
          expect.stringContaining(digest(200)),
        ],
      ]);
      const newer = await publish(target, build(3, '2026-11-23T00:00:00Z', true, arches));
      expect(newer.stale).toEqual([]);
      expect(allDigests(target.text())).toEqual([digest(300), digest(301), digest(302)]);
    });
  });

  it('without created on either side the platform is replaced without an age check, and the log says so', async () => {
    const target = memory(build(1, NEW));
    const logger = capturingLogger();
    const result = await publish(
      { source: () => target, text: () => target.text()! },
      build(2, undefined),
      logger,
    );
    expect(allDigests(target.text()!)).toEqual([digest(201)]);
    expect(result.stale).toEqual([]);
    expect(logger.of('info').join('\n')).toMatch(/no build time .*no age check: replaced/);
  });
});
