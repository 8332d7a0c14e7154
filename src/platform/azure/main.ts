import { run } from './run.js';

// The bundle's entry: the only line that touches the process.
run(process.env).then((code) => (process.exitCode = code));
