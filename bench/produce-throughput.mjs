#!/usr/bin/env node
// Kept so old links work: the benchmark is bench/bench.mjs (`npm run bench`); this runs only its
// produce-throughput workload, with the same options (`--quick`, `--rounds N`, `--no-write`, ...).
if (!process.argv.includes('--only')) process.argv.push('--only', 'produce');
await import('./bench.mjs');
