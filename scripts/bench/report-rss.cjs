// Preloaded into a measured process (`node --require`): prints its peak RSS (getrusage maxrss)
// on stderr as it exits, so the product's bundle is measured without instrumenting it.
process.on('exit', () => {
  process.stderr.write(`\nEOL_GATE_MAX_RSS_MB=${(process.resourceUsage().maxRSS / 1024).toFixed(1)}\n`);
});
