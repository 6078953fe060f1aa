/**
 * Tier 2: no recording of this call, but close ones of the same tool. An LLM improvises the answer
 * from the nearest recorded calls; the improvisation is memoized apart from the recordings and served
 * again as `fuzzy` with `match.memoized: true`, never as `exact`.
 *
 * Calls reach it only when they fit the tool (src/tiers/eligibility.ts). In order: nothing to improvise
 * from (no recorded call of the tool, nor a description or schema), or an opt-in similarity floor
 * (`no_similar_calls`), memo, single-flight (identical calls in flight share one
 * improvisation), budget (`llm_budget_exhausted`), circuit breaker (`llm_unavailable`), a slot under
 * the concurrency cap (waited for at most `llmQueueMs`: `llm_busy`), then at most two requests (the
 * second only after an invalid answer: `llm_invalid_output`) within one deadline that starts once
 * the slot is held. Every failure of the LLM becomes a labelled miss; only the LLM's own failures
 * (an error, or no answer within the deadline) count towards the circuit breaker. A prompt that
 * cannot fit `promptTokens` with the call's own arguments is never sent: `prompt_too_large`.
 *
 * `createFuzzy` builds it from configuration: on when an API key is set (`--fuzzy auto`), or forced
 * on or off; when off it still explains what it would ask. What must outlive a reload of the cache
 * is made once per process: the LLM client, the concurrency cap, the circuit breaker, the budgets
 * and the memo's connection. Each snapshot gets its own tier on top of them (its snapshot id, its
 * catalog, its in-flight calls).
 */

import { KeptImprovisation } from '../../core/answer-json.js';
import { ConfigError } from '../../core/errors.js';
import type { Metrics } from '../../core/metrics.js';
import { type ToolId, toolId } from '../../core/tool-id.js';
import {
  type Answer,
  type Call,
  type JsonObject,
  MISS_REASONS,
  type MissReason,
  type Neighbor,
  type Observation,
} from '../../core/types.js';
import type { OutputShapes, ToolGuide } from '../../neighbors/output-shapes.js';
import { disagreements, shapeJson } from '../../shapes/describe.js';
import type { OutputShape } from '../../shapes/shape.js';
import type { FuzzyMemo, MemoRead, MemoStatus } from '../../store/memo.js';
import { type MemoId, memoId, memoIdText } from '../../store/memo-key.js';
import { PostgresMemo } from '../../store/memo-postgres.js';
import { SqliteMemo, SqliteMemoTable } from '../../store/memo-sqlite.js';
import { AnswerLru, type AnswerMemory } from '../answer-lru.js';
import { listNeighbors, round } from '../miss.js';
import { answered, type Outcome, type OutputPlan, type Plan, pass, passes, type Resolution, type Tier, type TierFactory } from '../tier.js';
import { type Checked, checkAnswer } from './answer-check.js';
import { CircuitBreaker } from './breaker.js';
import { Budget } from './budget.js';
import { AnthropicLlm, type Llm, type LlmReply, type RequestOutcome, respondAnswer } from './llm.js';
import { buildPrompt, type Example, type OutputGuideText, PROMPT_VERSION, type Prompt, retryNote, type ToolDescription } from './prompt.js';
import { Semaphore } from './semaphore.js';

/** The fuzzy tier's options; a configuration resolved with FUZZY_OPTIONS (src/config.ts) is one. */
export interface FuzzyConfig {
  readonly fuzzy: 'auto' | 'on' | 'off';
  readonly apiKey: string;
  readonly baseUrl: string;
  readonly model: string;
  /** An opt-in floor: above 0, a call whose nearest recorded call scores below it is `no_similar_calls`. */
  readonly threshold: number;
  /** Token budget of a whole prompt, the call's own arguments included. */
  readonly promptTokens: number;
  readonly llmOutputTokens: number;
  /** Deadline of one improvisation, retries included. */
  readonly llmDeadlineMs: number;
  /** Longest wait for a slot under `llmConcurrency`; then `llm_busy`. */
  readonly llmQueueMs: number;
  readonly llmConcurrency: number;
  readonly llmRetries: number;
  readonly llmMaxRequests: number;
  readonly llmMaxTokens: number;
  readonly breakerFailures: number;
  readonly breakerCooldownMs: number;
  /** A PostgreSQL URL: the memo shared by every replica; empty or absent, the memo lives in a SQLite file beside the cache (`CACHE.memo`). */
  readonly memoUrl?: string;
}

