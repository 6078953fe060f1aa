/**
 * Every metric toolsim exports (docs/metrics.md), on a registry owned by one app instance.
 * Labels are bounded: tier, reason, outcome and token type are enums; server and tool are the
 * recorded ones, with `_unknown` for anything not in the cache.
 */
import {
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricType,
  type MetricValueWithName,
  Registry,
} from 'prom-client';
import { REFUSAL_REASONS, type Tier } from './types.js';

export const UNKNOWN_LABEL = '_unknown';

const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * One label set of toolsim_calls_total and its tier's toolsim_call_duration_seconds. Recording adds
 * to plain numbers; prom-client reads them at scrape time. Its labelled children would hash and
 * validate the labels on every call instead, which costs more than the rest of an exact answer's
 * bookkeeping.
 */
export interface CallTally {
  /** One answered call that took `seconds`. */
  count(seconds: number): void;
}

export interface Metrics {
  readonly registry: Registry;
  /** The tally of calls `tier` answered for `server`/`tool`; one object per label set, so keep it. */
  callTally(tier: Tier, server: string, tool: string): CallTally;
  readonly misses: Counter<'reason'>;
  readonly llmRequests: Counter<'outcome'>;
  readonly llmAnswersRefused: Counter<'reason'>;
  readonly llmTokens: Counter<'type'>;
  readonly llmDuration: Histogram;
  readonly fuzzyMemoHits: Counter;
  readonly singleflightJoins: Counter;
  readonly memoWriteFailures: Counter;
  readonly cacheCalls: Gauge;
  /** Servers of rollouts whose state diverged (a write no recording has, improvised). */
  readonly rolloutsDiverged: Counter;
  /** Calls answered in diverged state, by tier (fuzzy, or miss: never exact). */
  readonly divergedCalls: Counter<'tier'>;
  readonly rolloutsEnded: Counter<'how'>;
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
  const tallies = new Map<string, LabelSetTally>();
  const calls = new Counter({
    name: 'toolsim_calls_total',
    help: 'Tool calls answered, by tier and by recorded server and tool (_unknown when not in the cache).',
    labelNames: ['tier', 'server', 'tool'] as const,
    registers,
    collect() {
      for (const tally of tallies.values()) {
        if (tally.pending === 0) continue;
        this.inc(tally.labels, tally.pending);
        tally.pending = 0;
      }
    },
  });
  const durations = new CallDurations({
    name: 'toolsim_call_duration_seconds',
    help: 'Time to resolve one call, by the tier that answered it.',
    labelNames: ['tier'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30],
    registers,
  });
  const refused = new Counter({
    name: 'toolsim_llm_answers_refused_total',
    help: 'Improvised answers refused (they did not fit the output schema or shape, or were no answer), by the reason of their first misfit.',
    labelNames: ['reason'] as const,
    registers,
  });
  // Every reason listed at 0 from the start: a fixed set, so a dashboard's rate is never empty.
  for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0);
  return {
    registry,
    callTally(tier, server, tool) {
      const id = `${tier}\0${server}\0${tool}`;
      let tally = tallies.get(id);
      if (!tally) {
        tally = new LabelSetTally({ tier, server, tool }, durations.cell(tier));
        tallies.set(id, tally);
        // Listed at 0 from the first call on, as prom-client lists a label set once it is used.
        calls.inc(tally.labels, 0);
      }
      return tally;
    },
    misses: new Counter({
      name: 'toolsim_misses_total',
      help: 'Calls answered as a miss, by reason.',
      labelNames: ['reason'] as const,
      registers,
    }),
    llmRequests: new Counter({
      name: 'toolsim_llm_requests_total',
      help: 'Requests to the LLM for improvised answers, by outcome.',
      labelNames: ['outcome'] as const,
      registers,
    }),
    llmAnswersRefused: refused,
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
    rolloutsDiverged: new Counter({
      name: 'toolsim_rollouts_diverged_total',
      help: 'Servers of rollouts whose state diverged from every recording: a write no recording has, improvised.',
      registers,
    }),
    divergedCalls: new Counter({
      name: 'toolsim_diverged_calls_total',
      help: 'Calls answered in diverged state (improvised with the rollout history, never from a recording), by tier.',
      labelNames: ['tier'] as const,
      registers,
    }),
    rolloutsEnded: new Counter({
      name: 'toolsim_rollouts_ended_total',
      help: 'Rollouts ended, by how: deleted, finished (verl-tool), session_closed (MCP), expired (--rollout-ttl), evicted (a cap).',
      labelNames: ['how'] as const,
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

/** Per-tier bucket counts (not cumulative), sum and count of toolsim_call_duration_seconds. */
class DurationCell {
  readonly tier: Tier;
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(tier: Tier, bounds: readonly number[]) {
    this.tier = tier;
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    const { bounds } = this;
    for (let i = 0; i < bounds.length; i++) {
      if (seconds <= bounds[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

class LabelSetTally implements CallTally {
  readonly labels: { tier: Tier; server: string; tool: string };
  /** Calls recorded since the last scrape folded them into prom-client's counter. */
  pending = 0;
  readonly #duration: DurationCell;

  constructor(labels: { tier: Tier; server: string; tool: string }, duration: DurationCell) {
    this.labels = labels;
    this.#duration = duration;
  }

  count(seconds: number): void {
    this.pending++;
    this.#duration.observe(seconds);
  }
}

/**
 * toolsim_call_duration_seconds, kept in plain arrays per tier and written out by prom-client's
 * registry in the shape of any histogram's `get()`. Only `cell(tier)` records into it.
 */
class CallDurations extends Histogram<'tier'> {
  readonly #name: string;
  readonly #help: string;
  readonly #bounds: readonly number[];
  readonly #cells = new Map<Tier, DurationCell>();

  constructor(config: ConstructorParameters<typeof Histogram<'tier'>>[0] & { buckets: number[] }) {
    super(config);
    this.#name = config.name;
    this.#help = config.help;
    this.#bounds = [...config.buckets];
  }

  cell(tier: Tier): DurationCell {
    let cell = this.#cells.get(tier);
    if (!cell) this.#cells.set(tier, (cell = new DurationCell(tier, this.#bounds)));
    return cell;
  }

  override async get(): Promise<MetricObjectWithValues<MetricValueWithName<'tier' | 'le'>>> {
    const name = this.#name;
    const bucket = `${name}_bucket`;
    const values: MetricValueWithName<'tier' | 'le'>[] = [];
    for (const cell of this.#cells.values()) {
      let cumulative = 0;
      cell.bounds.forEach((le, i) => {
        cumulative += cell.counts[i]!;
        values.push({ labels: { le, tier: cell.tier }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', tier: cell.tier }, value: cell.count, metricName: bucket });
      values.push({ labels: { tier: cell.tier }, value: cell.sum, metricName: `${name}_sum` });
      values.push({ labels: { tier: cell.tier }, value: cell.count, metricName: `${name}_count` });
    }
    // prom-client's types declare MetricType as an enum that its JavaScript does not export.
    return { name, help: this.#help, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum', collect: () => undefined };
  }

  /** What the registry reads for the text format, when a metric has it; the same values here. */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<'tier' | 'le'>>> {
    return this.get();
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    if (#cells in this) this.#cells.clear();
  }
}
