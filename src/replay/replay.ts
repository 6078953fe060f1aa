/**
 * replay(test set, target): streams the calls, sends them in batches with a bounded number in
 * flight, and tallies every answer. Memory grows with the number of calls only by one latency
 * each (plus the differing answers, which are listed in full).
 */
import type { Readable } from 'node:stream';
import { type ReadStats, type ReplayCase, readCases } from './cases.js';
import { type ReplayReport, ReplayTally } from './report.js';
import type { ReplayTarget } from './targets.js';

export interface ReplayOptions {
  inputs: readonly string[];
  target: ReplayTarget;
  /** Calls per request (HTTP) or per group resolved together (in-process). */
  batchSize?: number;
  /** Batches in flight at once. */
  concurrency?: number;
  stdin?: Readable;
  onProblem?: (message: string) => void;
  onProgress?: (progress: ReplayProgress) => void;
  progressEveryMs?: number;
}

export interface ReplayProgress {
  calls: number;
  exact: number;
  fuzzy: number;
  miss: number;
  seconds: number;
}

export async function replay(options: ReplayOptions): Promise<ReplayReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const batchSize = options.batchSize ?? 100;
  const concurrency = options.concurrency ?? 4;
  const everyMs = options.progressEveryMs ?? 250;
  const stats: ReadStats = { lines: 0, rejected: 0, toolRecords: 0, failedInputs: 0, expectedFailures: 0 };
  const tally = new ReplayTally(options.inputs);
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let lastProgress = 0;

  const progress = (): void => {
    const now = performance.now();
    if (!options.onProgress || now - lastProgress < everyMs) return;
    lastProgress = now;
    options.onProgress({
      calls: tally.calls,
      exact: tally.count('exact'),
      fuzzy: tally.count('fuzzy'),
      miss: tally.count('miss'),
      seconds: (now - started) / 1000,
    });
  };
  const send = (batch: ReplayCase[]): void => {
    const request: Promise<void> = options.target
      .resolve(batch)
      .then(
        (results) => {
          for (const [i, c] of batch.entries()) tally.add(c, results[i]!);
          progress();
        },
        (error: unknown) => {
          failure ??= error;
        },
      )
      .finally(() => inFlight.delete(request));
    inFlight.add(request);
  };

  let batch: ReplayCase[] = [];
  for await (const c of readCases(options.inputs, stats, options.onProblem ?? (() => {}), options.stdin)) {
    batch.push(c);
    if (batch.length < batchSize) continue;
    send(batch);
    batch = [];
    while (inFlight.size >= concurrency) await Promise.race(inFlight);
    if (failure !== undefined) break;
  }
  if (batch.length > 0 && failure === undefined) send(batch);
  await Promise.all(inFlight);
  if (failure !== undefined) throw failure;

  return tally.report({
    target: { kind: options.target.kind, name: options.target.name },
    startedAt,
    seconds: (performance.now() - started) / 1000,
    ...stats,
  });
}
