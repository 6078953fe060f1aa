/**
 * Where calls are replayed: a running server over HTTP (POST /v1/calls in batches) or a cache on
 * disk through an in-process simulator. Both answer a batch with one result per call, in order.
 */

import { ToolsimError } from '../core/errors.js';
import { parseJson, stringifyJson } from '../core/json-text.js';
import type { MissReason, Tier } from '../core/types.js';
import type { Simulator } from '../simulator/simulator.js';
import type { ReplayCase } from './cases.js';

export type ReplayResult =
  | {
      ok: true;
      tier: Tier;
      outputJson: string;
      isError: boolean;
      reason?: MissReason;
      key: string;
      /** Distinct outputs recorded for the key (exact answers); above 1 the recordings disagree. */
      outputs?: number;
      /** Answered in diverged state (`match.rollout`). */
      diverged?: boolean;
      /** Seconds for this call (in-process) or for the request that carried it (HTTP). */
      seconds: number;
    }
  | { ok: false; code: string; message: string; seconds: number };

export interface ReplayTarget {
  /** Shown in reports: the URL or the database path. */
  readonly name: string;
  readonly kind: 'url' | 'db';
  resolve(batch: readonly ReplayCase[]): Promise<ReplayResult[]>;
}

function requestOf(c: ReplayCase): { server: string; tool: string; arguments: string; trajectory_id?: string } {
  return { server: c.server, tool: c.tool, arguments: c.arguments, ...(c.trajectoryId === null ? {} : { trajectory_id: c.trajectoryId }) };
}

export class SimulatorTarget implements ReplayTarget {
  readonly kind = 'db';
  readonly name: string;
  readonly #simulator: Simulator;

  constructor(simulator: Simulator, name: string) {
    this.#simulator = simulator;
    this.name = name;
  }

  /** One call after another: calls of one batch interleaved would each be timed with the others' work. */
  async resolve(batch: readonly ReplayCase[]): Promise<ReplayResult[]> {
    const results: ReplayResult[] = [];
    for (const c of batch) results.push(await this.#resolveOne(c));
    return results;
  }

  async #resolveOne(c: ReplayCase): Promise<ReplayResult> {
    const started = performance.now();
    try {
      const answer = await this.#simulator.resolve(requestOf(c));
      const seconds = (performance.now() - started) / 1000;
      return {
        ok: true,
        tier: answer.tier,
        outputJson: answer.outputJson,
        isError: answer.isError,
        key: answer.match.key,
        seconds,
        ...(answer.reason === undefined ? {} : { reason: answer.reason }),
        ...(answer.match.outputs === undefined ? {} : { outputs: answer.match.outputs }),
        ...(answer.match.rollout === undefined ? {} : { diverged: true }),
      };
    } catch (error) {
      if (!(error instanceof ToolsimError)) throw error;
      return { ok: false, code: error.code, message: error.message, seconds: (performance.now() - started) / 1000 };
    }
  }
}

/** The server did not answer a batch as the API promises (down, 5xx, not toolsim). */
export class TargetError extends Error {}

export class HttpTarget implements ReplayTarget {
  readonly kind = 'url';
  readonly name: string;
  readonly #endpoint: string;
  readonly #timeoutMs: number;

  constructor(url: string, timeoutMs = 300_000) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new TargetError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new TargetError(`--url must be an http(s) URL, got ${JSON.stringify(url)}`);
    this.name = parsed.href.replace(/\/+$/, '');
    this.#endpoint = `${this.name}/v1/calls`;
    this.#timeoutMs = timeoutMs;
  }

  async resolve(batch: readonly ReplayCase[]): Promise<ReplayResult[]> {
    const started = performance.now();
    let response: Response;
    try {
      response = await fetch(this.#endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ calls: batch.map(requestOf) }),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new TargetError(`cannot reach ${this.#endpoint}: ${cause?.code ?? cause?.message ?? (error as Error).message}`);
    }
    const text = await response.text();
    const seconds = (performance.now() - started) / 1000;
    if (response.status !== 200) throw new TargetError(`${this.#endpoint} answered ${response.status}: ${text.slice(0, 300)}`);
    let results: unknown;
    try {
      results = (parseJson(text, 'text') as { results?: unknown }).results;
    } catch {
      throw new TargetError(`${this.#endpoint} answered something that is not JSON: ${text.slice(0, 100)}`);
    }
    if (!Array.isArray(results) || results.length !== batch.length) {
      throw new TargetError(`${this.#endpoint} did not answer with one result per call (is it a toolsim server?)`);
    }
    return results.map((item) => resultOf(item, seconds, this.#endpoint));
  }
}

function resultOf(item: unknown, seconds: number, endpoint: string): ReplayResult {
  const r = item as Record<string, unknown>;
  const error = r['error'] as { code?: unknown; message?: unknown } | undefined;
  if (error !== undefined) return { ok: false, code: String(error.code), message: String(error.message), seconds };
  const tier = r['tier'];
  const match = r['match'] as { key?: unknown; outputs?: unknown; rollout?: unknown } | undefined;
  if ((tier !== 'exact' && tier !== 'fuzzy' && tier !== 'miss') || typeof match?.key !== 'string') {
    throw new TargetError(`${endpoint} answered a result without a tier and match key: ${JSON.stringify(item).slice(0, 200)}`);
  }
  return {
    ok: true,
    tier,
    outputJson: stringifyJson(r['output'] ?? null),
    isError: r['is_error'] === true,
    key: match.key,
    seconds,
    ...(typeof r['reason'] === 'string' ? { reason: r['reason'] as MissReason } : {}),
    ...(typeof match.outputs === 'number' ? { outputs: match.outputs } : {}),
    ...(typeof match.rollout === 'object' && match.rollout !== null ? { diverged: true } : {}),
  };
}
