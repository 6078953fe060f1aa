/** Where the bench finds the built CLI, the samples, and its own gitignored data. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs as dist/bench/lib/paths.js). */
export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
export const CLI = join(ROOT, 'dist/src/cli.js');
export const BARE_SERVER = join(ROOT, 'dist/bench/servers/bare.js');
export const STATELESS_SERVER = join(ROOT, 'dist/bench/servers/stateless.js');
export const ENTRY_BYTES = join(ROOT, 'dist/bench/entry-bytes.js');
export const MEMO_HIT_BYTES = join(ROOT, 'dist/bench/memo-hit-bytes.js');
export const SAMPLES = [join(ROOT, 'cache/samples/tau-bench/calls.jsonl'), join(ROOT, 'cache/samples/api-bank/calls.jsonl')];
export const DATA = join(ROOT, 'bench/.data');
export const PEER = join(ROOT, 'bench/.peer');
export const RESULTS = join(ROOT, 'bench/RESULTS.md');

export function dataPath(name: string): string {
  mkdirSync(DATA, { recursive: true });
  return join(DATA, name);
}
