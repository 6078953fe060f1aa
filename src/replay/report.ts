/**
 * The replay report: counts per tier, miss reasons, answers that differ from the expected output
 * and latencies; overall, per server and per tool. A ReplayTally collects results as they arrive and
 * builds the report once at the end.
 */

import { toolId } from '../core/tool-id.js';
import type { Json, MissReason } from '../core/types.js';
import { MISS_REASONS } from '../core/types.js';
import type { ReplayCase } from './cases.js';
import { sameOutput } from './compare.js';
import type { ReplayResult, ReplayTarget } from './targets.js';

/** Milliseconds. */
export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface GroupReport {
  /** `*` in the overall and per-server rows. */
  server: string;
  tool: string;
  calls: number;
  exact: number;
  fuzzy: number;
  miss: number;
  /** Calls the target refused as malformed (e.g. `ambiguous_tool`); part of `calls`. */
  errors: number;
  exactRate: number;
  fuzzyRate: number;
  missRate: number;
  missReasons: Partial<Record<MissReason, number>>;
  /** Exact answers to calls that had an expected output. */
  compared: number;
  /** Of those, answers that differ from the expected output on keys whose recordings all agree. */
  differing: number;
  /** Of those, answers that differ on keys whose recordings disagree (hidden state): one is served. */
  differingHiddenState: number;
  /** Answers given in diverged state: the call's rollout (its trajectory) had made a write no recording has on that server. */
  diverged: number;
  /** Fuzzy answers to calls with an expected output, and how many of them equal it. */
  fuzzyCompared: number;
  fuzzyMatching: number;
  latencyMs: LatencySummary;
}

export interface DifferingAnswer {
  file: string;
  line: number;
  server: string;
  tool: string;
  key: string;
  arguments: Json;
  expected: Json;
  expectedIsError: boolean;
  served: Json;
  servedIsError: boolean;
  /** Distinct outputs recorded for the key, when the target says. */
  recordedOutputs: number | null;
}

export interface CallError {
  file: string;
  line: number;
  server: string;
  tool: string;
  code: string;
  message: string;
}

export interface GateResult {
  /** The flag, e.g. `--min-exact`. */
  gate: string;
  limit: number;
  actual: number;
  passed: boolean;
}

export interface ReplayReport {
  target: { kind: ReplayTarget['kind']; name: string };
  inputs: string[];
  startedAt: string;
  seconds: number;
  lines: number;
  rejected: number;
  toolRecords: number;
  failedInputs: number;
  /** Calls of the test set whose recorded output is an infrastructure failure: replayed, not compared. */
  expectedFailures: number;
  overall: GroupReport;
  servers: GroupReport[];
  tools: GroupReport[];
  missReasons: { reason: MissReason; calls: number; share: number }[];
  differing: {
    /** Differ although every recording of the key agrees: the cache and the test set disagree. */
    unexplained: DifferingAnswer[];
    unexplainedKeys: number;
    /** Differ on keys whose own recordings disagree: the repeat policy can serve only one of them. */
    hiddenState: DifferingAnswer[];
    hiddenStateKeys: number;
  };
  /** The first `MAX_LISTED_ERRORS` calls the target refused. */
  errors: CallError[];
  gates: GateResult[];
}

export const MAX_LISTED_ERRORS = 100;

class Group {
  calls = 0;
  exact = 0;
  fuzzy = 0;
  miss = 0;
  errors = 0;
  compared = 0;
  differing = 0;
  differingHiddenState = 0;
  diverged = 0;
  fuzzyCompared = 0;
  fuzzyMatching = 0;
  readonly missReasons = new Map<MissReason, number>();
  readonly latencies: number[] = [];

  constructor(
    readonly server: string,
    readonly tool: string,
  ) {}

  report(): GroupReport {
    const rate = (n: number): number => (this.calls === 0 ? 0 : n / this.calls);
    const reasons: Partial<Record<MissReason, number>> = {};
    for (const reason of MISS_REASONS) {
      const n = this.missReasons.get(reason);
      if (n !== undefined) reasons[reason] = n;
    }
    return {
      server: this.server,
      tool: this.tool,
      calls: this.calls,
      exact: this.exact,
      fuzzy: this.fuzzy,
      miss: this.miss,
      errors: this.errors,
      exactRate: rate(this.exact),
      fuzzyRate: rate(this.fuzzy),
      missRate: rate(this.miss),
      missReasons: reasons,
      compared: this.compared,
      differing: this.differing,
      differingHiddenState: this.differingHiddenState,
      diverged: this.diverged,
      fuzzyCompared: this.fuzzyCompared,
      fuzzyMatching: this.fuzzyMatching,
      latencyMs: summarize(this.latencies),
    };
  }
}

