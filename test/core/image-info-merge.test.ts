import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors.js';
import { parseImageInfo } from '../../src/core/image-info.js';
import {
  describeStale,
  emptyImageInfo,
  formatImageInfo,
  mergeImageInfo,
  validateFragment,
} from '../../src/core/image-info-merge.js';
import { buildTime, compareTimes } from '../../src/core/image-info-time.js';

const SAMPLES = join(import.meta.dirname, '../fixtures/image-info');
const sample = (name: string) => readFileSync(join(SAMPLES, name), 'utf8');
const DOCKER = sample('dotnet-docker-main.json');
const PREREQS = sample('buildtools-prereqs-main.json');
const PREREQS_OLD = sample('buildtools-prereqs-main.2023-12-01.json');

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form JSON of real files
type Json = Record<string, any>;
const parse = (text: string) => JSON.parse(text) as Json;
const target = (text: string, name = 'target.json') => ({ text, name });
const fragment = (doc: Json | string, name = 'fragment.json') => ({
  text: typeof doc === 'string' ? doc : formatImageInfo(doc),
  name,
});

function digests(text: string): string[] {
  const doc = parse(text);
  return doc.repos.flatMap((r: Json) =>
    (r.images ?? []).flatMap((i: Json) => [
      ...(i.platforms ?? []).map((p: Json) => p.digest),
      ...(i.manifest ? [i.manifest.digest] : []),
    ]),
  );
}

function platformCount(text: string): number {
  return parse(text).repos.reduce(
    (n: number, r: Json) =>
      n + (r.images ?? []).reduce((m: number, i: Json) => m + (i.platforms?.length ?? 0), 0),
    0,
  );
}

/** One image of a sample as a fragment of its own. */
function imageFragment(
  text: string,
  repo: string,
  pick: (image: Json) => boolean,
  edit: (image: Json) => void = () => {},
): Json {
  const doc = parse(text);
  const image = structuredClone(doc.repos.find((r: Json) => r.repo === repo).images.find(pick));
  edit(image);
  return { schemaVersion: '2.0', repos: [{ repo, images: [image] }] };
}

const newDigest = (old: string, salt: string) =>
  `${old.split('@')[0]}@sha256:${Buffer.from(salt).toString('hex').padEnd(64, '0').slice(0, 64)}`;

