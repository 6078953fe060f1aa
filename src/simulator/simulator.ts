/**
 * resolve(call): canonicalize, find the server, then run the tiers in order (exact, fuzzy) until one
 * answers; whatever passes through all of them becomes a labelled miss.
 */
import { LRUCache } from 'lru-cache';
import { answerJson, buildAnswerJson } from '../core/answer-json.js';
import { callKey, canonicalJson, dropIgnored, normalizeName, parseArguments, plainArguments } from '../core/canonical.js';
import { AmbiguousToolError, BadRequestError } from '../core/errors.js';
import { type CallTally, type Metrics, UNKNOWN_LABEL } from '../core/metrics.js';
import type { Answer, Call, JsonObject, MissReason, Neighbor, Observation, RepeatPolicy, ToolInfo } from '../core/types.js';
import { NeighborIndex } from '../neighbors/neighbor-index.js';
import type { Store } from '../store/store.js';
import { EligibilityTier } from '../tiers/eligibility.js';
import { DEFAULT_CACHE_BYTES, ExactTier } from '../tiers/exact.js';
import { ANSWER_ENTRY_BYTES, stringBytes } from '../tiers/exact-cache.js';
import { DisabledFuzzyTier } from '../tiers/fuzzy/fuzzy-tier.js';
import { missAnswer, round, unknownToolAnswer } from '../tiers/miss.js';
import type { Plan, Resolution, Tier, TierFactory } from '../tiers/tier.js';
import { Catalog } from './catalog.js';
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
  store: Store;
  metrics: Metrics;
  repeatPolicy?: RepeatPolicy;
  /** Entries in the exact tier's LRU. */
  cacheSize?: number;
  /** Bytes of recorded output the exact tier's LRU may hold. */
  cacheBytes?: number;
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
}

/** A prepared call: known to the cache, or an unknown tool with the names to suggest instead. */
type Prepared = { call: Call; known: true } | { call: Call; known: false; serverKnown: boolean; suggestions: string[] };

/**
 * What a request's text prepared into, when the exact tier answered it (the key and where it is
 * counted), or the memoized improvisation the fuzzy tier answered it with (`memoHit`).
 */
interface Remembered {
  readonly key: string;
  readonly tally: CallTally;
  /** A memo hit: the same improvisation stands for this call as long as the snapshot is served. */
  readonly memoHit?: Answer;
}

/** Calls whose neighbours are kept (`#found`): about 1 KB each, their recorded arguments shared with the index. */
const FOUND_ENTRIES = 10_000;
/** Share of `cacheBytes` for the request memo; the rest holds answers. */
const MEMO_SHARE = 1 / 8;
/** Bytes a memo entry holds beyond its request text (the entry object, the cache's slots); measured like the answers'. */
export const MEMO_ENTRY_BYTES = 180;

