/**
 * resolve(call): canonicalize, find the server, then walk one ordered list of tiers (`TIERS`:
 * exact, eligibility, fuzzy) until one answers; whatever every tier passes becomes a labelled miss.
 * The walk stays synchronous until a tier returns a promise or needs the call's neighbours (found
 * off the event loop), so an exact answer comes back in the same turn. `explain` is the same walk.
 * In front of it, the request memo: a request's text seen before skips parsing and hashing.
 */
import { LRUCache } from 'lru-cache';
import { callKey, canonicalJson, dropIgnored, normalizeName, parseArguments, parseArgumentsSteps } from '../core/canonical.js';
import { AmbiguousToolError, BadRequestError } from '../core/errors.js';
import { DEFAULT_MAX_KEYS } from '../core/json-size.js';
import { stringifyJson } from '../core/json-text.js';
import { type CallTally, type Metrics, UNKNOWN_LABEL } from '../core/metrics.js';
import type { Answered, Diverged, RolloutStoreStatus, RolloutView } from '../core/rollout.js';
import { toolId } from '../core/tool-id.js';
import type { Answer, Call, JsonObject, MissReason, Neighbor, Observation, RepeatPolicy, RolloutMatch, ToolInfo } from '../core/types.js';
import { withoutTrajectoryId } from '../rollouts/memo-text.js';
import type { ExactCall } from '../rollouts/rollout-store.js';
import type { Rollouts } from '../rollouts/rollouts.js';
import { SnapshotContext } from '../snapshot/context.js';
import type { Store } from '../store/store.js';
import { AnswerMemory, stringBytes } from '../tiers/answer-lru.js';
import { EligibilityTier } from '../tiers/eligibility.js';
import { DEFAULT_LRU_BYTES, ExactTier } from '../tiers/exact.js';
import { DisabledFuzzyTier } from '../tiers/fuzzy/fuzzy-tier.js';
import { listNeighbors, missAnswer, unknownToolAnswer } from '../tiers/miss.js';
import type { Outcome, OutputPlan, Plan, Resolution, Tier, TierFactory, TierSetup } from '../tiers/tier.js';
import { cooperatively, inSlices } from './cooperate.js';

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
  /** Keys and array items a JSON string of arguments may hold (`--max-body-keys`; default DEFAULT_MAX_KEYS). */
  maxKeys?: number;
  /** Builds the fuzzy tier of this snapshot (`createFuzzy(...).tier`); without it, every near call is `fuzzy_disabled`. */
  fuzzy?: TierFactory;
  /** The registry of rollouts (it outlives snapshots); without it, a `trajectory_id` names nothing and every call is on its own. */
  rollouts?: Rollouts;
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
  /** Whether the tool counts as a write for rollout state, and why (when rollouts are kept). */
  writes?: { writes: boolean; why: string };
  /** The call's rollout has diverged on its server (explained with its `trajectory_id`). */
  rollout?: RolloutMatch;
}

/** A prepared call: known to the cache, or an unknown tool with the names to suggest instead. */
type Prepared = { call: Call; known: true } | { call: Call; known: false; serverKnown: boolean; suggestions: string[] };

/** What `prepare` knows of a request before its canonical text: names resolved, arguments normalized. */
interface Head {
  /** The tool's name as asked (NFC), and the server asked for. */
  name: string;
  requested: string | undefined;
  known: boolean;
  /** The server named or resolved, if any; `server` is it or `default`. */
  namedServer: string | undefined;
  server: string;
  tool: string;
  arguments: JsonObject;
}

/**
 * A request's text (its body, or its own JSON) past which it is prepared in turns (`#prepareInTurns`):
 * the size past which the body parser reads a body in slices (src/http/large-body.ts).
 */
const LARGE_REQUEST_CHARS = 256 * 1024;

/**
 * What a request's text prepared into, when the exact tier answered it or a tier recalled its answer
 * from memory (a memo hit): the key, where the answer is held, and where it is counted.
 */
interface Remembered {
  readonly key: string;
  readonly tally: CallTally;
  /** For a call of a named rollout: its server, and what its history entry needs besides the answer (the same for every call of the text). */
  readonly server?: string;
  readonly exactCall?: ExactCall;
  /** The tier that recalls the answer by key (a memo hit: the first improvisation of a call stands for the snapshot); else the exact tier's. */
  readonly recalledBy?: Tier;
}

