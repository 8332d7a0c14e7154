import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { crc32, inflateSync } from 'node:zlib';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  COMMANDS,
  INPUTS,
  OUTPUTS,
  inputsFor,
  kindOf,
  type HostName,
  type InputSpec,
} from '../../src/platform/inputs.js';

/** action.yml and task.json declare exactly what src/platform/inputs.ts lists, and agree with each other. */
const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

interface ActionInput {
  description: string;
  required?: boolean;
  default?: string;
}
interface TaskInput {
  name: string;
  type: string;
  label: string;
  defaultValue: string;
  required: boolean;
  groupName?: string;
  helpMarkDown: string;
  visibleRule?: string;
  options?: Record<string, string>;
}

const action = parse(read('action.yml')) as {
  name: string;
  description: string;
  branding: { icon: string; color: string };
  inputs: Record<string, ActionInput>;
  outputs: Record<string, { description: string }>;
  runs: { using: string; main: string };
};
const task = JSON.parse(read('task.json')) as {
  id: string;
  name: string;
  friendlyName: string;
  category: string;
  version: { Major: number; Minor: number; Patch: number };
  instanceNameFormat: string;
  minimumAgentVersion: string;
  groups: { name: string; displayName: string }[];
  inputs: TaskInput[];
  outputVariables: { name: string; description: string }[];
  execution: Record<string, { target: string }>;
};
const pkg = JSON.parse(read('package.json')) as { version: string };
const extension = JSON.parse(read('vss-extension.json')) as {
  version: string;
  description: string;
  icons: { default: string };
  content: { details: { path: string }; license: { path: string } };
  repository: { type: string; uri: string };
  links: Record<string, { uri: string }>;
  contributions: { type: string; properties: { name: string } }[];
  files: { path: string }[];
};

