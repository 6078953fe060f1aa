/**
 * resolve(call): canonicalize, find the server, then run the tiers in order (exact, fuzzy) until one
 * answers; whatever passes through all of them becomes a labelled miss.
 */
import { callKey, canonicalJson, dropIgnored, normalizeName, parseArguments, plainArguments } from '../core/canonical.js';
import { AmbiguousToolError, BadRequestError } from '../core/errors.js';
import { type Metrics, UNKNOWN_LABEL } from '../core/metrics.js';
import type { Answer, Call, JsonObject, MissReason, Neighbor, Observation, RepeatPolicy, ToolInfo } from '../core/types.js';
import { NeighborIndex } from '../neighbors/neighbor-index.js';
import type { Store } from '../store/store.js';
import { EligibilityTier } from '../tiers/eligibility.js';
import { ExactTier } from '../tiers/exact.js';
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

export class Simulator {
  readonly store: Store;
  readonly exact: ExactTier;
  /** Refuses the calls a tool could not take, before the fuzzy tier. */
  readonly eligibility: EligibilityTier;
  /** Recorded calls in the cache; recordings do not change while a simulator serves them. */
  readonly callCount: number;
  readonly snapshotId: string;
  readonly #metrics: Metrics;
  readonly #callCounters = new Map<string, { inc(): void }>();
  readonly #durations = new Map<string, { observe(seconds: number): void }>();
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
    this.exact = new ExactTier(options.store, options.repeatPolicy ?? 'first', options.cacheSize ?? 100_000, options.cacheBytes);
    const fuzzy = options.fuzzy?.({ store: options.store, metrics: options.metrics }) ?? new DisabledFuzzyTier();
    this.#fuzzy = fuzzy;
    this.eligibility = new EligibilityTier(options.store);
    this.#tiers = [this.exact, this.eligibility, fuzzy];
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
    const started = performance.now();
    // Counted before the first await, so a reload that swaps this simulator out sees the call.
    this.#inFlight++;
    try {
      const prepared = this.prepare(request);
      const answer = prepared.known
        ? await this.#runTiers(prepared.call)
        : unknownToolAnswer(prepared.call, prepared.serverKnown, prepared.suggestions);
      this.#count(prepared.call, prepared.known, answer, (performance.now() - started) / 1000);
      return answer;
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
  #resolution(call: Call): Resolution {
    let neighbors: Neighbor[] | undefined;
    return {
      call,
      neighbors: () => (neighbors ??= this.#nearest(call)),
      recorded: this.#recorded,
    };
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

  async #runTiers(call: Call): Promise<Answer> {
    let found: Neighbor[] | undefined;
    const resolution: Resolution = { call, neighbors: () => (found ??= this.#nearest(call)), recorded: this.#recorded };
    let reason: Answer['reason'];
    for (const tier of this.#tiers) {
      // Past the exact tier, neighbours are needed: their index is built off the event loop (the
      // call waits for it without blocking others), and they are found a few calls per loop turn.
      if (tier !== this.exact && found === undefined) found = await this.#neighborsOf(call);
      const outcome = await tier.resolve(resolution);
      if (outcome.kind === 'answer') return outcome.answer;
      reason = outcome.reason ?? reason;
    }
    return missAnswer(call, reason ?? 'no_similar_calls', resolution.neighbors());
  }

  #nearest(call: Call): Neighbor[] {
    return this.#index.nearest(call.server, call.tool, call.arguments, this.#neighborCount);
  }

  async #neighborsOf(call: Call): Promise<Neighbor[]> {
    if (!this.#index.isReady(call.server, call.tool)) await this.#index.ready(call.server, call.tool);
    return cooperatively(() => this.#nearest(call));
  }

  #count(call: Call, known: boolean, answer: Answer, seconds: number): void {
    const server = known ? call.server : UNKNOWN_LABEL;
    const tool = known ? call.tool : UNKNOWN_LABEL;
    // Labelled children are kept: prom-client would otherwise hash the label object on every call.
    const id = `${answer.tier}\0${server}\0${tool}`;
    let counter = this.#callCounters.get(id);
    if (!counter) this.#callCounters.set(id, (counter = this.#metrics.calls.labels(answer.tier, server, tool)));
    counter.inc();
    if (answer.reason) this.#metrics.misses.inc({ reason: answer.reason });
    let duration = this.#durations.get(answer.tier);
    if (!duration) this.#durations.set(answer.tier, (duration = this.#metrics.callDuration.labels(answer.tier)));
    duration.observe(seconds);
  }
}
