/**
 * Closed-loop HTTP load with autocannon over a mix of calls, reported as counts by status and
 * latency percentiles. Shared by the soak script and the short load tests.
 */
import autocannon from 'autocannon';

export interface MixedCall {
  path: string;
  body: unknown;
}

export interface LoadOptions {
  url: string;
  connections: number;
  seconds: number;
  calls: readonly MixedCall[];
  /** Per-request timeout in seconds (counted as an error). */
  timeout?: number;
}

export interface LoadResult {
  requests: number;
  /** Requests without a 2xx answer, and connection errors or timeouts. */
  failed: number;
  errors: number;
  timeouts: number;
  statuses: Record<string, number>;
  rps: number;
  p50: number;
  p99: number;
  max: number;
}

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: options.timeout ?? 30,
        requests: options.calls.map((call) => ({
          method: 'POST' as const,
          path: call.path,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(call.body),
        })),
      },
      (error, result) => {
        if (error) return reject(error);
        const answered = Object.values(statuses).reduce((a, b) => a + b, 0);
        const ok = Object.entries(statuses)
          .filter(([code]) => code.startsWith('2'))
          .reduce((a, [, n]) => a + n, 0);
        resolve({
          requests: answered + result.errors,
          failed: answered - ok + result.errors,
          errors: result.errors,
          timeouts: result.timeouts,
          statuses,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
        });
      },
    );
    instance.on('response', (_client, statusCode) => {
      statuses[statusCode] = (statuses[statusCode] ?? 0) + 1;
    });
  });
}
