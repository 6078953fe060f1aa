/**
 * Tier 2: no recording of this call, but close ones of the same tool. An LLM improvises the answer
 * from the nearest recorded calls; the improvisation is memoized apart from the recordings and served
 * again as `fuzzy` with `match.memoized: true`, never as `exact`.
 *
 * In order: threshold (`no_similar_calls`), memo, single-flight (identical calls in flight share one
 * improvisation), budget (`llm_budget_exhausted`), circuit breaker (`llm_unavailable`), a slot under
 * the concurrency cap, then at most two requests (the second only after an invalid answer:
 * `llm_invalid_output`), all within one deadline. Every failure of the LLM becomes a labelled miss.
 *
 * `createFuzzy` builds it from configuration: on when an API key is set (`--fuzzy auto`), or forced
 * on or off; when off it still explains what it would ask. What must outlive a reload of the cache
 * is made once per process: the LLM client, the concurrency cap, the circuit breaker, the budgets
 * and the memo's connection. Each snapshot gets its own tier on top of them (its snapshot id, its
 * catalog, its in-flight calls).
 */

import { ConfigError } from '../../core/errors.js';
import type { Metrics } from '../../core/metrics.js';
import type { Answer, Call, MissReason, Neighbor, Observation } from '../../core/types.js';
import { Memo, type MemoId } from '../../store/memo.js';
import { round } from '../miss.js';
import { answered, type Outcome, type Plan, pass, type Resolution, type Tier, type TierFactory } from '../tier.js';
import { checkAnswer } from './answer-check.js';
import { CircuitBreaker } from './breaker.js';
import { Budget } from './budget.js';
import { AnthropicLlm, type Llm, type LlmReply, type RequestOutcome, respondAnswer } from './llm.js';
import { buildPrompt, type Example, PROMPT_VERSION, type Prompt, retryNote, type ToolDescription } from './prompt.js';
import { Semaphore } from './semaphore.js';

/** The fuzzy tier's options; a configuration resolved with FUZZY_OPTIONS (src/config.ts) is one. */
export interface FuzzyConfig {
  readonly fuzzy: 'auto' | 'on' | 'off';
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly model: string;
  /** Below this similarity of the nearest recorded call, the answer is `no_similar_calls`. */
  readonly threshold: number;
  /** Token budget of the examples in a prompt. */
  readonly promptTokens: number;
  readonly llmOutputTokens: number;
  /** Deadline of one improvisation, retries included. */
  readonly llmDeadlineMs: number;
  readonly llmConcurrency: number;
  readonly llmRetries: number;
  readonly llmMaxRequests: number;
  readonly llmMaxTokens: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
}

export interface FuzzyExtras {
  /** The clock of the circuit breaker (tests move it). */
  now?: () => number;
}

export interface Fuzzy {
  /** The tier of one snapshot of the cache (SimulatorOptions.fuzzy). */
  readonly tier: TierFactory;
  readonly enabled: boolean;
  /** Closes the memo's connection. */
  close(): void;
}

const OFF = 'the fuzzy tier is off (no ANTHROPIC_API_KEY, or --fuzzy off)';

/** Is the fuzzy tier on under this configuration? Throws when forced on without a key. */
function fuzzyEnabled(config: Pick<FuzzyConfig, 'fuzzy' | 'apiKey'>): boolean {
  if (config.fuzzy === 'off') return false;
  if (config.apiKey !== '') return true;
  if (config.fuzzy === 'on') throw new ConfigError('--fuzzy on needs an API key: set ANTHROPIC_API_KEY');
  return false;
}

export function createFuzzy(config: FuzzyConfig, extras: FuzzyExtras = {}): Fuzzy {
  const enabled = fuzzyEnabled(config);
  const llm: Llm | undefined = enabled
    ? new AnthropicLlm({
        apiKey: config.apiKey,
        baseURL: config.baseUrl,
        model: config.model,
        maxRetries: config.llmRetries,
        timeoutMs: config.llmDeadlineMs,
        maxOutputTokens: config.llmOutputTokens,
      })
    : undefined;
  const lifetime: ProcessParts = {
    llm,
    config,
    semaphore: new Semaphore(config.llmConcurrency),
    breaker: new CircuitBreaker({
      failures: config.breakerFailures,
      cooldownMs: config.breakerCooldownMs,
      ...(extras.now ? { now: extras.now } : {}),
    }),
    budget: new Budget({ requests: config.llmMaxRequests, tokens: config.llmMaxTokens }),
  };
  const memos = new Map<string, Memo>();
  const memoOf = (path: string): Memo => {
    let memo = memos.get(path);
    if (!memo) memos.set(path, (memo = new Memo(path)));
    return memo;
  };
  return {
    enabled,
    tier: ({ store, metrics }) =>
      new FuzzyTier(lifetime, { memo: memoOf(store.path), metrics, snapshotId: store.snapshotId, tools: store.catalog() }),
    close() {
      for (const memo of memos.values()) memo.close();
      memos.clear();
    },
  };
}