/** Width and height of a PNG whose chunks all check out (CRC) and whose pixels inflate fully. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  for (let at = 8; at < bytes.length;) {
    const length = bytes.readUInt32BE(at);
    const type = bytes.toString('ascii', at + 4, at + 8);
    const data = bytes.subarray(at + 8, at + 8 + length);
    expect(bytes.readUInt32BE(at + 8 + length), `${type} CRC`).toBe(
      crc32(bytes.subarray(at + 4, at + 8 + length)),
    );
    if (type === 'IHDR') [width, height] = [data.readUInt32BE(0), data.readUInt32BE(4)];
    if (type === 'IDAT') idat.push(data);
    at += 12 + length;
  }
  // 8-bit RGBA: one filter byte and 4 bytes per pixel per row.
  expect(inflateSync(Buffer.concat(idat)).length).toBe(height * (1 + width * 4));
  return { width, height };
}
const spec = (name: string) => INPUTS.find((i) => i.name === name) as InputSpec;

describe('action.yml', () => {
  it('runs the committed GitHub bundle on node24, with branding', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/github/index.cjs' });
    expect(existsSync(join(root, action.runs.main))).toBe(true);
    expect(action.branding.icon).toBeTruthy();
    expect(action.branding.color).toBeTruthy();
  });

  it('declares exactly the inputs the GitHub host offers, in order, with their descriptions and defaults', () => {
    expect(Object.keys(action.inputs)).toEqual(inputsFor('github').map((i) => i.name));
    for (const [name, input] of Object.entries(action.inputs)) {
      expect(input.description, name).toBe(spec(name).description);
      expect(input.default, name).toBe(spec(name).default);
      expect(input.required ?? false, name).toBe(false);
    }
  });

  it('declares exactly OUTPUTS', () => {
    expect(
      Object.entries(action.outputs).map(([name, o]) => ({ name, description: o.description })),
    ).toEqual(OUTPUTS);
  });
});

describe('task.json', () => {
  it('identifies the task and runs the committed Azure bundle on Node20_1 and Node24', () => {
    expect(task.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(task.name).toBe('EolGate');
    expect(task.friendlyName).toBeTruthy();
    expect(task.category).toBeTruthy();
    expect(`${task.version.Major}.${task.version.Minor}.${task.version.Patch}`).toBe(pkg.version);
    expect(task.instanceNameFormat).toContain('$(command)');
    expect(task.minimumAgentVersion).toMatch(/^\d+\.\d+\.\d+$/);
    expect(Object.keys(task.execution).sort()).toEqual(['Node20_1', 'Node24']);
    for (const handler of Object.values(task.execution)) {
      expect(handler.target).toBe('dist/azure/index.cjs');
      expect(existsSync(join(root, handler.target))).toBe(true);
    }
  });

  it('declares exactly the inputs the Azure host offers, in order, with defaults and help', () => {
    expect(task.inputs.map((i) => i.name)).toEqual(inputsFor('azure-pipelines').map((i) => i.name));
    for (const input of task.inputs) {
      const s = spec(input.name);
      expect(input.defaultValue, input.name).toBe(s.default ?? '');
      expect(input.helpMarkDown.startsWith(s.description), input.name).toBe(true);
      expect(input.label, input.name).toBeTruthy();
    }
  });

  it('shows each input only for the commands that read it', () => {
    for (const input of task.inputs) {
      const commands = spec(input.name).commands;
      if (!commands) {
        expect(input.visibleRule, input.name).toBeUndefined();
        continue;
      }
      expect(input.visibleRule, input.name).toBe(
        commands.map((c) => `command = ${c}`).join(' || '),
      );
    }
  });

  it('types inputs by kind: booleans, multi-line lists, pick lists, the service connection', () => {
    const byName = new Map(task.inputs.map((i) => [i.name, i]));
    for (const input of task.inputs) {
      const kind = kindOf(spec(input.name));
      if (kind === 'boolean') expect(input.type, input.name).toBe('boolean');
      if (kind === 'multiline') expect(input.type, input.name).toBe('multiLine');
    }
    expect(byName.get('azureSubscription')?.type).toBe('connectedService:AzureRM');
    expect(byName.get('dockerRegistryServiceConnection')?.type).toBe(
      'connectedService:dockerregistry',
    );
    expect(Object.keys(byName.get('command')?.options ?? {})).toEqual([...COMMANDS]);
    expect(byName.get('command')?.required).toBe(true);
    for (const input of task.inputs.filter((i) => i.type === 'pickList')) {
      const d = input.defaultValue;
      if (d) expect(Object.keys(input.options ?? {}), input.name).toContain(d);
    }
  });

  it('puts every input but command in a declared group, and uses every group', () => {
    const groups = task.groups.map((g) => g.name);
    for (const input of task.inputs) {
      if (input.name === 'command') expect(input.groupName).toBeUndefined();
      else expect(groups, input.name).toContain(input.groupName);
    }
    expect(new Set(task.inputs.map((i) => i.groupName).filter(Boolean))).toEqual(new Set(groups));
  });

  it('declares exactly OUTPUTS as output variables', () => {
    expect(task.outputVariables).toEqual(OUTPUTS);
  });
});

describe('action.yml and task.json agree', () => {
  it('on every shared input: same names, order, defaults; the host-only ones are exactly the declared ones', () => {
    const shared = INPUTS.filter((i) => !i.hosts).map((i) => i.name);
    const actionShared = Object.keys(action.inputs).filter((n) => !spec(n).hosts);
    const taskShared = task.inputs.map((i) => i.name).filter((n) => !spec(n).hosts);
    expect(actionShared).toEqual(shared);
    expect(taskShared).toEqual(shared);
    for (const name of shared)
      expect(action.inputs[name].default ?? '', name).toBe(
        task.inputs.find((i) => i.name === name)?.defaultValue,
      );
    const hostOnly = (host: HostName) =>
      INPUTS.filter((i) => i.hosts && i.hosts.length === 1 && i.hosts[0] === host).map(
        (i) => i.name,
      );
    // Inputs some hosts lack (jobId: GitHub and the CLI; uploadPlan: the two CI hosts).
    const offeredBy = (host: HostName) =>
      INPUTS.filter((i) => i.hosts && i.hosts.includes(host)).map((i) => i.name);
    expect(Object.keys(action.inputs).filter((n) => spec(n).hosts)).toEqual(offeredBy('github'));
    expect(task.inputs.map((i) => i.name).filter((n) => spec(n).hosts)).toEqual(
      offeredBy('azure-pipelines'),
    );
    // The host-only inputs this file knows of: a new one is a decision, not an accident.
    expect(hostOnly('github')).toEqual(
      expect.arrayContaining(['token', 'azureClientId', 'azureTenantId']),
    );
    expect(hostOnly('azure-pipelines')).toEqual([
      'azureSubscription',
      'dockerRegistryServiceConnection',
    ]);
    expect(action.description).toBe(JSON.parse(read('task.json')).description);
  });

  it('on outputs', () => {
    expect(Object.keys(action.outputs)).toEqual(task.outputVariables.map((o) => o.name));
  });
});

describe('vss-extension.json and scripts/package-task.mjs', () => {
  const out = mkdtempSync(join(tmpdir(), 'eol-gate-ext-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('assemble a task folder tfx can pack: task.json, the bundle at its execution target, licenses', () => {
    expect(extension.version).toBe(pkg.version);
    execFileSync(process.execPath, ['scripts/package-task.mjs', '--out', out], {
      cwd: root,
      stdio: 'pipe',
    });
    const contribution = extension.contributions.find(
      (c) => c.type === 'ms.vss-distributed-task.task',
    );
    expect(contribution).toBeDefined();
    const taskDir = join(out, contribution!.properties.name);
    expect(extension.files.map((f) => f.path)).toContain(contribution!.properties.name);
    expect(JSON.parse(readFileSync(join(taskDir, 'task.json'), 'utf8'))).toEqual(task);
    for (const { target } of Object.values(task.execution)) {
      // Buffer.equals: a deep toEqual over a megabyte bundle takes seconds.
      expect(
        readFileSync(join(taskDir, target)).equals(readFileSync(join(root, target))),
        target,
      ).toBe(true);
    }
    expect(readFileSync(join(taskDir, 'ThirdPartyNotices.txt'), 'utf8')).toContain(
      'azure-pipelines-task-lib',
    );
    expect(existsSync(join(out, 'vss-extension.json'))).toBe(true);
    expect(existsSync(join(out, 'overview.md'))).toBe(true);
    // The task's own icon beside its task.json, the extension's icon and license where the manifest says.
    expect(pngSize(readFileSync(join(taskDir, 'icon.png')))).toEqual({ width: 128, height: 128 });
    expect(readFileSync(join(out, extension.icons.default))).toEqual(
      readFileSync(join(taskDir, 'icon.png')),
    );
    expect(readFileSync(join(out, extension.content.license.path), 'utf8')).toBe(read('LICENSE'));
    expect(readFileSync(join(taskDir, 'LICENSE'), 'utf8')).toBe(read('LICENSE'));
  });

  it('names the repository, the license, the icon and what the extension does', () => {
    const repo = 'https://github.com/eol-gate/eol-gate';
    expect(extension.repository).toEqual({ type: 'git', uri: repo });
    expect(extension.links.repository.uri).toBe(repo);
    expect(extension.links.license.uri).toBe(`${repo}/blob/main/LICENSE`);
    expect(extension.icons.default).toBe('images/icon.png');
    expect(extension.description).toMatch(/end-of-life/);
    expect(read('LICENSE')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 eol-gate contributors\n/);
  });
});

describe('.github/workflows/release.yml', () => {
  const release = parse(read('.github/workflows/release.yml')) as {
    on: { push: { tags: string[] } };
    permissions: Record<string, string>;
    jobs: Record<string, { steps: { uses?: string; run?: string; if?: string }[] }>;
  };
  const steps = Object.values(release.jobs).flatMap((j) => j.steps);
  const runs = steps.map((s) => s.run ?? '').join('\n');

  it('on a version tag: CI first, then the .vsix and the CLI as release assets, then the major tag', () => {
    expect(release.on.push.tags).toEqual(['v*']);
    expect(release.permissions).toEqual({ contents: 'write' });
    const at = (text: string) => steps.findIndex((s) => (s.run ?? '').includes(text));
    expect(at('bash .ci/run')).toBeGreaterThan(0);
    expect(at('scripts/package-task.mjs')).toBeGreaterThan(at('bash .ci/run'));
    expect(at('gh release create')).toBeGreaterThan(at('tfx-cli'));
    expect(at('git push --force origin "refs/tags/$major"')).toBeGreaterThan(
      at('gh release create'),
    );
    expect(runs).toMatch(/gh release create .*\n.*\.vsix .*eol-gate\.cjs/);
    // A pre-release (v1.0.0-rc.1) never moves the major tag users follow.
    expect(steps[at('refs/tags/$major')].if).toContain("'-'");
  });
});

describe('.github/workflows/ci.yml', () => {
  it('is a workflow that checks out, sets up Node 20 and runs .ci/run (tests + check-dist)', () => {
    const ci = parse(read('.github/workflows/ci.yml')) as {
      on: unknown;
      jobs: Record<string, { 'runs-on': string; steps: Record<string, unknown>[] }>;
    };
    expect(ci.on).toBeTruthy();
    const steps = Object.values(ci.jobs).flatMap((j) => j.steps);
    expect(steps.map((s) => String(s.uses ?? s.run))).toEqual([
      expect.stringMatching(/^actions\/checkout@v\d+$/),
      expect.stringMatching(/^actions\/setup-node@v\d+$/),
      'bash .ci/run',
    ]);
    expect((steps[1].with as Record<string, unknown>)['node-version']).toBe(20);
    expect(existsSync(join(root, '.ci/run'))).toBe(true);
  });
});