/** Nearest-rank percentiles, in milliseconds rounded to microseconds. */
export function summarize(seconds: number[]): LatencySummary {
  if (seconds.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(seconds).sort();
  const at = (q: number): number => Math.round(sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]! * 1e6) / 1e3;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

const parseJson = (text: string): Json => JSON.parse(text) as Json;

export class ReplayTally {
  readonly #overall = new Group('*', '*');
  readonly #servers = new Map<string, Group>();
  readonly #tools = new Map<string, Group>();
  readonly #unexplained: DifferingAnswer[] = [];
  readonly #hiddenState: DifferingAnswer[] = [];
  readonly #errors: CallError[] = [];
  readonly #inputs: readonly string[];

  constructor(inputs: readonly string[]) {
    this.#inputs = inputs;
  }

  get calls(): number {
    return this.#overall.calls;
  }

  count(tier: 'exact' | 'fuzzy' | 'miss'): number {
    return this.#overall[tier];
  }

  add(c: ReplayCase, result: ReplayResult): void {
    let server = this.#servers.get(c.server);
    if (!server) this.#servers.set(c.server, (server = new Group(c.server, '*')));
    const id = toolId(c.server, c.tool);
    let tool = this.#tools.get(id);
    if (!tool) this.#tools.set(id, (tool = new Group(c.server, c.tool)));
    const groups = [this.#overall, server, tool];
    for (const g of groups) {
      g.calls++;
      g.latencies.push(result.seconds);
    }
    if (!result.ok) {
      for (const g of groups) g.errors++;
      if (this.#errors.length < MAX_LISTED_ERRORS) {
        this.#errors.push({
          file: this.#file(c),
          line: c.line,
          server: c.server,
          tool: c.tool,
          code: result.code,
          message: result.message,
        });
      }
      return;
    }
    for (const g of groups) g[result.tier]++;
    if (result.diverged) for (const g of groups) g.diverged++;
    if (result.tier === 'miss') {
      const reason = result.reason ?? 'no_similar_calls';
      for (const g of groups) g.missReasons.set(reason, (g.missReasons.get(reason) ?? 0) + 1);
      return;
    }
    if (c.expected === null) return;
    const same = c.expected.isError === result.isError && sameOutput(c.expected.outputJson, result.outputJson);
    if (result.tier === 'fuzzy') {
      for (const g of groups) {
        g.fuzzyCompared++;
        if (same) g.fuzzyMatching++;
      }
      return;
    }
    for (const g of groups) g.compared++;
    if (same) return;
    const hiddenState = (result.outputs ?? 1) > 1;
    for (const g of groups) {
      if (hiddenState) g.differingHiddenState++;
      else g.differing++;
    }
    (hiddenState ? this.#hiddenState : this.#unexplained).push({
      file: this.#file(c),
      line: c.line,
      server: c.server,
      tool: c.tool,
      key: result.key,
      arguments: parseJson(c.arguments),
      expected: parseJson(c.expected.outputJson),
      expectedIsError: c.expected.isError,
      served: parseJson(result.outputJson),
      servedIsError: result.isError,
      recordedOutputs: result.outputs ?? null,
    });
  }

  #file(c: ReplayCase): string {
    const input = this.#inputs[c.input] ?? '?';
    return input === '-' ? '<stdin>' : input;
  }

  report(
    meta: Pick<
      ReplayReport,
      'target' | 'startedAt' | 'seconds' | 'lines' | 'rejected' | 'toolRecords' | 'failedInputs' | 'expectedFailures'
    >,
  ): ReplayReport {
    const overall = this.#overall.report();
    const byPlace = (a: DifferingAnswer, b: DifferingAnswer): number =>
      a.file === b.file ? a.line - b.line : this.#inputs.indexOf(a.file) - this.#inputs.indexOf(b.file);
    const byName = (a: GroupReport, b: GroupReport): number =>
      a.server === b.server ? (a.tool < b.tool ? -1 : a.tool > b.tool ? 1 : 0) : a.server < b.server ? -1 : 1;
    const keys = (list: DifferingAnswer[]): number => new Set(list.map((d) => d.key)).size;
    return {
      ...meta,
      inputs: [...this.#inputs],
      overall,
      servers: [...this.#servers.values()].map((g) => g.report()).sort(byName),
      tools: [...this.#tools.values()].map((g) => g.report()).sort(byName),
      missReasons: MISS_REASONS.filter((r) => overall.missReasons[r] !== undefined).map((reason) => ({
        reason,
        calls: overall.missReasons[reason]!,
        share: overall.calls === 0 ? 0 : overall.missReasons[reason]! / overall.calls,
      })),
      differing: {
        unexplained: this.#unexplained.sort(byPlace),
        unexplainedKeys: keys(this.#unexplained),
        hiddenState: this.#hiddenState.sort(byPlace),
        hiddenStateKeys: keys(this.#hiddenState),
      },
      errors: this.#errors,
      gates: [],
    };
  }
}
