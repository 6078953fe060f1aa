/** Where things are: the repository root, the bundled samples, the built CLI. No imports of src/. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const TAU_BENCH = join(ROOT, 'cache/samples/tau-bench/calls.jsonl');
/** The tools of the tau-bench sample: their real descriptions and parameter schemas. */
export const TAU_BENCH_TOOLS = join(ROOT, 'cache/samples/tau-bench/tools.jsonl');
export const API_BANK = join(ROOT, 'cache/samples/api-bank/calls.jsonl');
/** The built CLI (test/support/build-check.ts keeps it no older than src/). */
export const CLI = join(ROOT, 'dist/src/cli.js');
