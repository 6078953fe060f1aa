/**
 * Tier 2: no recording of this call, but close ones of the same tool. An LLM improvises the answer
 * from the nearest recorded calls; the improvisation is memoized apart from the recordings and served
 * again as `fuzzy` with `match.memoized: true`, never as `exact`.
 *
 * In order: threshold (`no_similar_calls`), memo, single-flight (identical calls in flight share one
 * improvisation), budget (`llm_budget_exhausted`), circuit breaker (`llm_unavailable`), a slot under
 * the concurrency cap, then at most two requests (the second only after an invalid answer:
 * `llm_invalid_output`), all within one deadline. Every failure of the LLM becomes a labelled miss.
 */
import { checkAnswer } from './answer-check.js';
import type { CircuitBreaker } from './breaker.js';
import type { Budget } from './budget.js';
import { respondAnswer, type Llm, type LlmReply, type RequestOutcome } from './llm.js';
import type { Memo, MemoId } from '../../store/memo.js';
import type { Metrics } from '../../core/metrics.js';
import { buildPrompt, PROMPT_VERSION, retryNote, type Example, type Prompt, type ToolDescription } from './prompt.js';
import type { Semaphore } from './semaphore.js';
import type { Answer, Call, Neighbor, Observation } from '../../core/types.js';
import type { ExactTier } from '../exact.js';
import { round } from '../miss.js';
import { answered, pass, type Outcome, type Plan, type Resolution, type Tier } from '../tier.js';

/** Tier 2 while no LLM is configured: passes every call on as `fuzzy_disabled`. */
export class DisabledFuzzyTier implements Tier {
  readonly name = 'fuzzy';

  resolve(): Outcome {
    return pass('fuzzy_disabled');
  }

  explain(): Plan {
    return { answers: false, reason: 'fuzzy_disabled', why: 'the fuzzy tier is off (no ANTHROPIC_API_KEY, or --fuzzy off)' };
  }
}

export interface FuzzyTierOptions {
  /** Undefined when the tier is off: it still explains what it would ask. */
  llm: Llm | undefined;
  model: string;
  exact: ExactTier;
  memo: Memo;
  metrics: Metrics;
  snapshotId: string;
  tools: readonly ToolDescription[];
  /** Below this similarity of the nearest recorded call, the answer is `no_similar_calls`. */
  threshold: number;
  /** Token budget of the examples in a prompt. */
  promptTokens: number;
  deadlineMs: number;
  semaphore: Semaphore;
  breaker: CircuitBreaker;
  budget: Budget;
}

export class FuzzyTier implements Tier {
  readonly name = 'fuzzy';
  readonly #o: FuzzyTierOptions;
  readonly #tools = new Map<string, ToolDescription>();
  /** Improvisations in flight, by call key. */
  readonly #inFlight = new Map<string, Promise<Outcome>>();

  constructor(options: FuzzyTierOptions) {
    this.#o = options;
    for (const tool of options.tools) this.#tools.set(JSON.stringify([tool.server, tool.tool]), tool);
  }

