/**
 * `toolsim report`: a running server's `GET /v1/report` over a window (`--since`), as a table or
 * JSON, with the LLM cost in money when token prices are given. For the end of a training run:
 * the tier shares and miss reasons say how much of the run's data was recorded, improvised or
 * refused.
 */
import { resolveConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { formatNumber, percent, table } from '../core/format.js';
import type { Report } from '../http/report.js';
import type { Command } from './command.js';

const REPORT_OPTIONS = ['reportUrl', 'since', 'priceInput', 'priceOutput', 'priceCacheRead', 'priceCacheWrite', 'json'] as const;

export interface Prices {
  input?: number | undefined;
  output?: number | undefined;
  cacheRead?: number | undefined;
  cacheWrite?: number | undefined;
}

/** The cost of the tokens at prices per million; undefined unless the input and output prices are given. */
export function llmCost(tokens: Record<string, number>, prices: Prices): number | undefined {
  if (prices.input === undefined || prices.output === undefined) return undefined;
  const perToken = (price: number): number => price / 1e6;
  const cost =
    (tokens['input'] ?? 0) * perToken(prices.input) +
    (tokens['output'] ?? 0) * perToken(prices.output) +
    (tokens['cache_read'] ?? 0) * perToken(prices.cacheRead ?? prices.input) +
    (tokens['cache_write'] ?? 0) * perToken(prices.cacheWrite ?? prices.input);
  return Math.round(cost * 1e6) / 1e6;
}

export const reportCommand: Command = {
  usage:
    'toolsim report [--url http://127.0.0.1:8080] [--since 2h | --since 2026-11-29T10:00:00Z] [--price-input P --price-output P] [--json]',
  summary: "a running server's tier shares, miss reasons and LLM tokens (and cost) over a time window",
  options: REPORT_OPTIONS,
  async run(values) {
    const config = resolveConfig(REPORT_OPTIONS, values);
    if ((config.priceInput === undefined) !== (config.priceOutput === undefined))
      throw new ConfigError('give both --price-input and --price-output (prices of 1M tokens), or neither');
    const url = new URL('/v1/report', config.reportUrl);
    if (config.since !== '') url.searchParams.set('since', config.since);
    let response: Response;
    try {
      response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    } catch (error) {
      throw new Error(`cannot reach ${url.origin}: ${(error as Error).message}`);
    }
    const body = (await response.json()) as Report & { error?: { message: string } };
    if (!response.ok) throw new Error(`${url.origin} answered ${response.status}: ${body.error?.message ?? ''}`);
    const cost = llmCost(body.llmTokens, {
      input: config.priceInput,
      output: config.priceOutput,
      cacheRead: config.priceCacheRead,
      cacheWrite: config.priceCacheWrite,
    });
    if (config.json) {
      process.stdout.write(`${JSON.stringify({ ...body, ...(cost === undefined ? {} : { llmCost: cost }) }, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `window   ${body.from} to ${body.to} (${formatNumber(Math.round(body.seconds))} s)${body.requestedFrom ? `; asked from ${body.requestedFrom}` : ''}`,
      '',
      table(
        ['tier', 'calls', 'share'],
        [
          ...Object.entries(body.tiers).map(([tier, n]) => [tier, formatNumber(n), percent(n, body.calls)]),
          ['all', formatNumber(body.calls), ''],
        ],
      ),
    ];
    const misses = Object.entries(body.misses).filter(([, n]) => n > 0);
    if (misses.length > 0)
      lines.push(
        '',
        table(
          ['miss reason', 'calls', 'share of calls'],
          misses.map(([reason, n]) => [reason, formatNumber(n), percent(n, body.calls)]),
        ),
      );
    const requests = Object.values(body.llmRequests).reduce((a, b) => a + b, 0);
    const outcomes = Object.entries(body.llmRequests)
      .filter(([, n]) => n > 0)
      .map(([o, n]) => `${o} ${formatNumber(n)}`)
      .join(', ');
    lines.push(
      '',
      table(
        ['LLM', ''],
        [
          ['requests', `${formatNumber(requests)}${outcomes ? ` (${outcomes})` : ''}`],
          ...Object.entries(body.llmTokens).map(([type, n]): [string, string] => [`${type} tokens`, formatNumber(n)]),
          ['cost', cost === undefined ? 'give --price-input and --price-output' : cost.toFixed(4)],
        ],
      ),
    );
    const rollouts = body.rollouts ?? {};
    const inDiverged = (rollouts['fuzzy'] ?? 0) + (rollouts['miss'] ?? 0);
    if ((rollouts['diverged'] ?? 0) > 0 || inDiverged > 0)
      lines.push(
        '',
        table(
          ['rollouts', ''],
          [
            ['diverged (a write no recording has)', formatNumber(rollouts['diverged'] ?? 0)],
            [
              'calls in diverged state',
              `${formatNumber(inDiverged)} (fuzzy ${formatNumber(rollouts['fuzzy'] ?? 0)}, miss ${formatNumber(rollouts['miss'] ?? 0)})`,
            ],
          ],
        ),
      );
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  },
};
