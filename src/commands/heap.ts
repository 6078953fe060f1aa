/**
 * How far V8 lets a serving process's heap grow past what it holds. By default V8 lets the old
 * generation reach up to four times the live data before a full collection when it collects fast,
 * and a server's caches churn (LRU entries evicted after living long enough to be promoted), so a
 * long run's RSS climbed for tens of thousands of calls to some 4× its live heap (bench/RESULTS.md,
 * the long run). Growing by at most `HEAP_GROWING_PERCENT` keeps it near the live heap, for more
 * frequent full collections (done mostly on V8's background threads).
 *
 * Why 25: what V8 holds committed swings between the live heap and that much above it with the
 * moment of the last full collection, and in a long run of improvisations (some 60 MB live) that
 * swing was most of what RSS moved after its first 10,000: at 50, spreads of 46, 61, 62 and 49 MB
 * in four runs (64 allowed), at 25, 52 and 43 MB (2026-12-04, docs/decisions/bounded-wal.md).
 *
 * It costs CPU: an exact answer over HTTP about a tenth more than under V8's default growth,
 * measured side by side (2026-12-04), the same at 25 as at 50 (33 against 33 µs of server CPU per
 * request, twice, bench scenario 1); an improvisation a few percent more. It keeps the replay of a
 * 1M-call cache within its memory figure (scenario 5: 223 MB after 100,000 distinct lookups at 50,
 * against 289 MB without it), so it stays on for every server, not only those that improvise.
 *
 * A `--heap-growing-percent` given to node itself (`node --heap-growing-percent=N toolsim serve`)
 * is left as it is.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_PERCENT = 25;

export function boundHeapGrowth(): void {
  if (process.execArgv.some((arg) => arg.startsWith('--heap-growing-percent'))) return;
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
