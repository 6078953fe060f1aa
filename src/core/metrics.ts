/**
 * Every metric toolsim exports (docs/metrics.md), on a registry owned by one app instance.
 * Labels are bounded: tier, reason, outcome and token type are enums; server and tool are the
 * recorded ones, with `_unknown` for anything not in the cache.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const UNKNOWN_LABEL = '_unknown';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

export interface Metrics {
  readonly registry: Registry;
  readonly calls: Counter<'tier' | 'server' | 'tool'>;
  readonly misses: Counter<'reason'>;
  readonly callDuration: Histogram<'tier'>;
  readonly llmRequests: Counter<'outcome'>;
  readonly llmTokens: Counter<'type'>;
  readonly llmDuration: Histogram;
  readonly fuzzyMemoHits: Counter;
  readonly singleflightJoins: Counter;
  readonly memoWriteFailures: Counter;
  readonly cacheCalls: Gauge;
}

export interface MetricsOptions {
  /** Reads the number of recorded calls in the open cache at scrape time. */
  cacheCalls: () => number;
  /** prom-client's process metrics (CPU, memory, event loop); on by default. */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  if (options.processMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    // prom-client names three gauges with a counter's `_total` suffix, which `promtool check metrics`
    // rejects; the same counts stay exported per type as nodejs_active_{handles,requests,resources}.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  return {
    registry,
    calls: new Counter({
      name: 'toolsim_calls_total',
      help: 'Tool calls answered, by tier and by recorded server and tool (_unknown when not in the cache).',
      labelNames: ['tier', 'server', 'tool'] as const,
      registers,
    }),
    misses: new Counter({
      name: 'toolsim_misses_total',
      help: 'Calls answered as a miss, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    callDuration: new Histogram({
      name: 'toolsim_call_duration_seconds',
      help: 'Time to resolve one call, by the tier that answered it.',
      labelNames: ['tier'] as const,
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
      registers,
    }),
    llmRequests: new Counter({
      name: 'toolsim_llm_requests_total',
      help: 'Requests to the LLM for improvised answers, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    llmTokens: new Counter({
      name: 'toolsim_llm_tokens_total',
      help: 'LLM tokens used, by type (input, output, cache_read, cache_write).',
      labelNames: ['type'] as const,
      registers,
    }),
    llmDuration: new Histogram({
      name: 'toolsim_llm_duration_seconds',
      help: 'Duration of one LLM request.',
      buckets: [0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60],
      registers,
    }),
    fuzzyMemoHits: new Counter({
      name: 'toolsim_fuzzy_memo_hits_total',
      help: 'Fuzzy answers served from the memo of earlier improvisations.',
      registers,
    }),
    singleflightJoins: new Counter({
      name: 'toolsim_singleflight_joins_total',
      help: 'Calls that waited for an identical improvisation already in flight instead of starting one.',
      registers,
    }),
    memoWriteFailures: new Counter({
      name: 'toolsim_memo_write_failures_total',
      help: 'Improvised answers served but not memoized: the memo could not be written at once (locked by an ingest, disk full, read-only).',
      registers,
    }),
    cacheCalls: new Gauge({
      name: 'toolsim_cache_calls',
      help: 'Recorded calls in the open cache.',
      registers,
      collect() {
        this.set(options.cacheCalls());
      },
    }),
  };
}