export class Simulator {
  readonly store: Store;
  readonly exact: ExactTier;
  /** Refuses the calls a tool could not take, before the fuzzy tier. */
  readonly eligibility: EligibilityTier;
  /** Recorded calls in the cache; recordings do not change while a simulator serves them. */
  readonly callCount: number;
  readonly snapshotId: string;
  readonly #metrics: Metrics;
  readonly #tallies = new Map<string, CallTally>();
  /**
   * Request text -> the call it made, for calls the exact tier answered with its policy answer: the
   * same bytes make the same call, key and answer within one snapshot, so a repeat skips parsing,
   * normalizing and hashing. Exact answers are remembered, and memo hits (the first improvisation
   * of a call stands for the snapshot), which then skip the neighbour search too; misses are not
   * (the fuzzy tier may answer them later).
   */
  readonly #remembered: LRUCache<string, Remembered>;
  /**
   * A call's neighbours by its key (the recordings do not change while a snapshot is served): a
   * call asked again past the exact tier (a memo hit, a repeated miss) skips the search.
   */
  readonly #found = new LRUCache<string, Neighbor[]>({ max: FOUND_ENTRIES });
  readonly #tiers: readonly Tier[];
  readonly #neighborCount: number;
  readonly #ignored: ReadonlySet<string>;
  readonly #fuzzy: Tier;
  readonly #recorded = (key: string): Observation | undefined => this.exact.lookup(key);
  #catalog: Catalog;
  #index: NeighborIndex;
  /** Calls being resolved now; a retired simulator's store closes only once this is 0. */
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(options: SimulatorOptions) {
    this.store = options.store;
    this.#metrics = options.metrics;
    this.#neighborCount = options.neighbors ?? 5;
    this.#ignored = new Set(options.store.ignoredArguments);
    this.#catalog = new Catalog(options.store);
    this.callCount = options.store.callCount();
    this.snapshotId = options.store.snapshotId;
    this.#index = new NeighborIndex(options.store);
    const cacheSize = options.cacheSize ?? 100_000;
    const cacheBytes = options.cacheBytes ?? DEFAULT_CACHE_BYTES;
    const memoBytes = Math.floor(cacheBytes * MEMO_SHARE);
    this.exact = new ExactTier(options.store, options.repeatPolicy ?? 'first', cacheSize, cacheBytes - memoBytes);
    // Bounded by bytes alone: with `max`, lru-cache would allocate its slots for every entry up front.
    this.#remembered = new LRUCache<string, Remembered>({
      maxSize: Math.max(memoBytes, 1),
      sizeCalculation: (remembered, text) =>
        MEMO_ENTRY_BYTES + stringBytes(text) + (remembered.memoHit ? ANSWER_ENTRY_BYTES + stringBytes(answerJson(remembered.memoHit)) : 0),
    });
    const fuzzy = options.fuzzy?.({ store: options.store, metrics: options.metrics }) ?? new DisabledFuzzyTier();
    this.#fuzzy = fuzzy;
    const store = options.store;
    const index = this.#index;
    // The recorded arguments come from the neighbour index, built off the event loop before any tier past exact runs.
    this.eligibility = new EligibilityTier({
      catalog: () => store.catalog(),
      argumentsOf: (server, tool) => index.argumentsOf(server, tool),
      ignoredArguments: store.ignoredArguments,
    });
    this.#tiers = [this.exact, this.eligibility, fuzzy];
  }

  /** Entries and accounted bytes of the request memo (for the bench's memory figures). */
  get remembered(): { entries: number; bytes: number } {
    return { entries: this.#remembered.size, bytes: this.#remembered.calculatedSize };
  }

  get tools(): readonly ToolInfo[] {
    return this.#catalog.tools;
  }

  /** Canonical arguments, key and server of a request; throws a 400 for what cannot be a call. */
  prepare(request: CallRequest): Prepared {
    const tool = normalizeName(request.tool);
    const args = parseArguments(request.arguments);
    if (!args.ok) throw new BadRequestError('invalid_arguments', args.reason);
    let server = request.server === undefined ? undefined : normalizeName(request.server);
    let known = true;
    if (server === undefined) {
      const servers = this.#catalog.serversOf(tool);
      if (servers.length > 1) throw new AmbiguousToolError(tool, servers);
      server = servers[0];
      known = server !== undefined;
    } else {
      known = this.#catalog.has(server, tool);
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
      serverKnown: server !== undefined && this.#catalog.hasServer(server),
      suggestions: this.#catalog.closestNames(tool, server),
    };
  }

  async resolve(request: CallRequest): Promise<Answer> {
    return this.answer(request);
  }

  /**
   * `resolve`, synchronous on the exact path: an exact answer (or an unknown tool, or a recorded
   * failure) comes back as it is, without a promise; past the exact tier the call waits for its
   * neighbours. `text` is the request's body text when the request is that body parsed; calls the
   * exact tier answered are remembered by it.
   */
  answer(request: CallRequest, text?: string): Answer | Promise<Answer> {
    const started = performance.now();
    if (text !== undefined) {
      const remembered = this.#remembered.get(text);
      const answer = remembered && (remembered.memoHit ?? this.exact.lookup(remembered.key)?.answer);
      if (remembered && answer) {
        if (remembered.memoHit) this.#metrics.fuzzyMemoHits.inc();
        remembered.tally.record((performance.now() - started) / 1000);
        return answer;
      }
    }
    const prepared = this.prepare(request);
    const { call, known } = prepared;
    if (!known) {
      const answer = unknownToolAnswer(call, prepared.serverKnown, prepared.suggestions);
      this.#count(call, false, answer, started);
      return answer;
    }
    // Remembered from the second time a call is answered on: a stream of calls that never repeat
    // would otherwise fill the memo (and then the heap with what it evicts) for nothing.
    const repeated = text !== undefined && this.exact.holds(call.key);
    const resolution = this.#resolution(call);
    const outcome = this.exact.resolve(resolution);
    if (outcome.kind === 'answer') {
      const tally = this.#count(call, true, outcome.answer, started);
      // Only the policy's answer: one chosen by the call's source trajectory is not the key's alone.
      if (repeated && outcome.answer === this.exact.lookup(call.key)?.answer) this.#remembered.set(text, { key: call.key, tally });
      return outcome.answer;
    }
    const past = this.#pastExact(resolution, outcome.reason, started);
    if (text === undefined) return past;
    return past.then((answer) => {
      // An improvisation that stands (memoized now or before) is served from here on its next use,
      // as the memo hit it is. One held in memory while its write waits is not: it is not stored yet.
      if (answer.tier === 'fuzzy' && !answer.match.unmemoized) {
        const memoHit: Answer = answer.match.memoized ? answer : { ...answer, match: { ...answer.match, memoized: true } };
        memoHit.json = buildAnswerJson(memoHit);
        this.#remembered.set(text, { key: call.key, tally: this.#tallyOf(call, true, answer), memoHit });
      }
      return answer;
    });
  }

  /** The tiers past the exact one, once the call's neighbours are found (their index is built off the event loop). */
  async #pastExact(resolution: Resolution & { found?: Neighbor[] }, exactReason: MissReason | undefined, started: number): Promise<Answer> {
    // Counted before the first await, so a reload that swaps this simulator out waits for the call.
    this.#inFlight++;
    try {
      const { call } = resolution;
      await this.#neighborsOf(resolution);
      let reason = exactReason;
      for (const tier of this.#tiers) {
        if (tier === this.exact) continue;
        const outcome = await tier.resolve(resolution);
        if (outcome.kind === 'answer') {
          this.#count(call, true, outcome.answer, started);
          return outcome.answer;
        }
        reason = outcome.reason ?? reason;
      }
      const miss = missAnswer(call, reason ?? 'no_similar_calls', resolution.neighbors());
      this.#count(call, true, miss, started);
      return miss;
    } finally {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    }
  }

  /** Resolves once no call is being resolved (at once when none is). */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** A call as the tiers see it: its neighbours (found once, when first asked) and the recorded observations. */
  #resolution(call: Call): Resolution & { found?: Neighbor[] } {
    const resolution: Resolution & { found?: Neighbor[] } = {
      call,
      neighbors: () => (resolution.found ??= this.#nearest(call)),
      recorded: this.#recorded,
    };
    return resolution;
  }

  /**
   * What `resolve` would do with a request, without doing it: the key, the tier and why, the
   * neighbours, and the prompt the fuzzy tier would send. Makes no LLM request, counts nothing.
   */
  explain(request: CallRequest): Explanation {
    const { call, known } = this.prepare(request);
    const base = { server: call.server, tool: call.tool, key: call.key, arguments: call.arguments };
    if (!known) return { ...base, tier: 'miss', reason: 'unknown_tool', why: 'the tool is not in the cache', neighbors: [] };
    const served = this.exact.lookup(call.key);
    if (served?.transient) {
      const why = `recorded ${served.observations} time(s), each time an infrastructure failure (transient)`;
      return { ...base, tier: 'miss', reason: 'recorded_failure', why, neighbors: [] };
    }
    if (served) {
      const failures = served.failures > 0 ? ` (${served.failures} of them recorded failures, never served)` : '';
      const rule =
        call.sourceTrajectoryId === undefined
          ? 'the repeat policy picks the answer'
          : "the source trajectory's observation is served if it recorded the call, else the repeat policy's";
      return { ...base, tier: 'exact', why: `recorded ${served.observations} time(s)${failures}; ${rule}`, neighbors: [] };
    }
    const resolution = this.#resolution(call);
    const listed = resolution.neighbors().map((n) => ({ arguments: n.arguments, similarity: round(n.similarity) }));
    const verdict = this.eligibility.check(call);
    if (!verdict.ok) return { ...base, tier: 'miss', reason: 'invalid_arguments', why: verdict.problems.join('; '), neighbors: listed };
    const plan: Plan = this.#fuzzy.explain?.(resolution) ?? { answers: false, reason: 'fuzzy_disabled', why: 'no fuzzy tier' };
    const explanation: Explanation = { ...base, tier: plan.answers ? 'fuzzy' : 'miss', why: plan.why, neighbors: listed };
    if (plan.reason) explanation.reason = plan.reason;
    if (plan.memoized !== undefined) explanation.memoized = plan.memoized;
    if (plan.prompt)
      explanation.prompt = {
        version: plan.prompt.version,
        system: plan.prompt.system,
        user: plan.prompt.user,
        examples: plan.prompt.examples,
      };
    return explanation;
  }

  /** `explain`, once the tool's neighbour index is built off the event loop (for servers). */
  async explainWhenReady(request: CallRequest): Promise<Explanation> {
    const { call, known } = this.prepare(request);
    if (known && !this.#index.isReady(call.server, call.tool)) await this.#index.ready(call.server, call.tool);
    return this.explain(request);
  }

  #nearest(call: Call): Neighbor[] {
    let found = this.#found.get(call.key);
    if (!found) {
      found = this.#index.nearest(call.server, call.tool, call.arguments, this.#neighborCount);
      this.#found.set(call.key, found);
    }
    return found;
  }

  /** Finds a call's neighbours without blocking: waits for the tool's index, then takes a turn of the loop. */
  async #neighborsOf(resolution: Resolution & { found?: Neighbor[] }): Promise<void> {
    const { call } = resolution;
    if (!this.#index.isReady(call.server, call.tool)) await this.#index.ready(call.server, call.tool);
    resolution.found ??= this.#found.get(call.key) ?? (await cooperatively(() => this.#nearest(call)));
  }

  #tallyOf(call: Call, known: boolean, answer: Answer): CallTally {
    const server = known ? call.server : UNKNOWN_LABEL;
    const tool = known ? call.tool : UNKNOWN_LABEL;
    const id = `${answer.tier}\0${server}\0${tool}`;
    let tally = this.#tallies.get(id);
    if (!tally) this.#tallies.set(id, (tally = this.#metrics.callTally(answer.tier, server, tool)));
    return tally;
  }

  #count(call: Call, known: boolean, answer: Answer, started: number): CallTally {
    const tally = this.#tallyOf(call, known, answer);
    if (answer.reason) this.#metrics.misses.inc({ reason: answer.reason });
    tally.record((performance.now() - started) / 1000);
    return tally;
  }
}