/** Tier 2 while no fuzzy tier is configured: passes every call on as `fuzzy_disabled`. */
export class DisabledFuzzyTier implements Tier {
  readonly name = 'fuzzy';

  resolve(): Outcome {
    return pass('fuzzy_disabled');
  }

  explain(): Plan {
    return { answers: false, reason: 'fuzzy_disabled', why: OFF };
  }
}

/** What lives as long as the process, shared by the tiers of every snapshot. */
interface ProcessParts {
  /** Undefined when the tier is off: it still explains what it would ask. */
  llm: Llm | undefined;
  config: FuzzyConfig;
  semaphore: Semaphore;
  breaker: CircuitBreaker;
  budget: Budget;
}

/** What belongs to one snapshot of the cache. */
interface SnapshotParts {
  memo: Memo;
  metrics: Metrics;
  snapshotId: string;
  tools: readonly ToolDescription[];
}

/** What the tier does with a call: `resolve` acts on it, `explain` describes it. */
type Decision =
  | { kind: 'pass'; reason: MissReason; why: string }
  | { kind: 'memoized'; answer: Observation; why: string }
  /** An improvisation of the same call is in flight: its outcome is shared. */
  | { kind: 'join'; flight: Promise<Outcome>; why: string }
  | { kind: 'improvise'; llm: Llm; prompt: Prompt; why: string };

class FuzzyTier implements Tier {
  readonly name = 'fuzzy';
  readonly #p: ProcessParts;
  readonly #s: SnapshotParts;
  readonly #tools = new Map<string, ToolDescription>();
  /** Improvisations in flight, by call key. */
  readonly #inFlight = new Map<string, Promise<Outcome>>();

  constructor(lifetime: ProcessParts, snapshot: SnapshotParts) {
    this.#p = lifetime;
    this.#s = snapshot;
    for (const tool of snapshot.tools) this.#tools.set(JSON.stringify([tool.server, tool.tool]), tool);
  }

  async resolve(resolution: Resolution): Promise<Outcome> {
    const decision = this.#decide(resolution);
    switch (decision.kind) {
      case 'pass':
        return pass(decision.reason);
      case 'memoized':
        this.#s.metrics.fuzzyMemoHits.inc();
        return answered(fuzzyAnswer(resolution, decision.answer, true));
      case 'join':
        this.#s.metrics.singleflightJoins.inc();
        return decision.flight;
      case 'improvise': {
        const { key } = resolution.call;
        // The improvisation is shared by every caller that joins it; its deadline bounds it.
        const flight = this.#improvise(resolution, decision.llm, decision.prompt).finally(() => this.#inFlight.delete(key));
        this.#inFlight.set(key, flight);
        return flight;
      }
    }
  }

  explain(resolution: Resolution): Plan {
    const decision = this.#decide(resolution);
    const plan: Plan =
      decision.kind === 'pass'
        ? { answers: false, reason: decision.reason, why: decision.why }
        : { answers: true, memoized: decision.kind === 'memoized', why: decision.why };
    if (resolution.neighbors().length === 0) return plan;
    return { ...plan, prompt: decision.kind === 'improvise' ? decision.prompt : this.#prompt(resolution) };
  }

  /** The one ladder behind `resolve` and `explain`. Changes nothing and counts nothing. */
  #decide(resolution: Resolution): Decision {
    const { call } = resolution;
    const { llm, config, budget, breaker } = this.#p;
    const top = resolution.neighbors()[0]?.similarity ?? 0;
    if (!llm) return { kind: 'pass', reason: 'fuzzy_disabled', why: OFF };
    if (resolution.neighbors().length === 0 || top < config.threshold) {
      return {
        kind: 'pass',
        reason: 'no_similar_calls',
        why: `the nearest recorded call has similarity ${round(top)}, below the threshold ${config.threshold}`,
      };
    }
    const memoized = this.#s.memo.get(this.#memoId(call));
    if (memoized)
      return { kind: 'memoized', answer: memoized, why: `an improvisation of this call by ${config.model} is memoized for this snapshot` };
    const flight = this.#inFlight.get(call.key);
    if (flight) return { kind: 'join', flight, why: `an improvisation of this call by ${config.model} is under way` };
    if (!budget.allows()) return { kind: 'pass', reason: 'llm_budget_exhausted', why: 'the LLM budget is spent' };
    if (breaker.state === 'open')
      return { kind: 'pass', reason: 'llm_unavailable', why: 'the circuit breaker is open after repeated LLM failures' };
    const prompt = this.#prompt(resolution);
    return {
      kind: 'improvise',
      llm,
      prompt,
      why: `the nearest recorded call has similarity ${round(top)} (threshold ${config.threshold}); ${config.model} would improvise from ${prompt.examples} example(s)`,
    };
  }