  async resolve(resolution: Resolution): Promise<Outcome> {
    const { call } = resolution;
    const neighbors = resolution.neighbors();
    if (!this.#o.llm) return pass('fuzzy_disabled');
    if (!this.#closeEnough(neighbors)) return pass('no_similar_calls');
    const memoized = this.#o.memo.get(this.#memoId(call));
    if (memoized) {
      this.#o.metrics.fuzzyMemoHits.inc();
      return answered(fuzzyAnswer(call, memoized, neighbors, true));
    }
    const running = this.#inFlight.get(call.key);
    if (running) {
      this.#o.metrics.singleflightJoins.inc();
      return running;
    }
    // The improvisation is shared by every caller that joins it, so no one caller's disconnect aborts it.
    const started = this.#improvise(call, neighbors, this.#o.llm).finally(() => this.#inFlight.delete(call.key));
    this.#inFlight.set(call.key, started);
    return started;
  }

  explain(resolution: Resolution): Plan {
    const { call } = resolution;
    const neighbors = resolution.neighbors();
    const prompt = neighbors.length > 0 ? this.prompt(call, neighbors) : undefined;
    const withPrompt = <T extends Plan>(plan: T): T => (prompt ? { ...plan, prompt } : plan);
    const top = neighbors[0]?.similarity ?? 0;
    if (!this.#o.llm) return withPrompt({ answers: false, reason: 'fuzzy_disabled', why: 'the fuzzy tier is off (no ANTHROPIC_API_KEY, or --fuzzy off)' });
    if (!this.#closeEnough(neighbors)) {
      return withPrompt({ answers: false, reason: 'no_similar_calls', why: `the nearest recorded call has similarity ${round(top)}, below the threshold ${this.#o.threshold}` });
    }
    if (this.#o.memo.get(this.#memoId(call))) {
      return withPrompt({ answers: true, memoized: true, why: `an improvisation of this call by ${this.#o.model} is memoized for this snapshot` });
    }
    if (!this.#o.budget.allows()) return withPrompt({ answers: false, reason: 'llm_budget_exhausted', why: 'the LLM budget is spent' });
    if (this.#o.breaker.state === 'open') return withPrompt({ answers: false, reason: 'llm_unavailable', why: 'the circuit breaker is open after repeated LLM failures' });
    return withPrompt({ answers: true, memoized: false, why: `the nearest recorded call has similarity ${round(top)} (threshold ${this.#o.threshold}); ${this.#o.model} would improvise from ${prompt?.examples ?? 0} example(s)` });
  }

  /** The prompt for a call and its neighbours (exactly what would be sent). */
  prompt(call: Call, neighbors: readonly Neighbor[]): Prompt {
    const examples: Example[] = [];
    for (const n of neighbors) {
      const served = this.#o.exact.lookup(n.key);
      if (served) examples.push({ arguments: n.arguments, outputJson: served.outputJson, isError: served.isError, similarity: n.similarity });
    }
    const tool = this.#tools.get(JSON.stringify([call.server, call.tool])) ?? { server: call.server, tool: call.tool };
    return buildPrompt(tool, examples, call.arguments, this.#o.promptTokens);
  }

  #closeEnough(neighbors: readonly Neighbor[]): boolean {
    const top = neighbors[0];
    return top !== undefined && top.similarity >= this.#o.threshold;
  }

  #memoId(call: Call): MemoId {
    return { snapshotId: this.#o.snapshotId, key: call.key, model: this.#o.model, promptVersion: PROMPT_VERSION };
  }

  async #improvise(call: Call, neighbors: readonly Neighbor[], llm: Llm): Promise<Outcome> {
    const { budget, breaker, semaphore } = this.#o;
    if (!budget.allows()) return pass('llm_budget_exhausted');
    if (!breaker.allow()) return pass('llm_unavailable');
    const deadline = AbortSignal.timeout(this.#o.deadlineMs);
    if (!(await semaphore.acquire(deadline))) {
      breaker.release();
      return pass('llm_unavailable');
    }
    try {
      const prompt = this.prompt(call, neighbors);
      const examples: Observation[] = neighbors.flatMap((n) => this.#o.exact.lookup(n.key) ?? []);
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
        const checked = answer ? checkAnswer(answer.output, answer.isError, examples) : ({ ok: false, reason: 'no call of the respond tool' } as const);
        if (checked.ok) {
          this.#count('ok');
          const id = this.#memoId(call);
          this.#o.memo.put(id, checked);
          // Another process may have memoized first; its answer stands, so everyone serves the same.
          return answered(fuzzyAnswer(call, this.#o.memo.get(id) ?? checked, neighbors, false));
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
    const timer = this.#o.metrics.llmDuration.startTimer();
    const reply = await llm.ask({ system: prompt.system, user: prompt.user + note, signal });
    timer();
    if (reply.kind === 'failed') {
      this.#count(reply.outcome);
      return reply;
    }
    const { usage } = reply;
    const tokens = this.#o.metrics.llmTokens;
    tokens.inc({ type: 'input' }, usage.input);
    tokens.inc({ type: 'output' }, usage.output);
    tokens.inc({ type: 'cache_read' }, usage.cacheRead);
    tokens.inc({ type: 'cache_write' }, usage.cacheWrite);
    this.#o.budget.spendTokens(usage.input + usage.output + usage.cacheRead + usage.cacheWrite);
    return reply;
  }

  #count(outcome: RequestOutcome): void {
    this.#o.metrics.llmRequests.inc({ outcome });
  }
}

function fuzzyAnswer(call: Call, answer: Observation, neighbors: readonly Neighbor[], memoized: boolean): Answer {
  return {
    tier: 'fuzzy',
    outputJson: answer.outputJson,
    isError: answer.isError,
    match: { key: call.key, memoized, neighbors: neighbors.map((n) => ({ arguments: n.arguments, similarity: round(n.similarity) })) },
  };
}