describe('mergeImageInfo on real image-info', () => {
  it('merging a file into itself changes nothing, byte for byte', () => {
    for (const text of [DOCKER, PREREQS, PREREQS_OLD]) {
      const r = mergeImageInfo(target(text), fragment(text));
      expect(r.changed).toBe(false);
      expect(r.text).toBe(text);
      expect(r.stats.added).toBe(0);
      expect(r.stats.unchanged).toBe(platformCount(text));
    }
  });

  it('rebuilds dotnet-docker from per-pipeline fragments (create, then merge in turn)', () => {
    const doc = parse(DOCKER);
    const parts = [doc.repos.slice(0, 3), doc.repos.slice(3, 5), doc.repos.slice(5)].map(
      (repos) => ({ schemaVersion: '2.0', repos }),
    );
    let text: string | undefined;
    for (const [i, part] of parts.entries()) {
      const r = mergeImageInfo(
        text === undefined ? undefined : target(text),
        fragment(part, `part-${i}.json`),
      );
      expect(r.changed).toBe(true);
      text = r.text;
    }
    expect(text).toBe(DOCKER);
  });

  it('a patch release replaces the platform in place (new productVersion, floating tag kept)', () => {
    const frag = imageFragment(
      DOCKER,
      'dotnet/aspnet',
      (i) =>
        i.productVersion === '10.0.11' &&
        i.platforms[0].dockerfile === 'src/aspnet/10.0/alpine3.23-composite/amd64/Dockerfile',
      (image) => {
        image.productVersion = '10.0.12';
        image.manifest.digest = newDigest(image.manifest.digest, 'manifest 10.0.12');
        image.manifest.sharedTags = image.manifest.sharedTags.map((t: string) =>
          t.replace('10.0.11', '10.0.12'),
        );
        for (const p of image.platforms) {
          p.digest = newDigest(p.digest, `${p.architecture} 10.0.12`);
          p.simpleTags = p.simpleTags.map((t: string) => t.replace('10.0.11', '10.0.12'));
        }
      },
    );
    const r = mergeImageInfo(target(DOCKER), fragment(frag));
    expect(r.stats).toMatchObject({ added: 0, replaced: 3, removed: 0, manifests: 1 });
    expect(platformCount(r.text)).toBe(platformCount(DOCKER));
    const merged = parse(r.text).repos.find((x: Json) => x.repo === 'dotnet/aspnet');
    const image = merged.images.find(
      (i: Json) =>
        i.platforms[0].dockerfile === 'src/aspnet/10.0/alpine3.23-composite/amd64/Dockerfile',
    );
    expect(image.productVersion).toBe('10.0.12');
    expect(image.manifest).toEqual(frag.repos[0].images[0].manifest);
    expect(image.platforms).toEqual(frag.repos[0].images[0].platforms);
    // Tags are replaced, not unioned: the old patch tag left with the old digest.
    expect(image.platforms[0].simpleTags.some((t: string) => t.includes('10.0.11'))).toBe(false);
  });

  it('one Dockerfile built into several images (prereqs net8.0/9.0/10.0/11.0) stays several images', () => {
    const dockerfile = 'src/azurelinux/3.0/net8.0/source-build-test/amd64/Dockerfile';
    const before = parse(PREREQS).repos[0].images.filter((i: Json) =>
      i.platforms.some((p: Json) => p.dockerfile === dockerfile),
    ).length;
    expect(before).toBe(4);

    // A new image from the same Dockerfile (new productVersion, tags in common with none): added.
    const added = imageFragment(
      PREREQS,
      'dotnet-buildtools/prereqs',
      (i) => i.productVersion === '9.0' && i.platforms[0].dockerfile === dockerfile,
      (image) => {
        image.productVersion = '12.0';
        image.platforms[0].digest = newDigest(image.platforms[0].digest, 'net12');
        image.platforms[0].simpleTags = ['azurelinux-3.0-net12.0-source-build-test-amd64'];
      },
    );
    const r1 = mergeImageInfo(target(PREREQS), fragment(added));
    expect(r1.stats).toMatchObject({ added: 1, replaced: 0 });
    expect(digests(r1.text)).toEqual(expect.arrayContaining(digests(PREREQS)));

    // A rebuild of the net9.0 image: replaces exactly that one.
    const rebuilt = imageFragment(
      PREREQS,
      'dotnet-buildtools/prereqs',
      (i) => i.productVersion === '9.0' && i.platforms[0].dockerfile === dockerfile,
      (image) => {
        image.platforms[0].digest = newDigest(image.platforms[0].digest, 'net9 rebuild');
      },
    );
    const r2 = mergeImageInfo(target(PREREQS), fragment(rebuilt));
    expect(r2.stats).toMatchObject({ added: 0, replaced: 1 });
    const after = new Set(digests(r2.text));
    const lost = digests(PREREQS).filter((d) => !after.has(d));
    expect(lost).toHaveLength(1); // only the rebuilt platform's old digest
    expect(
      parse(PREREQS).repos[0].images.find(
        (i: Json) => i.productVersion === '9.0' && i.platforms[0].dockerfile === dockerfile,
      ).platforms[0].digest,
    ).toBe(lost[0]);
  });

  it("a fragment with one rebuilt platform and no manifest keeps the image's other platforms and manifest list", () => {
    const frag = imageFragment(
      DOCKER,
      'dotnet/runtime',
      (i) => i.platforms.length === 3 && !!i.manifest,
      (image) => {
        image.platforms = [image.platforms[1]];
        image.platforms[0].digest = newDigest(image.platforms[0].digest, 'arm rebuild');
        delete image.manifest;
      },
    );
    const r = mergeImageInfo(target(DOCKER), fragment(frag));
    expect(r.stats).toMatchObject({ added: 0, replaced: 1, manifests: 0 });
    const after = new Set(digests(r.text));
    const lost = digests(DOCKER).filter((d) => !after.has(d));
    expect(lost).toHaveLength(1);
  });

  it("the 2023 prereqs file plus today's as a fragment: every current digest present, nothing unmentioned removed", () => {
    const r = mergeImageInfo(
      target(PREREQS_OLD, 'buildtools-prereqs-main.2023-12-01.json'),
      fragment(PREREQS, 'buildtools-prereqs-main.json'),
    );
    expect(r.changed).toBe(true);
    expect(() => parseImageInfo(r.text, 'merged')).not.toThrow();
    const out = new Set(digests(r.text));
    for (const d of digests(PREREQS)) expect(out.has(d)).toBe(true);
    // Each old platform either survives or was replaced by the same platform of today's file.
    expect(r.stats.added + r.stats.replaced + r.stats.unchanged).toBe(platformCount(PREREQS));
    expect(platformCount(r.text)).toBe(platformCount(PREREQS_OLD) + r.stats.added);
    // Idempotent: merging the same fragment again is a no-op (what a retry after a conflict does).
    const again = mergeImageInfo(target(r.text), fragment(PREREQS, 'buildtools-prereqs-main.json'));
    expect(again.changed).toBe(false);
    expect(again.text).toBe(r.text);
  });

  it('adds a new repo, keeps unknown fields of the target and writes stable JSON', () => {
    const base = parse(PREREQS_OLD);
    base.publishedBy = 'pipeline 42';
    base.repos[0].images[0].platforms[0].custom = { keep: true };
    const frag = imageFragment(DOCKER, 'dotnet/monitor', () => true);
    const r = mergeImageInfo(target(formatImageInfo(base)), fragment(frag));
    const out = parse(r.text);
    expect(out.publishedBy).toBe('pipeline 42');
    expect(out.repos[0].images[0].platforms[0].custom).toEqual({ keep: true });
    expect(out.repos.map((x: Json) => x.repo)).toEqual([
      'dotnet-buildtools/prereqs',
      'dotnet/monitor',
    ]);
    expect(r.text).toBe(`${JSON.stringify(out, null, 2)}\n`);
  });
});

