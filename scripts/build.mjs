// Bundles each host into one CommonJS file (the @actions/* packages are ESM-only; runners
// load `main` as CommonJS), with a source map and the third-party licenses beside it.
import { build } from 'esbuild';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const hosts = [
  { name: 'cli', entry: 'src/platform/cli/main.ts', banner: '#!/usr/bin/env node' },
  { name: 'github', entry: 'src/platform/github/main.ts' },
  { name: 'azure', entry: 'src/platform/azure/main.ts' },
].filter((h) => existsSync(h.entry));

const { version } = JSON.parse(readFileSync('package.json', 'utf8'));
rmSync('dist', { recursive: true, force: true });
const packages = new Set();
for (const host of hosts) {
  const result = await build({
    entryPoints: [host.entry],
    outfile: `dist/${host.name}/index.cjs`,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
    banner: host.banner ? { js: host.banner } : undefined,
    // ESM-only packages use import.meta.url; give the CommonJS bundle an equivalent.
    // The version is fixed at build time: a bundle has no package.json beside it.
    define: { 'import.meta.url': 'importMetaUrl', EOL_GATE_VERSION: JSON.stringify(version) },
    inject: ['scripts/import-meta-url.js'],
  });
  for (const input of Object.keys(result.metafile.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
    if (m) packages.add(m[1]);
  }
}

// One license file for everything bundled, as actions/typescript-action does.
const licenses = [...packages].sort().map((name) => {
  const dir = join('node_modules', name);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const file = readdirSync(dir).find((f) => /^(licen[cs]e|copying)/i.test(f));
  const text = file
    ? readFileSync(join(dir, file), 'utf8').trim()
    : `License: ${pkg.license ?? 'unknown'}`;
  return `${name}@${pkg.version} (${pkg.license ?? 'unknown'})\n\n${text}\n`;
});
mkdirSync(dirname('dist/licenses.txt'), { recursive: true });
writeFileSync('dist/licenses.txt', `${licenses.join('\n---\n\n')}`);
console.log(
  `built ${hosts.map((h) => `dist/${h.name}/index.cjs`).join(', ')} (${packages.size} bundled packages)`,
);
