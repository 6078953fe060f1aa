/**
 * `GET /v1/report?since=`: what a trainer attaches to a run's results: the calls answered in a
 * time window, their tier shares and miss reasons, and the LLM requests and tokens behind them.
 *
 * The counters are the app's metrics (cumulative since start). A history samples them every
 * minute (a week of samples, about a megabyte at most), so a window is the difference between now
 * and the last sample at or before its start; the report says which start it used.
 */
import type { FastifyInstance } from 'fastify';
import { BadRequestError } from '../core/errors.js';
import type { Metrics } from '../core/metrics.js';

export interface Counts {
  /** Calls by tier. */
  tiers: Record<string, number>;
  misses: Record<string, number>;
  llmRequests: Record<string, number>;
  llmTokens: Record<string, number>;
  /** Servers of rollouts that diverged (`diverged`), and calls answered in diverged state by tier. */
  rollouts: Record<string, number>;
}

interface Sample extends Counts {
  at: number;
}

export interface ReportOptions {
  metrics: Metrics;
  /** Milliseconds between samples of the counters; 60 s by default. */
  sampleEveryMs?: number;
  /** Samples kept (the oldest are dropped): a week of minutes by default. */
  maxSamples?: number;
  now?: () => number;
}

const TIERS = ['exact', 'fuzzy', 'miss'] as const;
const TOKEN_TYPES = ['input', 'output', 'cache_read', 'cache_write'] as const;

async function read(metrics: Metrics): Promise<Counts> {
  const by = async (
    metric: { get(): Promise<{ values: { value: number; labels: Record<string, string | number | undefined> }[] }> },
    label: string,
    into: Record<string, number> = {},
  ): Promise<Record<string, number>> => {
    for (const { value, labels } of (await metric.get()).values) {
      const key = String(labels[label]);
      into[key] = (into[key] ?? 0) + value;
    }
    return into;
  };
  return {
    // toolsim_calls_total is read through the registry: its collect() folds in the calls' tallies.
    tiers: await by(
      metrics.registry.getSingleMetric('toolsim_calls_total') as Parameters<typeof by>[0],
      'tier',
      Object.fromEntries(TIERS.map((t) => [t, 0])),
    ),
    misses: await by(metrics.misses, 'reason'),
    llmRequests: await by(metrics.llmRequests, 'outcome'),
    llmTokens: await by(metrics.llmTokens, 'type', Object.fromEntries(TOKEN_TYPES.map((t) => [t, 0]))),
    rollouts: await by(metrics.divergedCalls, 'tier', {
      diverged: ((await metrics.rolloutsDiverged.get()).values[0]?.value ?? 0) as number,
      fuzzy: 0,
      miss: 0,
    }),
  };
}

const minus = (now: Record<string, number>, then: Record<string, number>): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(now)) {
    const diff = value - (then[key] ?? 0);
    if (diff !== 0 || key in out || TIERS.includes(key as never) || TOKEN_TYPES.includes(key as never)) out[key] = diff;
  }
  return out;
};

/**
 * `15m`, `2h`, `90s`, `1d` back from now, or an ISO 8601 time; undefined for "since start". A window
 * reaching back before 1970 or starting more than a day from now (clocks disagree a little, not a
 * day) is a 400 naming the range: `99999999999h` once became a RangeError and a 500.
 */
