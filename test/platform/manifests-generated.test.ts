import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { manifests, renderActionYml, renderTaskJson } from '../../scripts/manifests.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(join(root, path), 'utf8');

/** action.yml and task.json inputs/outputs are generated from src/platform/inputs.ts. */
describe('npm run manifests', () => {
  it('generates exactly the committed action.yml and task.json (run `npm run manifests`)', async () => {
    for (const { path, current, next } of await manifests()) expect(next, path).toBe(current);
  });

  it('rewrites a drifted input and keeps the rest of each file', async () => {
    const task = read('task.json');
    const drifted = task.replace('"label": "Dry run"', '"label": "Simulate"');
    expect(drifted).not.toBe(task);
    expect(await renderTaskJson(drifted)).toBe(task);

    const action = read('action.yml');
    const edited = action
      .replace('default: 1h', 'default: 2h')
      .replace('icon: shield', 'icon: lock')
      .replace(/\n {2}result:\n.*\n/, '\n');
    const regenerated = await renderActionYml(edited);
    expect(regenerated).toBe(action.replace('icon: shield', 'icon: lock'));
  });
});