/**
 * A call on its walk through the tiers: its neighbours are found once, when first needed; what a
 * tier refused on the way (an improvised answer's misfits) goes into the miss.
 */
type Walk = Resolution & { found?: Neighbor[]; refused?: string[] | undefined };

/** Calls whose neighbours are kept (`#found`): about 1 KB each, their recorded arguments shared with the index. */
const FOUND_ENTRIES = 10_000;
/** Share of `lruBytes` for the request memo; the rest holds answers. */
const MEMO_SHARE = 1 / 8;
/** Bytes a memo entry holds beyond its request text (the entry object, the cache's slots); measured like the answers'. */
export const MEMO_ENTRY_BYTES = 180;
/** Bytes a rollout call's memo entry holds beyond those, besides its canonical arguments (the object holding them). */
const MEMO_CALL_BYTES = 64;

/** What a rollout records of a miss: it changed nothing and told nothing. */
const MISSED: Answered = Object.freeze({ tier: 'miss' });

/** `fn` applied to a value, or to a promise's value once it comes: synchronous when it can be. */
function then<T, U>(value: T | Promise<T>, fn: (value: T) => U | Promise<U>): U | Promise<U> {
  return value instanceof Promise ? value.then(fn) : fn(value);
}

/** A tool's MCP annotations as the catalog holds them; the seam where the tool record's `annotations` field is read. */
function annotationsOf(info: ToolInfo | undefined): unknown {
  return (info as { annotations?: unknown } | undefined)?.annotations;
}

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
  /** The answers this snapshot keeps in memory, every tier's (answer-lru.ts). */
  readonly answers: AnswerMemory;
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
  /** The tiers, in the order a call meets them. */
  readonly #tiers: readonly Tier[];
  readonly #neighborCount: number;
  readonly #maxKeys: number;
  readonly #ignored: ReadonlySet<string>;
  readonly #recorded = (key: string): Observation | undefined => this.exact.lookup(key);
  readonly #rollouts: Rollouts | undefined;
  /** Whether each tool writes, by server then tool (computed once per snapshot, from its catalog). */
  readonly #writes = new Map<string, Map<string, boolean>>();
  /** Calls being resolved now; a retired simulator's snapshot closes only once this is 0. */
  #inFlight = 0;
  #idle: (() => void)[] = [];

  constructor(options: SimulatorOptions) {
    const context = new SnapshotContext(options.store);
    this.snapshot = context;
    this.#metrics = options.metrics;
    this.#neighborCount = options.neighbors ?? 5;
    this.#rollouts = options.rollouts;
    this.#maxKeys = options.maxKeys ?? DEFAULT_MAX_KEYS;
    this.#ignored = new Set(context.ignoredArguments);
    const lruSize = options.lruSize ?? 100_000;
    const lruBytes = options.lruBytes ?? DEFAULT_LRU_BYTES;
    const memoBytes = Math.floor(lruBytes * MEMO_SHARE);
    // One memory for the answers of every tier (recorded and improvised): whichever a workload leans on gets it.
    const answers = new AnswerMemory({ maxEntries: lruSize, maxBytes: lruBytes - memoBytes });
    this.answers = answers;
    this.exact = new ExactTier(context, options.repeatPolicy ?? 'first', answers);
    // Bounded by bytes alone: with `max`, lru-cache would allocate its slots for every entry up front.
    this.#remembered = new LRUCache<string, Remembered>({
      maxSize: Math.max(memoBytes, 1),
      sizeCalculation: (remembered, text) =>
        MEMO_ENTRY_BYTES + stringBytes(text) + (remembered.exactCall ? MEMO_CALL_BYTES + stringBytes(remembered.exactCall.arguments) : 0),
    });
    const setup: TierSetup = { context, metrics: options.metrics, answers };
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
    const head = this.#headOf(request);
    const canonical = canonicalJson(head.arguments);
    return this.#preparedOf(request, head, canonical, callKey(head.server, head.tool, canonical));
  }

  /**
   * `prepare` for a large request (LARGE_REQUEST_CHARS): its three long steps (arguments read and
   * normalized, canonical text, key hash) each in a turn of its own among the cooperative work, so
   * that the 4 MB of arguments a body may hold never cost them all in one turn.
   */
  async #prepareInTurns(request: CallRequest): Promise<Prepared> {
    // A long JSON string of arguments is counted and read in slices first.
    const input = request.arguments;
    const args =
      typeof input === 'string' && input.length > LARGE_REQUEST_CHARS
        ? await inSlices((slice) => parseArgumentsSteps(input, this.#maxKeys, slice))
        : undefined;
    const head = await cooperatively(() => this.#headOf(request, args));
    const canonical = await cooperatively(() => canonicalJson(head.arguments));
    const key = await cooperatively(() => callKey(head.server, head.tool, canonical));
    return this.#preparedOf(request, head, canonical, key);
  }

  /** The first step of `prepare`: arguments normalized (ignored ones dropped), names resolved. */
  #headOf(request: CallRequest, args = parseArguments(request.arguments, this.#maxKeys)): Head {
    const catalog = this.snapshot.catalog;
    const name = normalizeName(request.tool);
    if (!args.ok) throw new BadRequestError(args.tooLarge ? 'too_many_keys' : 'invalid_arguments', args.reason);
    const requested = request.server === undefined ? undefined : normalizeName(request.server);
    // Every name the catalog hands out (mcp__<server>__<tool> included) means one tool here, on every route.
    const resolved = catalog.resolve(name, requested);
    if (resolved.kind === 'ambiguous') throw new AmbiguousToolError(name, resolved.servers, resolved.names);
    const known = resolved.kind === 'tool';
    const server = known ? resolved.server : requested;
    return {
      name,
      requested,
      known,
      namedServer: server,
      server: server ?? 'default',
      tool: known ? resolved.tool : name,
      arguments: dropIgnored(args.value, this.#ignored),
    };
  }

  /** The last step of `prepare`: the call, once its canonical text and key are known. */
  #preparedOf(request: CallRequest, head: Head, canonical: string, key: string): Prepared {
    const call: Call = {
      server: head.server,
      tool: head.tool,
      // Numbers no double holds stay RawNumbers: prompts, neighbours and explain show them exactly.
      arguments: head.arguments,
      canonical,
      key,
      ...(request.trajectory_id === undefined ? {} : { trajectoryId: request.trajectory_id }),
      ...(request.source_trajectory_id === undefined ? {} : { sourceTrajectoryId: request.source_trajectory_id.normalize('NFC') }),
    };
    if (head.known) return { call, known: true };
    const catalog = this.snapshot.catalog;
    return {
      call,
      known: false,
      serverKnown: head.namedServer !== undefined && catalog.hasServer(head.namedServer),
      suggestions: catalog.closestNames(head.name, head.requested),
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
    const rollout = request.trajectory_id;
    // Remembered without its rollout's name: sibling rollouts making the same call share the entry.
    if (this.#rollouts && rollout !== undefined && rollout !== '')
      return this.#rollouts.run(rollout, () =>
        this.#inRollout(
          this.#rollouts!,
          rollout,
          request,
          (text === undefined ? undefined : withoutTrajectoryId(text, rollout)) ?? requestText(request),
        ),
      );
    const started = performance.now();
    const memoText = text ?? requestText(request);
    const remembered = memoText === undefined ? undefined : this.#remembered.get(memoText);
    if (remembered) {
      const answer = remembered.recalledBy ? remembered.recalledBy.recall?.(remembered.key) : this.exact.lookup(remembered.key)?.answer;
      if (answer) {
        remembered.tally.count((performance.now() - started) / 1000);
        return answer;
      }
    }
    if (memoText !== undefined && memoText.length > LARGE_REQUEST_CHARS)
      return this.#held(this.#prepareInTurns(request).then((prepared) => this.#resolvePrepared(prepared, memoText, started)));
    return this.#resolvePrepared(this.prepare(request), memoText, started);
  }

  /** The rest of `resolve`, once the request is prepared. */
  #resolvePrepared(prepared: Prepared, memoText: string | undefined, started: number): Answer | Promise<Answer> {
    const { call } = prepared;
    if (!prepared.known) {
      const answer = unknownToolAnswer(call, prepared.serverKnown, prepared.suggestions);
      this.#count(call, false, answer, started);
      return answer;
    }
    // Remembered from the second time a call is answered on: a stream of calls that never repeat
    // would otherwise fill the memo (and then the heap with what it evicts) for nothing.
    const remember = memoText !== undefined && this.exact.holds(call.key) ? memoText : undefined;
    const answer = this.#walk(this.#resolution(call), started, remember);
    if (memoText === undefined) return answer;
    return then(answer, (answered) => {
      // An improvisation that stands (memoized now or before) is served from here on its next use,
      // as the memo hit it is. One held in memory while its write waits is not: it is not stored yet.
      if (answered.tier === 'fuzzy' && !answered.match.unmemoized) this.#rememberMemoHit(memoText, call, answered);
      return answered;
    });
  }

  #rememberMemoHit(text: string, call: Call, answer: Answer): void {
    // The answer itself is held by the tier that recalls it (in the answer LRU), not here.
    const recalledBy = this.#tiers.find((tier) => tier.name === answer.tier && tier.recall);
    if (recalledBy) this.#remembered.set(text, { key: call.key, tally: this.#tallyOf(call, true, answer), recalledBy });
  }

  /** The walk, synchronous up to the first tier that needs neighbours or returns a promise. */
  #walk(walk: Walk, started: number, remember: string | undefined, inRollout = false): Answer | Promise<Answer> {
    let reason: MissReason | undefined;
    for (let at = 0; at < this.#tiers.length; at++) {
      const tier = this.#tiers[at]!;
      if (tier.needsNeighbors && walk.found === undefined) {
        const recalled = walk.rollout ? undefined : this.#recall(walk.call.key, at);
        if (recalled) return this.#answered(walk.call, recalled, started, remember, inRollout);
        return this.#walkOn(walk, at, undefined, reason, started);
      }
      const outcome = tier.resolve(walk);
      if (outcome instanceof Promise) return this.#walkOn(walk, at, outcome, reason, started);
      if (outcome.kind === 'answer') return this.#answered(walk.call, outcome.answer, started, remember, inRollout);
      reason = outcome.reason ?? reason;
      walk.refused = outcome.refused ?? walk.refused;
    }
    // The miss lists the call's neighbours: found off the event loop too.
    if (walk.found === undefined) return this.#walkOn(walk, this.#tiers.length, undefined, reason, started);
    const miss = missAnswer(walk.call, reason ?? 'no_similar_calls', walk.found, { refused: walk.refused });
    return this.#answered(walk.call, miss, started, undefined);
  }

  /**
   * An answer one of the tiers from `at` on holds in memory for this very call (a memo hit), found
   * without the call's neighbours. The tiers before the one that holds it decided the call then as
   * they would now: they decide by the call and the snapshot alone, and the answer is the snapshot's.
   */
  #recall(key: string, at: number): Answer | undefined {
    for (let i = at; i < this.#tiers.length; i++) {
      const recalled = this.#tiers[i]!.recall?.(key);
      if (recalled) return recalled;
    }
    return undefined;
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

  /**
   * Counts an answer, and remembers the request's text when it is the exact tier's policy answer
   * (with what a rollout's history needs, for a call of a rollout).
   */
  #answered(call: Call, answer: Answer, started: number, remember: string | undefined, inRollout = false): Answer {
    const tally = this.#count(call, true, answer, started);
    // Only the policy's answer: one chosen by the call's source trajectory is not the key's alone.
    if (remember !== undefined && answer.tier === 'exact' && answer === this.exact.lookup(call.key)?.answer)
      this.#remembered.set(
        remember,
        inRollout
          ? {
              key: call.key,
              tally,
              server: call.server,
              exactCall: { tool: call.tool, arguments: call.canonical, writes: this.#writesOf(call) },
            }
          : { key: call.key, tally },
      );
    return answer;
  }

  /**
   * A call of a named rollout: its state on the call's server decides the walk. Recorded: the walk
   * of every call (the same answers at the same cost). Diverged: the same walk, which the exact
   * tier passes, so the fuzzy tier improvises it with the rollout's history. The store cannot say:
   * a `state_unavailable` miss, never a recording that the rollout's state may contradict. The
   * answer is recorded in the rollout before it is given; a record that cannot be kept turns it
   * into that miss too.
   */
  #inRollout(rollouts: Rollouts, id: string, request: CallRequest, text: string | undefined): Answer | Promise<Answer> {
    const started = performance.now();
    // The request memo, as for any call: a repeated text in recorded state skips parsing and hashing,
    // and its answer is recorded in one step (the store's one lookup, the history entry its one allocation).
    const remembered = text === undefined ? undefined : this.#remembered.get(text);
    if (remembered?.exactCall) {
      const served = this.exact.lookup(remembered.key)?.answer;
      if (served && rollouts.recordExact(id, remembered.server!, remembered.exactCall, served)) {
        remembered.tally.count((performance.now() - started) / 1000);
        return served;
      }
      // Diverged there, or a store that answers later: the long way.
    }
    if (text !== undefined && text.length > LARGE_REQUEST_CHARS)
      return this.#held(this.#prepareInTurns(request).then((prepared) => this.#inRolloutPrepared(rollouts, id, prepared, text, started)));
    return this.#inRolloutPrepared(rollouts, id, this.prepare(request), text, started);
  }

  /** The rest of `#inRollout`, once the request is prepared. */
  #inRolloutPrepared(
    rollouts: Rollouts,
    id: string,
    prepared: Prepared,
    text: string | undefined,
    started: number,
  ): Answer | Promise<Answer> {
    const { call } = prepared;
    if (!prepared.known) {
      const answer = unknownToolAnswer(call, prepared.serverKnown, prepared.suggestions);
      this.#count(call, false, answer, started);
      return this.#held(then(rollouts.record(id, call.server, MISSED), () => answer));
    }
    const writes = this.#writesOf(call);
    const remember = text !== undefined && this.exact.holds(call.key) ? text : undefined;
    return this.#held(
      then(rollouts.state(id, call.server), (state) => {
        if (state.state === 'unavailable') return this.#stateUnavailable(call, started);
        const answer =
          state.state === 'diverged'
            ? this.#walk(this.#resolution(call, state), started, undefined)
            : this.#walk(this.#resolution(call), started, remember, true);
        return then(answer, (given) => {
          const entry: Answered =
            given.tier === 'miss'
              ? MISSED
              : {
                  tool: call.tool,
                  arguments: call.canonical,
                  outputJson: given.outputJson,
                  isError: given.isError,
                  tier: given.tier,
                  writes,
                };
          return then(rollouts.record(id, call.server, entry), (recorded) => {
            if (recorded.kind === 'unavailable') return this.#stateUnavailable(call, started);
            if (recorded.diverged) this.#metrics.rolloutsDiverged.inc();
            if (state.state === 'diverged') this.#metrics.divergedCalls.inc({ tier: given.tier });
            return given;
          });
        });
      }),
    );
  }

  #stateUnavailable(call: Call, started: number): Answer {
    const miss = missAnswer(call, 'state_unavailable', []);
    this.#count(call, true, miss, started);
    return miss;
  }

  /** Whether the call's tool writes (its annotations in the catalog, else the write rule's other steps). */
  #writesOf(call: Pick<Call, 'server' | 'tool'>): boolean {
    let tools = this.#writes.get(call.server);
    if (!tools) this.#writes.set(call.server, (tools = new Map()));
    let writes = tools.get(call.tool);
    if (writes === undefined) {
      writes = this.#rollouts!.writes(call.server, call.tool, annotationsOf(this.snapshot.catalog.tool(call.server, call.tool))).writes;
      tools.set(call.tool, writes);
    }
    return writes;
  }

  /** Counts an asynchronous answer as in flight, so a reload waits for it before closing this snapshot. */
  #held(answer: Answer | Promise<Answer>): Answer | Promise<Answer> {
    if (!(answer instanceof Promise)) return answer;
    this.#inFlight++;
    return answer.finally(() => {
      if (--this.#inFlight === 0) for (const wake of this.#idle.splice(0)) wake();
    });
  }

  /** A rollout's state, for `GET /v1/rollouts/{id}`; undefined when there is none (or rollouts are off). Rejects when its store cannot be read. */
  async rollout(id: string): Promise<RolloutView | undefined> {
    return this.#rollouts?.view(id);
  }

  /** Ends a rollout now; false when there was none. Rejects when its store cannot be reached. */
  async endRollout(id: string, how: 'deleted' | 'finished' | 'session_closed'): Promise<boolean> {
    const ended = (await this.#rollouts?.end(id)) ?? false;
    if (ended) this.#metrics.rolloutsEnded.inc({ how });
    return ended;
  }

  /** The rollout store's state, for /readyz. */
  rolloutStatus(): RolloutStoreStatus | undefined {
    return this.#rollouts?.store.status();
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
  #resolution(call: Call, rollout?: Diverged): Walk {
    const walk: Walk = {
      call,
      neighbors: () => (walk.found ??= this.#nearest(call)),
      recorded: this.#recorded,
      ...(rollout ? { rollout } : {}),
    };
    return walk;
  }

  /**
   * What `resolve` would do with a request, without doing it: the same walk over the tiers, each
   * describing what it would do. The key, the tier and why, the neighbours the answer would list,
   * and the prompt the fuzzy tier would send. Makes no LLM request, counts nothing.
   */
  explain(request: CallRequest, rollout?: Diverged, prepared: Prepared = this.prepare(request)): Explanation {
    const { call } = prepared;
    const base: Pick<Explanation, 'server' | 'tool' | 'key' | 'arguments' | 'writes' | 'rollout'> = {
      server: call.server,
      tool: call.tool,
      key: call.key,
      arguments: call.arguments,
    };
    if (!prepared.known) return { ...base, tier: 'miss', reason: 'unknown_tool', why: 'the tool is not in the cache', neighbors: [] };
    if (this.#rollouts) {
      const verdict = this.#rollouts.writes(call.server, call.tool, annotationsOf(this.snapshot.catalog.tool(call.server, call.tool)));
      base.writes = { writes: verdict.writes, why: verdict.why };
    }
    if (rollout) base.rollout = { diverged_since: rollout.since, history: rollout.answered };
    const walk = this.#resolution(call, rollout);
    // In diverged state the exact tier's plan (it passes, and why) leads the explanation.
    const since = rollout ? `${this.exact.explain(walk).why}; ` : '';
    let passed: Plan | undefined;
    let prompt: Plan['prompt'];
    let output: Plan['output'];
    for (const tier of this.#tiers) {
      const plan = tier.explain(walk);
      prompt = plan.prompt ?? prompt;
      output = plan.output ?? output;
      if (plan.outcome !== 'pass') return explanation(base, { ...plan, why: since + plan.why }, walk.found ?? []);
      if (plan.reason !== undefined || passed?.reason === undefined) passed = plan;
    }
    const miss: Plan = {
      outcome: 'miss',
      reason: passed?.reason ?? 'no_similar_calls',
      why: since + (passed?.why ?? 'no tier answers the call'),
      ...(prompt ? { prompt } : {}),
      ...(output ? { output } : {}),
    };
    return explanation(base, miss, walk.neighbors());
  }

  /**
   * `explain`, once the tool's neighbour index and output shape are built off the event loop, and in
   * the state of the call's rollout (for servers).
   */
  async explainWhenReady(request: CallRequest, text?: string): Promise<Explanation> {
    const prepared = text !== undefined && text.length > LARGE_REQUEST_CHARS ? await this.#prepareInTurns(request) : this.prepare(request);
    const { call, known } = prepared;
    const { index, shapes } = this.snapshot;
    if (known && !index.isReady(call.server, call.tool)) await index.ready(call.server, call.tool);
    if (known && !shapes.isReady(call.server, call.tool)) await shapes.ready(call.server, call.tool);
    const id = request.trajectory_id;
    if (!known || !this.#rollouts || id === undefined || id === '') return this.explain(request, undefined, prepared);
    const state = await this.#rollouts.state(id, call.server);
    if (state.state === 'unavailable')
      return {
        ...this.explain(request, undefined, prepared),
        tier: 'miss',
        reason: 'state_unavailable',
        why: "the rollout's state (PostgreSQL) cannot be read now",
      };
    return this.explain(request, state.state === 'diverged' ? state : undefined, prepared);
  }

  #nearest(call: Call): Neighbor[] {
    let found = this.#found.get(call.key);
    if (!found) {
      found = this.snapshot.index.nearest(call.server, call.tool, call.arguments, this.#neighborCount);
      this.#found.set(call.key, found);
    }
    return found;
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
    walk.found ??= this.#found.get(call.key) ?? (await cooperatively(() => this.#nearest(call)));
  }

  #tallyOf(call: Call, known: boolean, answer: Answer): CallTally {
    const server = known ? call.server : UNKNOWN_LABEL;
    const tool = known ? call.tool : UNKNOWN_LABEL;
    const id = answer.tier + toolId(server, tool);
    let tally = this.#tallies.get(id);
    if (!tally) this.#tallies.set(id, (tally = this.#metrics.callTally(answer.tier, server, tool)));
    return tally;
  }

  #count(call: Call, known: boolean, answer: Answer, started: number): CallTally {
    const tally = this.#tallyOf(call, known, answer);
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