describe('removal list', () => {
  const df = 'src/runtime/10.0/alpine3.23/amd64/Dockerfile';
  const docWith = (removed: unknown, repos: Json[] = []) => ({
    schemaVersion: '2.0',
    repos,
    removed,
  });

  it('removes the platforms a selector names, and an image left empty with its manifest list', () => {
    const r = mergeImageInfo(
      target(DOCKER),
      fragment(docWith([{ repo: 'dotnet/runtime', dockerfile: df }])),
    );
    expect(r.stats.removed).toBe(1);
    const image = parse(r.text)
      .repos.find((x: Json) => x.repo === 'dotnet/runtime')
      .images.find((i: Json) => i.platforms.some((p: Json) => p.dockerfile === df));
    expect(image).toBeUndefined(); // the platform is gone...
    const frag = imageFragment(DOCKER, 'dotnet/runtime', (i) =>
      i.platforms.some((p: Json) => p.dockerfile === df),
    );
    const all = frag.repos[0].images[0];
    // ...and the image's other platforms stayed
    const out = digests(r.text);
    for (const p of all.platforms.filter((p: Json) => p.dockerfile !== df))
      expect(out).toContain(p.digest);

    const whole = all.platforms.map((p: Json) => ({
      repo: 'dotnet/runtime',
      dockerfile: p.dockerfile,
    }));
    const r2 = mergeImageInfo(target(DOCKER), fragment(docWith(whole)));
    expect(digests(r2.text)).not.toContain(all.manifest.digest);
  });

  it('removes a whole image by its manifest-list digest (with or without registry prefix), removed list never written', () => {
    const frag = imageFragment(DOCKER, 'dotnet/sdk', (i) => !!i.manifest);
    const manifest = frag.repos[0].images[0].manifest.digest as string;
    for (const digest of [manifest, manifest.split('@')[1]]) {
      const r = mergeImageInfo(target(DOCKER), fragment(docWith([{ repo: 'dotnet/sdk', digest }])));
      expect(digests(r.text)).not.toContain(manifest);
      expect(r.stats.removed).toBe(frag.repos[0].images[0].platforms.length);
      expect(parse(r.text).removed).toBeUndefined();
    }
  });

  it('a selector that matches nothing is a no-op (merges are re-run after conflicts)', () => {
    const r = mergeImageInfo(
      target(DOCKER),
      fragment(docWith([{ repo: 'dotnet/runtime', dockerfile: 'src/nope/Dockerfile' }])),
    );
    expect(r.changed).toBe(false);
  });

  it('removal first, then the fragment: an entry both removed and published ends up as published', () => {
    const frag = imageFragment(DOCKER, 'dotnet/runtime', (i) =>
      i.platforms.some((p: Json) => p.dockerfile === df),
    );
    const r = mergeImageInfo(
      target(DOCKER),
      fragment({ ...frag, removed: [{ repo: 'dotnet/runtime', dockerfile: df }] }),
    );
    expect(new Set(digests(r.text))).toEqual(new Set(digests(DOCKER)));
  });

  it.each([
    [{ removed: {} }, 'removed: expected an array'],
    [{ removed: [{ dockerfile: df }] }, 'removed[0].repo: missing repo'],
    [{ removed: [{ repo: 'dotnet/runtime' }] }, 'removed[0]: needs dockerfile or digest'],
    [
      { removed: [{ repo: 'dotnet/runtime', dockerFile: df }] },
      'removed[0].dockerFile: unknown field',
    ],
    [
      { removed: [{ repo: 'dotnet/runtime', dockerfile: '' }] },
      'removed[0].dockerfile: expected a non-empty string',
    ],
  ])('rejects a bad removal list %j', (extra, message) => {
    const frag = fragment({ schemaVersion: '2.0', repos: [], ...extra }, 'run-7/image-info.json');
    expect(() => validateFragment(frag)).toThrow(InputError);
    expect(() => mergeImageInfo(target(DOCKER), frag)).toThrow(`run-7/image-info.json: ${message}`);
  });
});