export interface FuzzyExtras {
  /** The clock of the circuit breaker (tests move it). */
  now?: () => number;
  /** Told of every change of a shared memo's state (to log it). */
  onMemoChange?: (status: MemoStatus) => void;
}

/** A claim outlives the owner's worst case by this much (its final write), then another replica may take over. */
const CLAIM_MARGIN_MS = 5000;

/**
 * The longest an owner of a claim may take: a slot under the concurrency cap (`llmQueueMs`), then
 * the improvisation's deadline (`llmDeadlineMs`), then its write (within CLAIM_MARGIN_MS). A claim
 * lives that long, so no second replica asks while the owner is still at it, and a waiter on
 * another replica waits that long (and a little more, to take over a claim whose owner died).
 */
export function claimTtlMs(config: Pick<FuzzyConfig, 'llmQueueMs' | 'llmDeadlineMs'>): number {
  return config.llmQueueMs + config.llmDeadlineMs + CLAIM_MARGIN_MS;
}
const WAITER_EXTRA_MS = 1000;

export interface Fuzzy {
  /** The tier of one snapshot of the cache (SimulatorOptions.fuzzy). */
  readonly tier: TierFactory;
  readonly enabled: boolean;
  /** The shared memo's state (/readyz); undefined with the embedded memo, which is up while the cache is. */
  memoStatus(): MemoStatus | undefined;
  /** Connects a shared memo (one attempt; it goes on retrying in the background). */
  start(): Promise<void>;
  /** Closes the memo's connections. */
  close(): Promise<void>;
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
  // The shared memo serves every snapshot (the snapshot id is part of its key); it is needed only when improvising.
  const shared =
    enabled && config.memoUrl
      ? new PostgresMemo({
          url: config.memoUrl,
          claimTtlMs: claimTtlMs(config),
          ...(extras.onMemoChange ? { onChange: extras.onMemoChange } : {}),
        })
      : undefined;
  const memos = new Map<string, SqliteMemo>();
  const memoOf = (path: string): FuzzyMemo => {
    if (shared) return shared;
    let memo = memos.get(path);
    if (!memo) memos.set(path, (memo = new SqliteMemo(new SqliteMemoTable(path))));
    return memo;
  };
  return {
    enabled,
    tier: ({ context, metrics, answers }) => {
      shared?.serving(context.id);
      return new FuzzyTier(lifetime, {
        memo: memoOf(context.path),
        answers,
        metrics,
        snapshotId: context.id,
        tools: context.catalog.tools,
        shapes: context.shapes,
      });
    },
    memoStatus: () => shared?.status(),
    start: async () => shared?.start(),
    async close() {
      for (const memo of memos.values()) memo.close();
      memos.clear();
      await shared?.close();
    },
  };
}

/** Tier 2 while no fuzzy tier is configured: passes every call on as `fuzzy_disabled`. */
export class DisabledFuzzyTier implements Tier {
  readonly name = 'fuzzy';
  readonly needsNeighbors = false;

  resolve(): Outcome {
    return pass('fuzzy_disabled');
  }