  /** The prompt for a call and its neighbours (exactly what would be sent). */
  #prompt(resolution: Resolution): Prompt {
    const { call } = resolution;
    const examples: Example[] = [];
    for (const { neighbor: n, served } of recordedNeighbors(resolution))
      examples.push({ arguments: n.arguments, outputJson: served.outputJson, isError: served.isError, similarity: n.similarity });
    const tool = this.#tools.get(JSON.stringify([call.server, call.tool])) ?? { server: call.server, tool: call.tool };
    return buildPrompt(tool, examples, call.arguments, this.#p.config.promptTokens);
  }

  #memoId(call: Call): MemoId {
    return { snapshotId: this.#s.snapshotId, key: call.key, model: this.#p.config.model, promptVersion: PROMPT_VERSION };
  }

  async #improvise(resolution: Resolution, llm: Llm, prompt: Prompt): Promise<Outcome> {
    const { budget, breaker, semaphore, config } = this.#p;
    // In half-open, only one probe goes out; `#decide` saw the breaker not open, this takes the probe.
    if (!breaker.allow()) return pass('llm_unavailable');
    const deadline = AbortSignal.timeout(config.llmDeadlineMs);
    if (!(await semaphore.acquire(deadline))) {
      breaker.release();
      return pass('llm_unavailable');
    }
    try {
      const examples: Observation[] = recordedNeighbors(resolution).map((r) => r.served);
      let note = '';
      for (let attempt = 0; attempt < 2; attempt++) {
        if (!budget.allows()) {
          breaker.release();
          return pass('llm_budget_exhausted');
        }
        budget.spendRequest();
        const reply = await this.#ask(llm, prompt, note, deadline);
        if (reply.kind === 'failed') {
          breaker.failure();
          return pass('llm_unavailable');
        }
        breaker.success();
        const answer = reply.kind === 'respond' ? respondAnswer(reply.input) : undefined;
        const checked = answer
          ? checkAnswer(answer.output, answer.isError, examples)
          : ({ ok: false, reason: 'no call of the respond tool' } as const);
        if (checked.ok) {
          this.#count('ok');
          const id = this.#memoId(resolution.call);
          this.#s.memo.put(id, checked);
          // Another process may have memoized first; its answer stands, so everyone serves the same.
          return answered(fuzzyAnswer(resolution, this.#s.memo.get(id) ?? checked, false));
        }
        this.#count('invalid_output');
        note = retryNote(checked.reason);
      }
      return pass('llm_invalid_output');
    } finally {
      semaphore.release();
    }
  }

  async #ask(llm: Llm, prompt: Prompt, note: string, signal: AbortSignal): Promise<LlmReply> {
    const timer = this.#s.metrics.llmDuration.startTimer();
    const reply = await llm.ask({ system: prompt.system, user: prompt.user + note, signal });
    timer();
    if (reply.kind === 'failed') {
      this.#count(reply.outcome);
      return reply;
    }
    const { usage } = reply;
    const tokens = this.#s.metrics.llmTokens;
    tokens.inc({ type: 'input' }, usage.input);
    tokens.inc({ type: 'output' }, usage.output);
    tokens.inc({ type: 'cache_read' }, usage.cacheRead);
    tokens.inc({ type: 'cache_write' }, usage.cacheWrite);
    this.#p.budget.spendTokens(usage.input + usage.output + usage.cacheRead + usage.cacheWrite);
    return reply;
  }

  #count(outcome: RequestOutcome): void {
    this.#s.metrics.llmRequests.inc({ outcome });
  }
}

function fuzzyAnswer(resolution: Resolution, answer: Observation, memoized: boolean): Answer {
  return {
    tier: 'fuzzy',
    outputJson: answer.outputJson,
    isError: answer.isError,
    match: {
      key: resolution.call.key,
      memoized,
      neighbors: resolution.neighbors().map((n) => ({ arguments: n.arguments, similarity: round(n.similarity) })),
    },
  };
}

/**
 * The neighbours with the observation each replays. Recorded failures (transient) are examples
 * only when no neighbour has anything else: an outage is not an answer to copy.
 */
function recordedNeighbors(resolution: Resolution): { neighbor: Neighbor; served: Observation }[] {
  const all = resolution.neighbors().flatMap((neighbor) => {
    const served = resolution.recorded(neighbor.key);
    return served ? [{ neighbor, served }] : [];
  });
  const real = all.filter((r) => !r.served.transient);
  return real.length > 0 ? real : all;
}
