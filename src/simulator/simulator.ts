/**
 * resolve(call): canonicalize, find the server, then walk one ordered list of tiers (`TIERS`:
 * exact, eligibility, fuzzy) until one answers; whatever every tier passes becomes a labelled miss.
 * The walk stays synchronous until a tier returns a promise or needs the call's neighbours (found
 * off the event loop), so an exact answer comes back in the same turn. `explain` is the same walk.
 * In front of it, the request memo: a request's text seen before skips parsing and hashing.
 */
import { LRUCache } from 'lru-cache';
import { callKey, canonicalJson, dropIgnored, normalizeName, parseArguments, plainArguments } from '../core/canonical.js';
import { AmbiguousToolError, BadRequestError } from '../core/errors.js';
import { stringifyJson } from '../core/json-text.js';
import { type CallTally, type Metrics, UNKNOWN_LABEL } from '../core/metrics.js';
import { toolId } from '../core/tool-id.js';
import type { Answer, Call, JsonObject, MissReason, Neighbor, Observation, RepeatPolicy, ToolInfo } from '../core/types.js';
import { SnapshotContext } from '../snapshot/context.js';
import type { Store } from '../store/store.js';
import { stringBytes } from '../tiers/answer-lru.js';
import { EligibilityTier } from '../tiers/eligibility.js';
import { DEFAULT_LRU_BYTES, ExactTier } from '../tiers/exact.js';
import { DisabledFuzzyTier } from '../tiers/fuzzy/fuzzy-tier.js';
import { listNeighbors, missAnswer, unknownToolAnswer } from '../tiers/miss.js';
import type { Outcome, OutputPlan, Plan, Resolution, Tier, TierFactory, TierSetup } from '../tiers/tier.js';
import { cooperatively } from './cooperate.js';

export interface CallRequest {
  server?: string | undefined;
  tool: string;
  arguments: unknown;
  trajectory_id?: string | undefined;
  /** The recorded trajectory the rollout's task was built from: its observation of the call is served. */
  source_trajectory_id?: string | undefined;
}

export interface SimulatorOptions {
  /** The snapshot to serve; the simulator owns it from here and closes it with `close()`. */
  store: Store;
  metrics: Metrics;
  repeatPolicy?: RepeatPolicy;
  /** Entries in the exact tier's answer LRU. */
  lruSize?: number;
  /** Bytes of recorded output the exact tier's answer LRU (and the request memo, 1/8 of it) may hold. */
  lruBytes?: number;
  /** Neighbours listed on a miss (and offered to the fuzzy tier). */
  neighbors?: number;
  /** Builds the fuzzy tier of this snapshot (`createFuzzy(...).tier`); without it, every near call is `fuzzy_disabled`. */
  fuzzy?: TierFactory;
}

export interface Explanation {
  server: string;
  tool: string;
  key: string;
  arguments: JsonObject;
  tier: Answer['tier'];
  reason?: MissReason;
  memoized?: boolean;
  why: string;
  neighbors: { arguments: JsonObject; similarity: number }[];
  prompt?: { version: string; system: string; user: string; examples: number };
  /** What an improvised answer would be held to: the declared output schema or the learnt shape. */
  output?: OutputPlan;
}

/** A prepared call: known to the cache, or an unknown tool with the names to suggest instead. */
type Prepared = { call: Call; known: true } | { call: Call; known: false; serverKnown: boolean; suggestions: string[] };

/** What a request's text prepared into, when the exact tier answered it: the key and where it is counted. */
interface Remembered {
  readonly key: string;
  readonly tally: CallTally;
}

/**
 * A call on its walk through the tiers: its neighbours are found once, when first needed; what a
 * tier refused on the way (an improvised answer's misfits) goes into the miss.
 */
type Walk = Resolution & { found?: Neighbor[]; refused?: string[] | undefined };

/** Share of `lruBytes` for the request memo; the rest holds answers. */
const MEMO_SHARE = 1 / 8;
/** Bytes a memo entry holds beyond its request text (the entry object, the cache's slots); measured like the answers'. */
export const MEMO_ENTRY_BYTES = 180;

/**
 * The text a request is remembered by when no body text came with it (batch items, MCP, verl-tool,
 * replay): what decides its answer (server, tool, source trajectory, arguments), as exact JSON text
 * (numbers as sent), so that the same text is always the same call.
 */
