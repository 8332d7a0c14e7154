// Preloaded into a measured process (`node --require`): prints its peak RSS (getrusage maxrss)
// on stderr as it exits, so the product's bundle is measured without instrumenting it.
//
// Diagnostics, off by default:
// - EOL_GATE_BENCH_PHASES=1: every log line the product writes on stderr is followed by an
//   `EOL_GATE_PHASE` line with the memory at that moment, and the peak of each kind of memory
//   (sampled every 20 ms) is printed at exit.
// - EOL_GATE_BENCH_SNAPSHOT=<file> and EOL_GATE_BENCH_SNAPSHOT_AT=<text>: writes a V8 heap
//   snapshot to <file> when a log line containing <text> is written (e.g. `plan: `); analyse it
//   with `node scripts/bench/heap-summary.mjs <file>`.
/* global require, setInterval */
const phases = !!process.env.EOL_GATE_BENCH_PHASES;
const snapshot = process.env.EOL_GATE_BENCH_SNAPSHOT;
const mb = (n) => (n / 2 ** 20).toFixed(1);
const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
const t0 = Date.now();
function sample() {
  const m = process.memoryUsage();
  for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], m[k]);
  return m;
}
if (phases || snapshot) {
  let ticks = 0;
  if (phases) {
    setInterval(() => {
      const m = sample();
      if (++ticks % 25 === 0)
        process.stderr.write(
          `EOL_GATE_PHASE t=${Date.now() - t0}ms rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)} | (every 0.5 s)\n`,
        );
    }, 20).unref();
  }
  const write = process.stderr.write.bind(process.stderr);
  let snapped = false;
  process.stderr.write = (chunk, ...rest) => {
    const ok = write(chunk, ...rest);
    const text = String(chunk);
    if (text.trimStart().startsWith('EOL_GATE_')) return ok;
    if (phases) {
      const m = sample();
      write(
        `EOL_GATE_PHASE t=${Date.now() - t0}ms rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} heapTotal=${mb(m.heapTotal)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)} | ${text.trim().slice(0, 80)}\n`,
      );
    }
    if (snapshot && !snapped) {
      if (text.includes(process.env.EOL_GATE_BENCH_SNAPSHOT_AT ?? '')) {
        snapped = true;
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const file = require('node:v8').writeHeapSnapshot(snapshot);
        write(`EOL_GATE_SNAPSHOT ${file}\n`);
      }
    }
    return ok;
  };
}
process.on('exit', () => {
  if (phases) {
    sample();
    process.stderr.write(
      `\nEOL_GATE_PEAKS ${Object.entries(peak)
        .map(([k, v]) => `${k}=${mb(v)}`)
        .join(' ')}\n`,
    );
  }
  process.stderr.write(
    `\nEOL_GATE_MAX_RSS_MB=${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`,
  );
});