describe('bad input', () => {
  it('names the file and the JSON path of a bad fragment or target', () => {
    const bad = parse(PREREQS_OLD);
    bad.repos[0].images[3].platforms[0].digest = 'sha256:nothex';
    expect(() => mergeImageInfo(target(DOCKER), fragment(bad, 'frag.json'))).toThrow(
      /^frag\.json: repos\[0\]\.images\[3\]\.platforms\[0\]\.digest: /,
    );
    expect(() =>
      mergeImageInfo(target(formatImageInfo(bad), 'shared.json'), fragment(PREREQS_OLD)),
    ).toThrow(/^shared\.json: repos\[0\]\.images\[3\]\.platforms\[0\]\.digest: /);
    expect(() =>
      mergeImageInfo(target(DOCKER), fragment('{"schemaVersion": "2.0", "repos": [', 'torn.json')),
    ).toThrow(/^torn\.json: not valid JSON/);
    expect(() =>
      mergeImageInfo(target(DOCKER), fragment({ schemaVersion: '9', repos: [] }, 'v9.json')),
    ).toThrow(/^v9\.json: schemaVersion: unsupported/);
  });

  it("creates from nothing with the fragment's schemaVersion", () => {
    expect(mergeImageInfo(undefined, fragment({ schemaVersion: '2.0', repos: [] })).text).toBe(
      emptyImageInfo('2.0'),
    );
  });
});