function requestText(request: CallRequest): string | undefined {
  try {
    return stringifyJson([request.server ?? null, request.tool, request.source_trajectory_id ?? null, request.arguments ?? null]);
  } catch {
    // Not JSON (a cycle, a BigInt): nothing to remember it by; `prepare` says what is wrong with it.
    return undefined;
  }
}

export class Simulator {
  /** The snapshot served: its id, catalog, neighbour index and storage state. */
  readonly snapshot: SnapshotContext;
  readonly exact: ExactTier;
  readonly #metrics: Metrics;
  readonly #tallies = new Map<string, CallTally>();
  /**
   * Request text -> the call it made, for calls the exact tier answered with its policy answer: the
   * same bytes make the same call, key and answer within one snapshot, so a repeat skips parsing,
   * normalizing and hashing. Only exact answers are remembered (the other tiers' answers may change).
   */
  readonly #remembered: LRUCache<string, Remembered>;
  /** The tiers, in the order a call meets them. */
  readonly #tiers: readonly Tier[];
  readonly #neighborCount: number;
  readonly #ignored: ReadonlySet<string>;
  readonly #recorded = (key: string): Observation | undefined => this.exact.lookup(key);
  /** Calls being resolved now; a retired simulator's snapshot closes only once this is 0. */
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(options: SimulatorOptions) {
    const context = new SnapshotContext(options.store);
    this.snapshot = context;
    this.#metrics = options.metrics;
    this.#neighborCount = options.neighbors ?? 5;
    this.#ignored = new Set(context.ignoredArguments);
    const lruSize = options.lruSize ?? 100_000;
    const lruBytes = options.lruBytes ?? DEFAULT_LRU_BYTES;
    const memoBytes = Math.floor(lruBytes * MEMO_SHARE);
    this.exact = new ExactTier(context, options.repeatPolicy ?? 'first', lruSize, lruBytes - memoBytes);
    // Bounded by bytes alone: with `max`, lru-cache would allocate its slots for every entry up front.
    this.#remembered = new LRUCache<string, Remembered>({
      maxSize: Math.max(memoBytes, 1),
      sizeCalculation: (_remembered, text) => MEMO_ENTRY_BYTES + stringBytes(text),
    });
    const setup: TierSetup = { context, metrics: options.metrics };
    // TIERS: the order a call meets them. A new tier is a file in src/tiers/ and a line here.
    this.#tiers = [this.exact, new EligibilityTier(context), (options.fuzzy ?? disabledFuzzy)(setup)];
  }

  /** Recorded calls in the snapshot. */
  get callCount(): number {
    return this.snapshot.callCount;
  }

  get snapshotId(): string {
    return this.snapshot.id;
  }

  get tools(): readonly ToolInfo[] {
    return this.snapshot.catalog.tools;
  }

  /** Entries and accounted bytes of the request memo (for the bench's memory figures). */
  get remembered(): { entries: number; bytes: number } {
    return { entries: this.#remembered.size, bytes: this.#remembered.calculatedSize };
  }

  /** Canonical arguments, key and server of a request; throws a 400 for what cannot be a call. */
  prepare(request: CallRequest): Prepared {
    const catalog = this.snapshot.catalog;
    const tool = normalizeName(request.tool);
    const args = parseArguments(request.arguments);
    if (!args.ok) throw new BadRequestError('invalid_arguments', args.reason);
    let server = request.server === undefined ? undefined : normalizeName(request.server);
    let known = true;
    if (server === undefined) {
      const servers = catalog.serversOf(tool);
      if (servers.length > 1) throw new AmbiguousToolError(tool, servers);
      server = servers[0];
      known = server !== undefined;
    } else {
      known = catalog.has(server, tool);
    }
    const kept = dropIgnored(args.value, this.#ignored);
    const canonical = canonicalJson(kept);
    const resolvedServer = server ?? 'default';
    const call: Call = {
      server: resolvedServer,
      tool,
      arguments: plainArguments({ value: kept, ...(args.exact ? { exact: true } : {}) }, canonical),
      canonical,
      key: callKey(resolvedServer, tool, canonical),
      ...(request.trajectory_id === undefined ? {} : { trajectoryId: request.trajectory_id }),
      ...(request.source_trajectory_id === undefined ? {} : { sourceTrajectoryId: request.source_trajectory_id }),
    };
    if (known) return { call, known: true };
    return {
      call,
      known: false,
      serverKnown: server !== undefined && catalog.hasServer(server),
      suggestions: catalog.closestNames(tool, server),
    };
  }

  /**
   * The answer to one call, for every protocol. Synchronous while the tiers are (an exact answer,
   * an unknown tool, a recorded failure come back as they are, without a promise); a promise from
   * the first tier that needs the call's neighbours or answers asynchronously on. `text` is the
   * request's body text when the request is that body parsed; without it the request is
   * remembered by its own JSON text. Throws a 400 (BadRequestError) for what cannot be a call.
   */
  resolve(request: CallRequest, text?: string): Answer | Promise<Answer> {
    const started = performance.now();
    const memoText = text ?? requestText(request);
    const remembered = memoText === undefined ? undefined : this.#remembered.get(memoText);
    if (remembered) {
      const answer = this.exact.lookup(remembered.key)?.answer;
      if (answer) {
        remembered.tally.count((performance.now() - started) / 1000);
        return answer;
      }
    }
    const prepared = this.prepare(request);
    const { call } = prepared;
    if (!prepared.known) {
      const answer = unknownToolAnswer(call, prepared.serverKnown, prepared.suggestions);
      this.#count(call, false, answer, started);
      return answer;
    }
    // Remembered from the second time a call is answered on: a stream of calls that never repeat
    // would otherwise fill the memo (and then the heap with what it evicts) for nothing.
    const remember = memoText !== undefined && this.exact.holds(call.key) ? memoText : undefined;
    return this.#walk(this.#resolution(call), started, remember);
  }

  /** The walk, synchronous up to the first tier that needs neighbours or returns a promise. */
  #walk(walk: Walk, started: number, remember: string | undefined): Answer | Promise<Answer> {
    let reason: MissReason | undefined;
    for (let at = 0; at < this.#tiers.length; at++) {
      const tier = this.#tiers[at]!;
      if (tier.needsNeighbors && walk.found === undefined) return this.#walkOn(walk, at, undefined, reason, started);
      const outcome = tier.resolve(walk);
      if (outcome instanceof Promise) return this.#walkOn(walk, at, outcome, reason, started);
      if (outcome.kind === 'answer') return this.#answered(walk.call, outcome.answer, started, remember);
      reason = outcome.reason ?? reason;
      walk.refused = outcome.refused ?? walk.refused;
    }
    // The miss lists the call's neighbours: found off the event loop too.
    if (walk.found === undefined) return this.#walkOn(walk, this.#tiers.length, undefined, reason, started);
    const miss = missAnswer(walk.call, reason ?? 'no_similar_calls', walk.found, { refused: walk.refused });
    return this.#answered(walk.call, miss, started, undefined);
  }

  /** The rest of the walk from tier `at` (whose outcome may be `pending`), asynchronously. */
  async #walkOn(
    walk: Walk,
    at: number,
    pending: Promise<Outcome> | undefined,
    passed: MissReason | undefined,
    started: number,
  ): Promise<Answer> {
    // Counted before the first await, so a reload that swaps this simulator out waits for the call.
    this.#inFlight++;
    try {
      let reason = passed;
      for (let i = at; i < this.#tiers.length; i++) {
        const tier = this.#tiers[i]!;
        let outcome: Outcome;
        if (i === at && pending) outcome = await pending;
        else {
          if (tier.needsNeighbors) await this.#neighborsOf(walk);
          outcome = await tier.resolve(walk);
        }
        if (outcome.kind === 'answer') return this.#answered(walk.call, outcome.answer, started, undefined);
        reason = outcome.reason ?? reason;
        walk.refused = outcome.refused ?? walk.refused;
      }
      await this.#neighborsOf(walk);
      const miss = missAnswer(walk.call, reason ?? 'no_similar_calls', walk.found ?? [], { refused: walk.refused });
      return this.#answered(walk.call, miss, started, undefined);
    } finally {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Counts an answer, and remembers the request's text when it is the exact tier's policy answer. */
  #answered(call: Call, answer: Answer, started: number, remember: string | undefined): Answer {
    const tally = this.#count(call, true, answer, started);
    // Only the policy's answer: one chosen by the call's source trajectory is not the key's alone.
    if (remember !== undefined && answer.tier === 'exact' && answer === this.exact.lookup(call.key)?.answer)
      this.#remembered.set(remember, { key: call.key, tally });
    return answer;
  }

  /** Resolves once no call is being resolved (at once when none is). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Whether the snapshot has been closed. */
  get closed(): boolean {
    return this.snapshot.closed;
  }

  /** Closes the snapshot (its SQLite connection); call once `idle()` has resolved. */
  close(): void {
    this.snapshot.close();
  }

  /** A call as the tiers see it: its neighbours (found once, when first asked) and the recorded observations. */
  #resolution(call: Call): Walk {
    const walk: Walk = {
      call,
      neighbors: () => (walk.found ??= this.#nearest(call)),
      recorded: this.#recorded,
    };
    return walk;
  }

  /**
   * What `resolve` would do with a request, without doing it: the same walk over the tiers, each
   * describing what it would do. The key, the tier and why, the neighbours the answer would list,
   * and the prompt the fuzzy tier would send. Makes no LLM request, counts nothing.
   */
  explain(request: CallRequest): Explanation {
    const prepared = this.prepare(request);
    const { call } = prepared;
    const base = { server: call.server, tool: call.tool, key: call.key, arguments: call.arguments };
    if (!prepared.known) return { ...base, tier: 'miss', reason: 'unknown_tool', why: 'the tool is not in the cache', neighbors: [] };
    const walk = this.#resolution(call);
    let passed: Plan | undefined;
    let prompt: Plan['prompt'];
    let output: Plan['output'];
    for (const tier of this.#tiers) {
      const plan = tier.explain(walk);
      prompt = plan.prompt ?? prompt;
      output = plan.output ?? output;
      if (plan.outcome !== 'pass') return explanation(base, plan, walk.found ?? []);
      if (plan.reason !== undefined || passed?.reason === undefined) passed = plan;
    }
    const miss: Plan = {
      outcome: 'miss',
      reason: passed?.reason ?? 'no_similar_calls',
      why: passed?.why ?? 'no tier answers the call',
      ...(prompt ? { prompt } : {}),
      ...(output ? { output } : {}),
    };
    return explanation(base, miss, walk.neighbors());
  }

  /** `explain`, once the tool's neighbour index and output shape are built off the event loop (for servers). */
  async explainWhenReady(request: CallRequest): Promise<Explanation> {
    const { call, known } = this.prepare(request);
    const { index, shapes } = this.snapshot;
    if (known && !index.isReady(call.server, call.tool)) await index.ready(call.server, call.tool);
    if (known && !shapes.isReady(call.server, call.tool)) await shapes.ready(call.server, call.tool);
    return this.explain(request);
  }

  #nearest(call: Call): Neighbor[] {
    return this.snapshot.index.nearest(call.server, call.tool, call.arguments, this.#neighborCount);
  }

  /** Finds a call's neighbours without blocking: waits for the tool's index, then takes a turn of the loop. */
  async #neighborsOf(walk: Walk): Promise<void> {
    if (walk.found !== undefined) return;
    const { call } = walk;
    const index = this.snapshot.index;
    if (!index.isReady(call.server, call.tool)) {
      // What the tiers will need of the tool (the fuzzy tier: its output shape) is started now, beside the index.
      for (const tier of this.#tiers) tier.prepare?.(call);
      await index.ready(call.server, call.tool);
    }
    walk.found ??= await cooperatively(() => this.#nearest(call));
  }

  #count(call: Call, known: boolean, answer: Answer, started: number): CallTally {
    const server = known ? call.server : UNKNOWN_LABEL;
    const tool = known ? call.tool : UNKNOWN_LABEL;
    const id = answer.tier + toolId(server, tool);
    let tally = this.#tallies.get(id);
    if (!tally) this.#tallies.set(id, (tally = this.#metrics.callTally(answer.tier, server, tool)));
    if (answer.reason) this.#metrics.misses.inc({ reason: answer.reason });
    tally.count((performance.now() - started) / 1000);
    return tally;
  }
}

const disabledFuzzy: TierFactory = () => new DisabledFuzzyTier();

function explanation(base: Omit<Explanation, 'tier' | 'why' | 'neighbors'>, plan: Plan, neighbors: readonly Neighbor[]): Explanation {
  const out: Explanation = {
    ...base,
    tier: plan.outcome === 'pass' ? 'miss' : plan.outcome,
    why: plan.why,
    neighbors: listNeighbors(neighbors),
  };
  if (plan.reason) out.reason = plan.reason;
  if (plan.memoized !== undefined) out.memoized = plan.memoized;
  if (plan.output) out.output = plan.output;
  if (plan.prompt) {
    const { version, system, user, examples } = plan.prompt;
    out.prompt = { version, system, user, examples };
  }
  return out;
}