export function parseSince(since: string | undefined, now: number): number | undefined {
  if (since === undefined || since === '') return undefined;
  const duration = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(since);
  let at: number;
  if (duration) at = now - Number(duration[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[duration[2] as 's' | 'm' | 'h' | 'd'];
  else {
    at = Date.parse(since);
    if (!Number.isFinite(at) || !/^\d{4}-\d{2}-\d{2}/.test(since))
      throw new BadRequestError(
        'invalid_request',
        `since must be a duration (90s, 15m, 2h, 1d) or an ISO 8601 time, got ${JSON.stringify(since).slice(0, 80)}`,
      );
  }
  if (!(at >= 0 && at <= now + DAY_MS))
    throw new BadRequestError(
      'invalid_request',
      `since must be a time from 1970-01-01T00:00:00Z to a day from now (${new Date(now).toISOString()}), or a duration back from now no longer than that; got ${JSON.stringify(since).slice(0, 80)}`,
    );
  return at;
}

const DAY_MS = 86_400_000;

export interface Report extends Counts {
  /** The window: from the sample used as its start (or the server's start) to now. */
  from: string;
  to: string;
  seconds: number;
  /** What was asked, when the history does not reach back that far or samples are a minute apart. */
  requestedFrom?: string;
  calls: number;
  /** Share of calls per tier, 0..1 (0 when there were no calls). */
  shares: Record<string, number>;
}

export class UsageHistory {
  readonly #metrics: Metrics;
  readonly #now: () => number;
  readonly #max: number;
  readonly #samples: Sample[] = [];
  readonly #timer: NodeJS.Timeout;

  constructor(options: ReportOptions) {
    this.#metrics = options.metrics;
    this.#now = options.now ?? Date.now;
    this.#max = options.maxSamples ?? 7 * 24 * 60;
    // The start: every counter at zero.
    this.#samples.push({
      at: this.#now(),
      tiers: {},
      misses: {},
      llmRequests: {},
      llmTokens: {},
      rollouts: {},
    });
    this.#timer = setInterval(() => void this.sample(), options.sampleEveryMs ?? 60_000);
    this.#timer.unref();
  }

  async sample(): Promise<void> {
    const counts = await read(this.#metrics);
    this.#samples.push({ at: this.#now(), ...counts });
    if (this.#samples.length > this.#max) this.#samples.splice(1, 1); // the start stays
  }

  async report(since: string | undefined): Promise<Report> {
    const now = this.#now();
    const asked = parseSince(since, now);
    const current = await read(this.#metrics);
    let base = this.#samples[0]!;
    if (asked !== undefined) for (const s of this.#samples) if (s.at <= asked) base = s;
    const tiers = minus(current.tiers, base.tiers);
    const calls = Object.values(tiers).reduce((a, b) => a + b, 0);
    return {
      from: new Date(base.at).toISOString(),
      to: new Date(now).toISOString(),
      seconds: Math.round((now - base.at) / 100) / 10,
      ...(asked !== undefined && asked !== base.at ? { requestedFrom: new Date(asked).toISOString() } : {}),
      calls,
      shares: Object.fromEntries(Object.entries(tiers).map(([tier, n]) => [tier, calls === 0 ? 0 : Math.round((n / calls) * 1e4) / 1e4])),
      tiers,
      misses: minus(current.misses, base.misses),
      llmRequests: minus(current.llmRequests, base.llmRequests),
      llmTokens: minus(current.llmTokens, base.llmTokens),
      rollouts: minus(current.rollouts, base.rollouts),
    };
  }

  close(): void {
    clearInterval(this.#timer);
  }
}

const countsSchema = { type: 'object', additionalProperties: { type: 'number' } } as const;

export const reportSchema = {
  type: 'object',
  required: ['from', 'to', 'seconds', 'calls', 'shares', 'tiers', 'misses', 'llmRequests', 'llmTokens', 'rollouts'],
  properties: {
    from: {
      type: 'string',
      format: 'date-time',
      description: 'Start of the window: the sample used (taken every minute) or the server start.',
    },
    to: { type: 'string', format: 'date-time' },
    seconds: { type: 'number' },
    requestedFrom: { type: 'string', format: 'date-time', description: 'The start asked for, when it differs from `from`.' },
    calls: { type: 'integer' },
    shares: { ...countsSchema, description: 'Share of calls per tier (0..1).' },
    tiers: { ...countsSchema, description: 'Calls per tier.' },
    misses: { ...countsSchema, description: 'Misses per reason.' },
    llmRequests: { ...countsSchema, description: 'LLM requests per outcome.' },
    llmTokens: { ...countsSchema, description: 'LLM tokens per type (input, output, cache_read, cache_write).' },
    rollouts: {
      ...countsSchema,
      description:
        'State within rollouts: `diverged`, servers of rollouts that made a write no recording has; `fuzzy` and `miss`, calls answered in diverged state by tier (never exact).',
    },
  },
  example: {
    from: '2026-11-29T10:00:00.000Z',
    to: '2026-11-29T12:00:00.000Z',
    seconds: 7200,
    calls: 1000,
    shares: { exact: 0.8, fuzzy: 0.15, miss: 0.05 },
    tiers: { exact: 800, fuzzy: 150, miss: 50 },
    misses: { no_similar_calls: 30, unknown_tool: 20 },
    llmRequests: { ok: 40 },
    llmTokens: { input: 52000, output: 3100, cache_read: 0, cache_write: 0 },
    rollouts: { diverged: 12, fuzzy: 40, miss: 1 },
  },
} as const;

export function registerReportRoutes(app: FastifyInstance, options: ReportOptions): void {
  const history = new UsageHistory(options);
  app.addHook('onClose', async () => history.close());
  app.get<{ Querystring: { since?: string } }>(
    '/v1/report',
    {
      schema: {
        summary: 'Tier shares, miss reasons and LLM usage over a time window (a run)',
        description:
          'Counts of this server process (each replica reports its own) from `since` to now. `since`: a duration back from now ' +
          '(`90s`, `15m`, `2h`, `1d`) or an ISO 8601 time; left out, since the server started. The counters are sampled every minute.',
        tags: ['ops'],
        querystring: { type: 'object', properties: { since: { type: 'string', maxLength: 64, examples: ['1h'] } } },
        response: { 200: reportSchema },
      },
    },
    async (request) => history.report(request.query.since),
  );
}