/** A platform never moves to an older build; a manifest-list image follows its platforms. */
describe('build times (monotonic per platform)', () => {
  const isComposite = (i: Json) =>
    i.productVersion === '10.0.11' &&
    i.platforms[0].dockerfile === 'src/aspnet/10.0/alpine3.23-composite/amd64/Dockerfile';
  /** The real 3-platform aspnet image rebuilt at `created` (new digests), optionally a patch release. */
  const rebuilt = (created: string | ((p: Json) => string | undefined), salt: string) =>
    imageFragment(DOCKER, 'dotnet/aspnet', isComposite, (image) => {
      image.manifest.digest = newDigest(image.manifest.digest, `manifest ${salt}`);
      for (const p of image.platforms) {
        p.digest = newDigest(p.digest, `${p.architecture} ${salt}`);
        const c = typeof created === 'string' ? created : created(p);
        if (c === undefined) delete p.created;
        else p.created = c;
      }
    });
  const compositeImage = (text: string) =>
    parse(text)
      .repos.find((r: Json) => r.repo === 'dotnet/aspnet')
      .images.find((i: Json) =>
        i.platforms[0].dockerfile.endsWith('alpine3.23-composite/amd64/Dockerfile'),
      );
  const original = compositeImage(DOCKER);

  it('an older build of every platform is not merged: the target is unchanged and each entry reported', () => {
    const r = mergeImageInfo(
      target(DOCKER),
      fragment(rebuilt('2020-01-01T00:00:00.0000000Z', 'old')),
    );
    expect(r.changed).toBe(false);
    expect(r.text).toBe(DOCKER);
    expect(r.stats).toMatchObject({ replaced: 0, stale: 4, manifests: 0 });
    expect(r.stale.map((s) => s.kind)).toEqual([
      'platform',
      'platform',
      'platform',
      'manifest-list',
    ]);
    const [amd64] = r.stale;
    expect(amd64).toEqual({
      kind: 'platform',
      repo: 'dotnet/aspnet',
      dockerfile: original.platforms[0].dockerfile,
      osType: 'Linux',
      osVersion: 'alpine3.23',
      architecture: 'amd64',
      tags: original.platforms[0].simpleTags,
      kept: { digest: original.platforms[0].digest, created: original.platforms[0].created },
      stale: {
        digest: expect.not.stringMatching(original.platforms[0].digest),
        created: '2020-01-01T00:00:00.0000000Z',
      },
    });
    const newestOriginal = original.platforms
      .map((p: Json) => p.created)
      .sort()
      .at(-1);
    expect(r.stale[3]).toMatchObject({
      kind: 'manifest-list',
      tags: original.manifest.sharedTags,
      kept: { digest: original.manifest.digest, created: newestOriginal },
      stale: { created: '2020-01-01T00:00:00.0000000Z' },
    });
    expect(describeStale(amd64)).toMatch(
      /^dotnet\/aspnet src\/aspnet\/10\.0\/alpine3\.23-composite\/amd64\/Dockerfile \(Linux alpine3\.23 amd64\): kept .*@sha256:\w+ \(built 2026-.*\); not merged .* \(built 2020-01-01T00:00:00\.0000000Z, older\)$/,
    );
  });

  it('a newer build replaces every platform and the manifest list; equal times replace too', () => {
    for (const created of ['2030-01-01T00:00:00Z', (p: Json) => p.created as string]) {
      const frag = rebuilt(created, `again ${typeof created}`);
      const r = mergeImageInfo(target(DOCKER), fragment(frag));
      expect(r.stale).toEqual([]);
      expect(r.stats).toMatchObject({ replaced: 3, manifests: 1, stale: 0 });
      expect(compositeImage(r.text).manifest).toEqual(frag.repos[0].images[0].manifest);
    }
  });

  it('mixed: newer platforms replace, older ones stay; the manifest list follows the newest platform', () => {
    // amd64 rebuilt later, arm32/arm64 from a stale run: the image is newer, so its manifest list is
    // the fragment's (whose children include the kept older platforms' stale twins, still reachable).
    const frag = rebuilt(
      (p) => (p.architecture === 'amd64' ? '2030-01-01T00:00:00Z' : '2001-01-01T00:00:00Z'),
      'mixed',
    );
    const r = mergeImageInfo(target(DOCKER), fragment(frag));
    expect(r.stats).toMatchObject({ replaced: 1, stale: 2, manifests: 1 });
    const image = compositeImage(r.text);
    expect(image.platforms[0]).toEqual(frag.repos[0].images[0].platforms[0]);
    expect(image.platforms.slice(1)).toEqual(original.platforms.slice(1));
    expect(image.manifest).toEqual(frag.repos[0].images[0].manifest);
  });

  it('an older image changes no image field (productVersion stays), a new platform is still added', () => {
    const frag = rebuilt('2001-01-01T00:00:00Z', 'old patch');
    const image = frag.repos[0].images[0];
    image.productVersion = '10.0.10';
    image.platforms.push({
      ...structuredClone(image.platforms[0]),
      architecture: 's390x',
      dockerfile: 'src/s390x/Dockerfile',
    });
    const r = mergeImageInfo(target(DOCKER), fragment(frag));
    const after = compositeImage(r.text);
    expect(after.productVersion).toBe('10.0.11');
    expect(after.manifest).toEqual(original.manifest);
    expect(after.platforms.map((p: Json) => p.architecture)).toEqual([
      ...original.platforms.map((p: Json) => p.architecture),
      's390x',
    ]);
    expect(r.stats).toMatchObject({ added: 1, stale: 4 });
  });

  it('times compare exactly (7 fractional digits, offsets), not at millisecond precision', () => {
    const at = (created: string) =>
      rebuilt((p) => (p.architecture === 'amd64' ? created : p.created), created);
    const amd64 = (r: ReturnType<typeof mergeImageInfo>) =>
      r.stale.filter((s) => s.architecture === 'amd64').length;
    const m = /^(.*)\.(\d{7})Z$/.exec(original.platforms[0].created as string)!;
    expect(BigInt(m[2])).toBeGreaterThan(0n);
    // 100 ns older: the same millisecond, still older.
    const older = `${m[1]}.${(BigInt(m[2]) - 1n).toString().padStart(7, '0')}Z`;
    expect(Date.parse(older)).toBe(Date.parse(original.platforms[0].created));
    expect(amd64(mergeImageInfo(target(DOCKER), fragment(at(older))))).toBe(1);
    // The same instant written with an offset: equal, so replaced.
    const hour = Number(m[1].slice(11, 13));
    const shifted = `${m[1].slice(0, 11)}${String(hour + 2).padStart(2, '0')}${m[1].slice(13)}.${m[2]}+02:00`;
    expect(hour).toBeLessThan(22);
    const equal = mergeImageInfo(target(DOCKER), fragment(at(shifted)));
    expect(amd64(equal)).toBe(0);
    expect(compositeImage(equal.text).platforms[0].created).toBe(shifted);
  });

  it('without created on a side the entry is replaced without an age check, and the result says which side', () => {
    const r = mergeImageInfo(target(DOCKER), fragment(rebuilt(() => undefined, 'untimed')));
    expect(r.stale).toEqual([]);
    expect(r.stats).toMatchObject({ replaced: 3, manifests: 1 });
    expect(r.untimed.map((u) => [u.kind, u.missingIn])).toEqual([
      ['platform', 'fragment'],
      ['platform', 'fragment'],
      ['platform', 'fragment'],
      ['manifest-list', 'fragment'],
    ]);
    expect(r.untimed[0].entry).toBe(
      `dotnet/aspnet ${original.platforms[0].dockerfile} (Linux alpine3.23 amd64)`,
    );
  });

  it('a created that is not an ISO time fails validation naming the JSON path', () => {
    const frag = rebuilt('yesterday', 'bad');
    expect(() => validateFragment(fragment(frag, 'run.json'))).toThrow(
      /^run\.json: repos\[0\]\.images\[0\]\.platforms\[0\]\.created: expected an ISO 8601 time/,
    );
  });

  it('buildTime reads 1–9 fractional digits and offsets exactly; compareTimes orders them', () => {
    const t = (s: string) => buildTime(s)!;
    expect(
      compareTimes(t('2026-11-20T10:00:00.1234567Z'), t('2026-11-20T10:00:00.1234568Z')),
    ).toBeLessThan(0);
    expect(compareTimes(t('2026-11-20T10:00:00.5Z'), t('2026-11-20T10:00:00.5000000Z'))).toBe(0);
    expect(compareTimes(t('2026-11-20T12:00:00+02:00'), t('2026-11-20T10:00:00Z'))).toBe(0);
    expect(
      compareTimes(t('2026-11-22T00:00:00Z'), t('2026-11-20T23:59:59.9999999Z')),
    ).toBeGreaterThan(0);
    for (const bad of ['2026-11-20', '2026-13-40T00:00:00Z', 'soon', '2026-11-20T10:00:00'])
      expect(buildTime(bad), bad).toBeUndefined();
  });
});