  explain(): Plan {
    return passes(OFF, 'fuzzy_disabled');
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
  memo: FuzzyMemo;
  /** The snapshot's answers in memory, where this tier keeps its memo hits (on its own shelf). */
  answers: AnswerMemory;
  metrics: Metrics;
  snapshotId: string;
  tools: readonly (ToolDescription & { output_schema?: JsonObject | undefined })[];
  /** What improvised answers are held to: each tool's declared output schema or learnt shape. */
  shapes: OutputShapes;
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
  readonly needsNeighbors = true;
  readonly #p: ProcessParts;
  readonly #s: SnapshotParts;
  readonly #tools = new Map<ToolId, SnapshotParts['tools'][number]>();
  /** Improvisations in flight, by call key. */
  readonly #inFlight = new Map<string, Promise<Outcome>>();
  /**
   * Memo hits as served, by call key (this tier's snapshot, model and prompt version are fixed):
   * a call improvised or read from the memo once is answered from memory after, neighbours and all.
   */
  readonly #hits: AnswerLru<KeptImprovisation>;

  constructor(lifetime: ProcessParts, snapshot: SnapshotParts) {
    this.#p = lifetime;
    this.#s = snapshot;
    for (const tool of snapshot.tools) this.#tools.set(toolId(tool.server, tool.tool), tool);
    this.#hits = new AnswerLru<KeptImprovisation>({ memory: snapshot.answers, prefix: 'f:', bytesOf: (hit) => hit.bytes.length });
  }

  recall(key: string): Answer | undefined {
    const hit = this.#hits.get(key);
    if (hit) this.#s.metrics.fuzzyMemoHits.inc();
    return hit;
  }

  async resolve(resolution: Resolution): Promise<Outcome> {
    const outcome = await this.#resolve(resolution);
    // An improvisation that stands (memoized now or before; not one held in memory while its write
    // waits) is recalled from memory from its next use on.
    if (outcome.kind === 'answer' && !resolution.rollout && !outcome.answer.match.unmemoized)
      this.#hits.set(resolution.call.key, new KeptImprovisation(outcome.answer));
    return outcome;
  }

  async #resolve(resolution: Resolution): Promise<Outcome> {
    // The memo is read (a shared one over the network) only for calls that could be improvised.
    let decision = this.#gate(resolution);
    if (!decision) {
      const memo = await this.#s.memo.get(this.#memoId(resolution));
      // The output shape goes into the prompt and guards the answer: learnt off the event loop,
      // and only for a call that may be improvised (a memoized answer passed the guard already).
      if (memo.kind === 'none') await this.#ready(resolution.call);
      decision = this.#decide(resolution, memo);
    }
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
        // In flight by memo id: a call in diverged state is another improvisation under each history.
        const key = memoIdText(this.#memoId(resolution));
        // The improvisation is shared by every caller that joins it; its deadline bounds it.
        const flight = this.#claimed(resolution, decision.llm, decision.prompt).finally(() => this.#inFlight.delete(key));
        this.#inFlight.set(key, flight);
        return flight;
      }
    }
  }

  explain(resolution: Resolution): Plan {
    const memoized = this.#s.memo.peek(this.#memoId(resolution));
    const decision = this.#gate(resolution) ?? this.#decide(resolution, memoized ? { kind: 'hit', answer: memoized } : { kind: 'none' });
    const plan: Plan =
      decision.kind === 'pass'
        ? passes(decision.why, decision.reason)
        : { outcome: 'fuzzy', memoized: decision.kind === 'memoized', why: decision.why };
    plan.output = this.#outputPlan(resolution.call);
    if (resolution.neighbors().length === 0 && decision.kind !== 'improvise') return plan;
    return { ...plan, prompt: decision.kind === 'improvise' ? decision.prompt : this.#prompt(resolution) };
  }

  #ready(call: Call): Promise<void> {
    return this.#s.shapes.ready(call.server, call.tool);
  }

  prepare(call: Call): void {
    // Only a tier that can improvise needs the shape; a failure here is met again by `resolve`.
    if (this.#p.llm && !this.#s.shapes.isReady(call.server, call.tool)) this.#ready(call).catch(() => undefined);
  }

  /** The tool's guide once learnt off the event loop; else (commands) its shape learnt here and now. */
  #guide(call: Call): { guide: ToolGuide | undefined; shape: OutputShape } {
    const guide = this.#s.shapes.guideOf(call.server, call.tool);
    return { guide, shape: guide?.shape ?? this.#s.shapes.shapeNow(call.server, call.tool) };
  }

  /** What the answer is held to, as the prompt shows it: the declared schema (when it compiles), else the shape. */
  #outputText(call: Call): OutputGuideText {
    const { guide, shape } = this.#guide(call);
    const declared = this.#tools.get(toolId(call.server, call.tool))?.output_schema;
    return declared && !guide?.schemaProblem ? { declared } : { shape };
  }

  #outputPlan(call: Call): OutputPlan {
    const { guide, shape } = this.#guide(call);
    const declared = this.#tools.get(toolId(call.server, call.tool))?.output_schema;
    const problem = guide?.schemaProblem;
    if (declared && !problem) return { guard: 'declared', schema: declared };
    const plan: OutputPlan = shape.success || shape.error ? { guard: 'learnt', schema: shapeJson(shape) } : { guard: 'none' };
    const disagree = disagreements(shape);
    if (disagree.length > 0) plan.disagreements = disagree;
    if (problem) plan.problem = problem;
    return plan;
  }

  /** The first rungs of the ladder, before the memo is read: is the call one to improvise at all? */
  #gate(resolution: Resolution): Decision | undefined {
    const { llm, config } = this.#p;
    const top = resolution.neighbors()[0]?.similarity ?? 0;
    if (!llm) return { kind: 'pass', reason: 'fuzzy_disabled', why: OFF };
    // A tool nobody recorded is improvised from its tool record alone (`match.neighbors` is then empty).
    const described = this.#tools.get(toolId(resolution.call.server, resolution.call.tool));
    if (resolution.neighbors().length === 0 && !described?.description && !described?.input_schema)
      return {
        kind: 'pass',
        reason: 'no_similar_calls',
        why: 'the tool has no recorded call, nor a description or schema, to improvise from',
      };
    if (top < config.threshold) {
      return {
        kind: 'pass',
        reason: 'no_similar_calls',
        why: `the nearest recorded call has similarity ${round(top)}, below --similarity-threshold ${config.threshold}`,
      };
    }
    return undefined;
  }

  /** The rest of the ladder behind `resolve` and `explain`, given the memo's answer. Changes nothing and counts nothing. */
  #decide(resolution: Resolution, memo: MemoRead): Decision {
    const { llm, config, budget, breaker } = this.#p;
    const top = resolution.neighbors()[0]?.similarity ?? 0;
    if (!llm) return { kind: 'pass', reason: 'fuzzy_disabled', why: OFF };
    if (memo.kind === 'hit')
      return {
        kind: 'memoized',
        answer: memo.answer,
        why: `an improvisation of this call by ${config.model} is memoized for this snapshot`,
      };
    if (memo.kind === 'unavailable')
      return { kind: 'pass', reason: 'memo_unavailable', why: 'the shared memo (PostgreSQL) cannot be reached' };
    const flight = this.#inFlight.get(memoIdText(this.#memoId(resolution)));
    if (flight) return { kind: 'join', flight, why: `an improvisation of this call by ${config.model} is under way` };
    if (!budget.allows()) return { kind: 'pass', reason: 'llm_budget_exhausted', why: 'the LLM budget is spent' };
    if (breaker.state === 'open')
      return { kind: 'pass', reason: 'llm_unavailable', why: 'the circuit breaker is open after repeated LLM failures' };
    const prompt = this.#prompt(resolution);
    if (!prompt.fits)
      return {
        kind: 'pass',
        reason: 'prompt_too_large',
        why: `the call's arguments and the nearest recorded call do not fit the prompt budget of ${config.promptTokens} tokens`,
      };
    return {
      kind: 'improvise',
      llm,
      prompt,
      why: `the arguments fit the tool and the nearest recorded call has similarity ${round(top)}; ${config.model} would improvise from ${prompt.examples} example(s)`,
    };
  }

  /** The prompt for a call and its neighbours (exactly what would be sent). */
  #prompt(resolution: Resolution): Prompt {
    const { call } = resolution;
    const examples: Example[] = [];
    for (const { neighbor: n, served } of recordedNeighbors(resolution))
      examples.push({ arguments: n.arguments, outputJson: served.outputJson, isError: served.isError, similarity: n.similarity });
    const tool = this.#tools.get(toolId(call.server, call.tool)) ?? { server: call.server, tool: call.tool };
    const rollout = resolution.rollout;
    return buildPrompt(
      tool,
      examples,
      call.arguments,
      this.#p.config.promptTokens,
      this.#outputText(call),
      rollout && { server: call.server, since: rollout.since, history: rollout.history },
    );
  }

  #memoId(resolution: Resolution): MemoId {
    return memoId({
      snapshotId: this.#s.snapshotId,
      callKey: resolution.call.key,
      model: this.#p.config.model,
      promptVersion: PROMPT_VERSION,
      historyDigest: resolution.rollout?.digest,
    });
  }

  /**
   * Improvises under the memo's claim: with a shared memo, one replica asks the LLM and the others
   * wait for its answer (or share its miss) until their own deadline.
   */
  async #claimed(resolution: Resolution, llm: Llm, prompt: Prompt): Promise<Outcome> {
    // A waiter waits as long as the owner may take (not just an LLM deadline: the owner may queue first).
    const claim = await this.#s.memo.claim(this.#memoId(resolution), AbortSignal.timeout(claimTtlMs(this.#p.config) + WAITER_EXTRA_MS));
    switch (claim.kind) {
      case 'owner': {
        const outcome = await this.#improvise(resolution, llm, prompt);
        await claim.release(outcome.kind === 'pass' ? (outcome.reason ?? 'llm_unavailable') : undefined);
        return outcome;
      }
      case 'answer':
        if (claim.waited) this.#s.metrics.singleflightJoins.inc();
        else this.#s.metrics.fuzzyMemoHits.inc();
        return answered(fuzzyAnswer(resolution, claim.answer, true));
      case 'failed':
        return pass(isMissReason(claim.reason) ? claim.reason : 'llm_unavailable');
      case 'timeout':
        return pass('llm_unavailable');
      case 'unavailable':
        return pass('memo_unavailable');
    }
  }

  async #improvise(resolution: Resolution, llm: Llm, prompt: Prompt): Promise<Outcome> {
    const { budget, breaker, semaphore, config } = this.#p;
    // In half-open, only one probe goes out; `#decide` saw the breaker not open, this takes the probe.
    if (!breaker.allow()) return pass('llm_unavailable');
    // Waiting for a slot is bounded on its own: a busy tier is `llm_busy`, never an LLM failure.
    if (!(await semaphore.acquire(AbortSignal.timeout(config.llmQueueMs)))) {
      breaker.release();
      return pass('llm_busy');
    }
    const deadline = AbortSignal.timeout(config.llmDeadlineMs);
    try {
      const examples: Observation[] = recordedNeighbors(resolution).map((r) => r.served);
      // The declared schema guards successes when it compiles; the learnt shape guards the rest.
      const guide = this.#s.shapes.guideOf(resolution.call.server, resolution.call.tool) ?? {};
      let note = '';
      let refused: string[] = [];
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
        const checked: Checked = answer
          ? checkAnswer(answer.output, answer.isError, examples, guide)
          : { ok: false, reason: 'no call of the respond tool', misfits: [{ reason: 'malformed', text: 'no call of the respond tool' }] };
        if (checked.ok) {
          this.#count('ok');
          // Another process may have memoized first; its answer stands, so everyone serves the same.
          const stored = await this.#s.memo.put(this.#memoId(resolution), checked);
          // An answer a shared memo cannot store is not served: another replica would improvise another.
          if (!stored) return pass('memo_unavailable');
          const answer = fuzzyAnswer(resolution, stored.answer, false);
          // A local write that failed (an ingest holds the lock, disk full) still serves the answer, flagged.
          if (!stored.memoized) {
            this.#s.metrics.memoWriteFailures.inc();
            answer.match.unmemoized = true;
          }
          return answered(answer);
        }
        this.#count('invalid_output');
        this.#s.metrics.llmAnswersRefused.inc({ reason: checked.misfits[0]?.reason ?? 'malformed' });
        refused = checked.misfits.map((m) => m.text);
        note = retryNote(checked.reason);
      }
      return pass('llm_invalid_output', refused);
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
  const out: Answer = {
    tier: 'fuzzy',
    outputJson: answer.outputJson,
    isError: answer.isError,
    match: {
      key: resolution.call.key,
      memoized,
      neighbors: listNeighbors(resolution.neighbors()),
    },
  };
  const { rollout } = resolution;
  if (rollout) out.match.rollout = { diverged_since: rollout.since, history: rollout.answered };
  return out;
}

function isMissReason(reason: string): reason is MissReason {
  return (MISS_REASONS as readonly string[]).includes(reason);
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
