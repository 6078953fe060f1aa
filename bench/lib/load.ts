/**
 * HTTP load through autocannon (as a library, in this process) and side-by-side comparisons run
 * in alternating rounds, so that the machine's noise falls on both sides alike.
 */
import autocannon from 'autocannon';
import { procCpuSeconds } from './procs.js';
import { percentile } from './stats.js';

export interface LoadOptions {
  url: string;
  path: string;
  /** Request bodies, sent in turn by every connection. */
  bodies?: readonly string[];
  /** Alternatively, a shared cursor over bodies: each request takes the next one (slower client). */
  sharedBodies?: readonly string[];
  connections: number;
  durationS?: number;
  amount?: number;
  /** The server's process, to measure the CPU it spent per request (robust to a busy machine). */
  pid?: number;
  /** Latencies to the microsecond (autocannon's own per-response times) instead of its histogram's whole milliseconds. */
  fine?: boolean;
}

export interface Load {
  rps: number;
  /** Latencies in ms: to the microsecond when `fine`, else autocannon's whole milliseconds. */
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** Server CPU microseconds per request, when its pid was given (/proc ticks: 10 ms resolution). */
  cpuUs: number;
}

export async function load(options: LoadOptions): Promise<Load> {
  const headers = { 'content-type': 'application/json' };
  let cursor = 0;
  const shared = options.sharedBodies;
  const requests = shared
    ? [
        {
          method: 'POST' as const,
          path: options.path,
          headers,
          setupRequest: (req: autocannon.Request) => ({ ...req, body: shared[cursor++ % shared.length]! }),
        },
      ]
    : (options.bodies ?? []).map((body) => ({ method: 'POST' as const, path: options.path, headers, body }));
  const times: number[] = [];
  const cpuBefore = options.pid === undefined ? 0 : procCpuSeconds(options.pid);
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        pipelining: 1,
        requests,
        ...(options.amount === undefined ? { duration: options.durationS ?? 5 } : { amount: options.amount }),
      },
      (error, done) => (error ? reject(error) : resolve(done)),
    );
    // The response time autocannon measured (hrtime, in ms with fractions), before its histogram rounds it.
    if (options.fine) instance.on('response', (_client: unknown, _status: number, _bytes: number, ms: number) => times.push(ms));
  });
  const sorted = Float64Array.from(times).sort();
  return {
    rps: result.requests.average,
    p50: options.fine ? percentile(sorted, 50) : result.latency.p50,
    p99: options.fine ? percentile(sorted, 99) : result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.non2xx + result.timeouts,
    cpuUs: options.pid === undefined ? Number.NaN : ((procCpuSeconds(options.pid) - cpuBefore) * 1e6) / result.requests.total,
  };
}

export interface Rounds {
  a: Load[];
  b: Load[];
}

/** Runs `rounds` pairs, alternating which side goes first, after one unmeasured warm-up each. */
export async function alternate(
  rounds: number,
  warm: () => Promise<void>,
  a: () => Promise<Load>,
  b: () => Promise<Load>,
): Promise<Rounds> {
  await warm();
  const out: Rounds = { a: [], b: [] };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      out.a.push(await a());
      out.b.push(await b());
    } else {
      out.b.push(await b());
      out.a.push(await a());
    }
  }
  return out;
}

export const ratios = (num: readonly Load[], den: readonly Load[], pick: (l: Load) => number): number[] =>
  num.map((n, i) => pick(n) / pick(den[i]!));
