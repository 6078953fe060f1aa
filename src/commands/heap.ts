/**
 * How far V8 lets a serving process's heap grow past what it holds. By default V8 lets the old
 * generation reach up to four times the live data before a full collection when it collects fast,
 * and a server's caches churn (LRU entries evicted after living long enough to be promoted), so a
 * long run's RSS climbed for tens of thousands of calls to some 4× its live heap (bench/RESULTS.md,
 * the long run). Growing by at most `HEAP_GROWING_PERCENT` keeps it near the live heap, for more
 * frequent full collections (done mostly on V8's background threads).
 *
 * Not lower: at 25 a long run's RSS moved less (its spread after the first 10,000 improvisations
 * 43-52 MB against 46-62 at 50), but the first miss of a 100,000-call tool held the event loop
 * 48-50 ms against 36 (bench scenario 8, side by side, 2026-12-04; docs/decisions/bounded-wal.md).
 *
 * It costs CPU: an exact answer over HTTP about a tenth more than under V8's default growth,
 * measured side by side (2026-12-04). It keeps the replay of a 1M-call cache within its memory
 * figure (scenario 5: 223 MB after 100,000 distinct lookups, against 289 MB without it), so it
 * stays on for every server, not only those that improvise.
 *
 * A `--heap-growing-percent` given to node itself (`node --heap-growing-percent=N toolsim serve`)
 * is left as it is.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 50;

export function boundHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
