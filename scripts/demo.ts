// `npm run demo`: the race eol-gate exists for, then the gate, on a real registry.
//
// Two pipelines (debian, fedora) publish dotnet/runtime to one registry at once, on the same
// schedule twice: first with the gate off (`--coordinator none`), where fedora's annotate marks
// debian's brand-new image end-of-life; then with the gate on (markers in a fake GitHub API, the
// one the tests use), where it waits for debian and marks only orphans. `verify` finds the wrong
// mark of the first half and `--repair` removes it. Every step is the bundled CLI
// (dist/cli/index.cjs) against Debian's docker-registry on 127.0.0.1; all is removed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Descriptor } from '../src/core/oci.js';
import { silentLogger } from '../src/core/ports.js';
import { OciRegistry } from '../src/registry/oci/index.js';
import { startDockerRegistry, type DockerRegistry } from '../test/support/docker-registry.js';
import { FakeGitHub, type FakeRun } from '../test/support/fake-github.js';
import { lifecycleMarksByHttp } from '../test/support/registry-http.js';
import { pushImage } from '../test/support/seed.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(root, 'dist/cli/index.cjs');
const REPO = 'dotnet/runtime';
const GROUP = 'linux';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

type Os = 'debian' | 'fedora';
const PIPELINES: Os[] = ['debian', 'fedora'];
const TAG: Record<Os, string> = { debian: '8.0-bookworm-slim', fedora: '8.0-fedora' };
const OS_VERSION: Record<Os, string> = { debian: 'bookworm-slim', fedora: 'fedora41' };

interface Build {
  os: Os;
  /** `new`: pushed during the demo; `week`: supported when it starts; `month`: already an orphan. */
  age: 'new' | 'week' | 'month';
  created: string;
  digest: string;
}

const short = (digest: string) => digest.slice(0, 'sha256:'.length + 12);
const say = (line: string) => console.log(line);

/** One image-info platform per build: the format of dotnet's ImageBuilder. */
function imageInfo(builds: Build[]): string {
  return `${JSON.stringify(
    {
      schemaVersion: '2.0',
      repos: [
        {
          repo: REPO,
          images: builds.map((b) => ({
            productVersion: '8.0',
            platforms: [
              {
                dockerfile: `src/runtime/8.0/${OS_VERSION[b.os]}/amd64/Dockerfile`,
                simpleTags: [TAG[b.os]],
                digest: `mcr.microsoft.com/${REPO}@${b.digest}`,
                osType: 'Linux',
                osVersion: OS_VERSION[b.os],
                architecture: 'amd64',
                created: b.created,
              },
            ],
          })),
        },
      ],
    },
    null,
    2,
  )}\n`;
}

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where the CLI writes its plan files (TMPDIR): the demo's own temp dir, removed at the end. */
let cliTemp = tmpdir();

