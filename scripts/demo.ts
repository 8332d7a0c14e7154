// `npm run demo`: a local registry seeded from a real image-info, a dry run, a real annotate,
// then verify. Everything runs on 127.0.0.1 and is removed at the end.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Descriptor } from '../src/core/oci.js';
import { OciRegistry } from '../src/registry/oci/index.js';
import { startDockerRegistry } from '../test/support/docker-registry.js';
import { pushImage, pushIndex } from '../test/support/seed.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const SAMPLE = join(root, 'examples/data/image-info.sample.json');
const PREFIX = 'public/';

interface Platform {
  digest: string;
  simpleTags?: string[];
  architecture?: string;
  created?: string;
  dockerfile?: string;
}
interface Image {
  manifest?: { digest: string; sharedTags?: string[]; created?: string };
  platforms: Platform[];
}
interface ImageInfoDoc {
  schemaVersion: string;
  repos: { repo: string; images?: Image[] }[];
}

async function main() {
  let registry;
  try {
    registry = await startDockerRegistry();
  } catch (e) {
    console.error(`${(e as Error).message}`);
    process.exit(1);
  }
  const dir = await mkdtemp(join(tmpdir(), 'eol-gate-demo-'));
  try {
    const reg = new OciRegistry({ url: registry.url });
    const doc = JSON.parse(await readFile(SAMPLE, 'utf8')) as ImageInfoDoc;
    console.log(`registry: ${registry.url} (docker-registry, storage in a temp dir)`);
    console.log(
      `seeding from ${SAMPLE}: two builds of every image; the image-info records the newer one`,
    );
    let pushed = 0;
    for (const repo of doc.repos) {
      const target = PREFIX + repo.repo;
      for (const image of repo.images ?? []) {
        // The previous build carries dated tags (as image factories push them); it is orphaned.
        await pushBuild(reg, target, image, '2026-05-01T00:00:00Z', (t) => `${t}-20260501`);
        const current = await pushBuild(
          reg,
          target,
          image,
          image.platforms[0]?.created ?? '2026-08-13T00:00:00Z',
          (t) => t,
        );
        image.platforms.forEach(
          (p, i) => (p.digest = `mcr.microsoft.com/${repo.repo}@${current.platforms[i].digest}`),
        );
        if (image.manifest && current.index)
          image.manifest.digest = `mcr.microsoft.com/${repo.repo}@${current.index.digest}`;
        pushed += 2 * (image.platforms.length + (image.manifest ? 1 : 0));
      }
    }
    // A build pushed a minute ago by a pipeline that has not written image-info yet: minAge keeps it safe.
    await pushImage(reg, `${PREFIX}dotnet/monitor`, {
      seed: 'fresh',
      tag: '11.0-preview-amd64',
      created: new Date(Date.now() - 60_000).toISOString(),
    });
    pushed++;
    const imageInfo = join(dir, 'image-info.json');
    await writeFile(imageInfo, JSON.stringify(doc, null, 2));
    console.log(`pushed ${pushed} manifests; image-info: ${imageInfo}\n`);

    const cli = (title: string, args: string[]) =>
      new Promise<number>((resolve) => {
        console.log(`\n$ eol-gate ${args.join(' ')}`);
        console.log(`# ${title}`);
        const child = spawn(process.execPath, [join(root, 'dist/cli/index.cjs'), ...args], {
          stdio: 'inherit',
        });
        child.on('close', (code) => resolve(code ?? 1));
      });
    const common = [
      '--registry',
      registry.url,
      '--image-info',
      imageInfo,
      '--repo-prefix',
      PREFIX,
      '--coordinator',
      'none',
    ];
    let failed = 0;
    failed += await cli('dry run: the plan, nothing written', [
      'annotate',
      ...common,
      '--dry-run',
      '--plan-file',
      join(dir, 'plan.json'),
    ]);
    failed += await cli('annotate for real', ['annotate', ...common]);
    failed += await cli('run again: nothing left to do', ['annotate', ...common]);
    failed += await cli('verify: no supported digest carries a mark', ['verify', ...common]);
    console.log(
      failed === 0 ? '\ndemo finished: every step succeeded' : '\ndemo: a step failed (see above)',
    );
    process.exitCode = failed === 0 ? 0 : 1;
  } finally {
    await registry.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function pushBuild(
  reg: OciRegistry,
  repo: string,
  image: Image,
  created: string,
  tag: (t: string) => string,
) {
  const platforms: Descriptor[] = [];
  for (const p of image.platforms) {
    const tags = p.simpleTags ?? [];
    const d = await pushImage(reg, repo, {
      seed: `${repo}:${p.dockerfile}:${created}`,
      tag: tags[0] ? tag(tags[0]) : undefined,
      created,
      architecture: p.architecture,
    });
    for (const t of tags.slice(1))
      await reg.putManifest(
        repo,
        tag(t),
        (await reg.getManifest(repo, d.digest))!.bytes,
        d.mediaType,
      );
    platforms.push(d);
  }
  let index: Descriptor | undefined;
  if (image.manifest) {
    const [first, ...rest] = image.manifest.sharedTags ?? [];
    index = await pushIndex(reg, repo, platforms, first ? tag(first) : undefined);
    for (const t of rest)
      await reg.putManifest(
        repo,
        tag(t),
        (await reg.getManifest(repo, index.digest))!.bytes,
        index.mediaType,
      );
  }
  return { platforms, index };
}

await main();