/** The bundled CLI, as a pipeline step runs it; `onLog` sees each log line (stderr) as it comes. */
function cli(
  args: string[],
  env: Record<string, string>,
  onLog?: (line: string) => void,
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args, '--json'], {
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', TMPDIR: cliTemp, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let pending = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLog?.(line);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** A step that must succeed; otherwise the demo stops with what the CLI said. */
async function step(args: string[], env: Record<string, string>, onLog?: (l: string) => void) {
  const run = await cli(args, env, onLog);
  if (run.code !== 0) {
    throw new Error(
      `eol-gate ${args[0]} exited ${run.code}:\n${run.stderr.trim()}\n${run.stdout.trim()}`,
    );
  }
  return JSON.parse(run.stdout) as Record<string, unknown>;
}

class Half {
  readonly builds: Build[] = [];
  readonly imageInfo: string;
  private readonly reg: OciRegistry;

  constructor(
    readonly prefix: string,
    private readonly registry: DockerRegistry,
    private readonly dir: string,
  ) {
    this.reg = new OciRegistry({ url: registry.url, logger: silentLogger });
    this.imageInfo = join(dir, `${prefix.replace('/', '')}-image-info.json`);
  }

  get repository() {
    return `${this.prefix}${REPO}`;
  }

  /** A build carries its floating tag (moved by newer builds) and a dated one (stays). */
  async push(os: Os, age: Build['age'], now: number): Promise<Build> {
    // Today's build was built 3 hours before it is pushed, as image factories do.
    const at = now - { new: 3 * HOUR, week: 7 * DAY, month: 30 * DAY }[age];
    const created = new Date(at).toISOString();
    const dated = `${TAG[os]}-${created.slice(0, 10).replace(/-/g, '')}`;
    const d: Descriptor = await pushImage(this.reg, this.repository, {
      seed: `${os}:${age}`,
      tag: dated,
      created,
    });
    const bytes = (await this.reg.getManifest(this.repository, d.digest))!.bytes;
    await this.reg.putManifest(this.repository, TAG[os], bytes, d.mediaType);
    const build = { os, age, created, digest: d.digest };
    this.builds.push(build);
    return build;
  }

  /** Last month's builds (orphans already) and last week's (what the image-info records). */
  async seed(now: number) {
    for (const os of PIPELINES) await this.push(os, 'month', now);
    const week = [];
    for (const os of PIPELINES) week.push(await this.push(os, 'week', now));
    await writeFile(this.imageInfo, imageInfo(week));
  }

  /** This pipeline's image-info (its new build), merged into the shared one by the CLI. */
  async publishImageInfo(build: Build, env: Record<string, string>, coordinator: string) {
    const fragment = join(this.dir, `${this.prefix.replace('/', '')}-${build.os}-fragment.json`);
    await writeFile(fragment, imageInfo([build]));
    await step(
      [
        'publish-image-info',
        '--image-info',
        this.imageInfo,
        '--fragment',
        fragment,
        '--coordinator',
        coordinator,
        '--group',
        GROUP,
      ],
      env,
    );
  }

  common(coordinator: string) {
    return [
      '--registry',
      this.registry.url,
      '--image-info',
      this.imageInfo,
      '--repo-prefix',
      this.prefix,
      '--coordinator',
      coordinator,
      '--group',
      GROUP,
    ];
  }

  /**
   * The gate alone: minAge (default 1h from first sight) would hold back this demo's just-pushed
   * builds, but only for its hour; the race outlives it whenever a publish is slower.
   */
  annotateArgs(coordinator: string) {
    return ['annotate', ...this.common(coordinator), '--min-age', '0'];
  }

  /** Which builds carry a lifecycle mark now, read from the registry. */
  async marked(): Promise<Build[]> {
    const out: Build[] = [];
    for (const b of this.builds)
      if ((await lifecycleMarksByHttp(this.registry.url, this.repository, b.digest)).length)
        out.push(b);
    return out;
  }
}

const describeBuild = (b: Build) => `${b.os}'s ${TAG[b.os]} ${short(b.digest)}`;
const isSupportedAtEnd = (b: Build) => b.age === 'new';

async function gateOff(half: Half, now: number) {
  say(`\n── gate off: --coordinator none, repositories under ${half.prefix} ──`);
  const debian = await half.push('debian', 'new', now);
  say(
    ` 1. debian  pushes ${TAG.debian} ${short(debian.digest)}; its image-info update comes later`,
  );
  const fedora = await half.push('fedora', 'new', now);
  say(` 2. fedora  pushes ${TAG.fedora} ${short(fedora.digest)}`);
  await half.publishImageInfo(fedora, {}, 'none');
  say(` 3. fedora  publish-image-info: the image-info records fedora's new build`);
  const result = await step(half.annotateArgs('none'), {});
  const marked = await half.marked();
  const wrong = marked.filter(isSupportedAtEnd);
  say(
    ` 4. fedora  annotate: marks ${(result.counts as { annotated: number }).annotated} digest(s) end-of-life, among them ${wrong.map(describeBuild).join(', ') || 'nothing supported'}`,
  );
  await half.publishImageInfo(debian, {}, 'none');
  say(
    ` 5. debian  publish-image-info: ${TAG.debian} ${short(debian.digest)} is now supported and marked end-of-life: scanners skip it`,
  );
  return { marked, wrong };
}

async function gateOn(half: Half, now: number, github: FakeGitHub) {
  say(`\n── gate on: markers in a (fake) GitHub API, repositories under ${half.prefix} ──`);
  const runs = {} as Record<Os, { run: FakeRun; env: Record<string, string> }>;
  for (const os of PIPELINES) {
    const run = github.createRun({ name: `publish-${os}` });
    const job = github.createJob({ run_id: run.id, name: `publish ${os}` });
    runs[os] = {
      run,
      env: {
        GITHUB_ACTIONS: 'true',
        GITHUB_API_URL: github.apiUrl,
        GITHUB_REPOSITORY: `${github.owner}/${github.repo}`,
        GITHUB_RUN_ID: String(run.id),
        GITHUB_RUN_ATTEMPT: '1',
        GITHUB_SHA: github.headSha,
        GITHUB_TOKEN: github.token,
        EOL_GATE_JOB_ID: String(job.id),
      },
    };
  }
  const signal = (os: Os) =>
    step(
      ['signal', '--state', 'publishing', '--coordinator', 'github', '--group', GROUP],
      runs[os].env,
    );

  await signal('debian');
  const debian = await half.push('debian', 'new', now);
  say(
    ` 1. debian  signal publishing (run ${runs.debian.run.id}), pushes ${TAG.debian} ${short(debian.digest)}`,
  );
  await signal('fedora');
  const fedora = await half.push('fedora', 'new', now);
  say(
    ` 2. fedora  signal publishing (run ${runs.fedora.run.id}), pushes ${TAG.fedora} ${short(fedora.digest)}`,
  );
  await half.publishImageInfo(fedora, runs.fedora.env, 'github');
  say(` 3. fedora  publish-image-info: records fedora's new build, signals image-info-updated`);

  // fedora's annotate starts; debian records its build only once annotate is seen waiting for it.
  let sawWait!: () => void;
  const waiting = new Promise<void>((resolve) => (sawWait = resolve));
  const started = Date.now();
  const annotate = step(
    [...half.annotateArgs('github'), '--poll-interval', '200ms', '--timeout', '60s'],
    runs.fedora.env,
    (line) => {
      if (/waiting/i.test(line) && line.includes(String(runs.debian.run.id))) sawWait();
    },
  );
  const first = await Promise.race([waiting.then(() => 'waiting' as const), annotate]);
  if (first !== 'waiting') throw new Error('fedora annotate finished without waiting for debian');
  say(` 4. fedora  annotate: waits, debian's run ${runs.debian.run.id} is publishing`);
  await half.publishImageInfo(debian, runs.debian.env, 'github');
  say(` 5. debian  publish-image-info: records its new build, signals image-info-updated`);
  const result = await annotate;
  const marked = await half.marked();
  const wrong = marked.filter(isSupportedAtEnd);
  say(
    ` 6. fedora  annotate: after ${((Date.now() - started) / 1000).toFixed(1)}s, re-reads the image-info and marks ${(result.counts as { annotated: number }).annotated} orphan(s); supported ones marked: ${wrong.length}`,
  );
  for (const os of PIPELINES) github.complete(runs[os].run.id);
  return { marked, wrong };
}

async function repair(half: Half) {
  say(`\n── repair the gate-off half ──`);
  const found = await cli(['verify', ...half.common('none')], {});
  const findings = (JSON.parse(found.stdout).findings ?? []) as { digest: string }[];
  const names = findings.map((f) => {
    const b = half.builds.find((x) => x.digest === f.digest);
    return b ? describeBuild(b) : short(f.digest);
  });
  say(
    ` verify           exit ${found.code}: ${findings.length} supported digest(s) marked end-of-life: ${names.join(', ')}`,
  );
  const repaired = await cli(['verify', ...half.common('none'), '--repair'], {});
  say(
    ` verify --repair  exit ${repaired.code}: removed ${JSON.parse(repaired.stdout).repaired ?? '?'} mark(s)`,
  );
  const again = await cli(['verify', ...half.common('none')], {});
  say(` verify           exit ${again.code}: no supported digest is marked`);
  return { found: findings.length, remaining: (await half.marked()).filter(isSupportedAtEnd) };
}

async function main() {
  if (!existsSync(CLI)) {
    say('dist/cli/index.cjs is missing: building it (npm run build)');
    const built = spawnSync(process.execPath, ['scripts/build.mjs'], {
      cwd: root,
      stdio: 'inherit',
    });
    if (built.status !== 0) process.exit(1);
  }
  const dir = await mkdtemp(join(tmpdir(), 'eol-gate-demo-'));
  cliTemp = dir;
  let registry: DockerRegistry | undefined;
  let github: FakeGitHub | undefined;
  const cleanup = async () => {
    await registry?.stop();
    await github?.close();
    await rm(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
  try {
    registry = await startDockerRegistry();
    github = await new FakeGitHub().start();
    const now = Date.now();
    const off = new Half('gate-off/', registry, dir);
    const on = new Half('gate-on/', registry, dir);
    await off.seed(now);
    await on.seed(now);
    say(
      'eol-gate demo: debian and fedora pipelines publish dotnet/runtime to one registry at once.',
    );
    say(
      `registry: docker-registry at ${registry.url}; markers: fake GitHub API at ${github.apiUrl}`,
    );
    say(
      "each half starts alike: last week's builds (in the image-info) and last month's (orphans) of both",
    );

    const a = await gateOff(off, now);
    const b = await gateOn(on, now, github);
    const r = await repair(off);

    const orphans = (h: Half) => h.builds.filter((x) => !isSupportedAtEnd(x)).length;
    const row = (label: string, left: string, right: string) =>
      say(`${label.padEnd(36)}${left.padEnd(32)}${right}`);
    const names = (builds: Build[]) => builds.map((x) => `${x.os} ${TAG[x.os]}`).join(', ');
    say('\n── outcome ──');
    row('', 'gate off', 'gate on');
    row(
      'supported images marked EOL',
      a.wrong.length ? `${a.wrong.length} (${names(a.wrong)})` : '0',
      b.wrong.length ? `${b.wrong.length} (${names(b.wrong)})` : '0',
    );
    row(
      'orphans marked EOL',
      `${a.marked.length - a.wrong.length} of ${orphans(off)}`,
      `${b.marked.length - b.wrong.length} of ${orphans(on)}`,
    );
    row('wrong marks: found / after repair', `${r.found} / ${r.remaining.length}`, '0 / 0');
    const ok = a.wrong.length > 0 && b.wrong.length === 0 && r.remaining.length === 0;
    say(
      ok
        ? '\nthe race marks a supported image without the gate, never with it; verify --repair undoes it'
        : '\ndemo: the outcome is not what eol-gate promises (see above)',
    );
    process.exitCode = ok ? 0 : 1;
  } finally {
    await cleanup();
  }
}

await main().catch((e) => {
  console.error(`demo failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
