/**
 * Tier 1: the call's key was recorded; replay the observation of the call's source trajectory, else
 * the one the repeat policy picks (docs/canonical-key.md, "Several observations of one key"). A
 * recorded failure (transient) is served only as a `recorded_failure` miss, and only when the key
 * has nothing else.
 * A cache in front of SQLite (answer-lru.ts) holds both hits and misses, since recordings do not
 * change while serving; the policy's answer is built once, its JSON text with it, and served as it is.
 */
import { buildAnswerJson } from '../core/answer-json.js';
import type { Answer, Call, Match, Observation, RepeatPolicy } from '../core/types.js';
import { AnswerLru, type AnswerMemory, stringBytes } from './answer-lru.js';
import { missAnswer } from './miss.js';
import { answered, type Outcome, type Plan, pass, passes, type Resolution, type Tier } from './tier.js';

/** Where the exact tier reads a key's observations (the snapshot's context). */
export interface ObservationSource {
  observations(key: string): Observation[];
}

export interface Served extends Observation {
  readonly observations: number;
  /** Distinct (output, is_error) pairs among the real observations (all, when every one is a failure); above 1 they disagree. */
  readonly outputs: number;
  /** Observations that are recorded failures. */
  readonly failures: number;
  /**
   * The first real observation of each trajectory that recorded the key, when the real observations
   * disagree (when they agree, any of them is the same answer and `trajectories` names who recorded it).
   */
  readonly byTrajectory?: ReadonlyMap<string, Observation>;
  readonly trajectories?: ReadonlySet<string>;
  /** The policy's exact answer for the key, its JSON text included; frozen, since every call of the key shares it. */
  readonly answer?: Readonly<Answer>;
}

const NOT_RECORDED: Served = Object.freeze({ outputJson: '', isError: false, observations: 0, outputs: 0, failures: 0 });
export const DEFAULT_LRU_BYTES = 48 * 1024 * 1024;

export class ExactTier implements Tier {
  readonly name = 'exact';
  readonly needsNeighbors = false;
  readonly #source: ObservationSource;
  readonly #policy: RepeatPolicy;
  readonly #lru: AnswerLru<Served>;

  /** `memory` bounds the entries and the bytes they hold (outputs vary from bytes to megabytes); its keys here are call keys. */
  constructor(source: ObservationSource, policy: RepeatPolicy, memory: AnswerMemory) {
    this.#source = source;
    this.#policy = policy;
    this.#lru = new AnswerLru<Served>({ memory, prefix: '', bytesOf: sizeOf, notRecorded: NOT_RECORDED });
  }

  resolve({ call, rollout }: Resolution): Outcome {
    // A rollout that changed its world with a write no recording has is never served a recording.
    if (rollout) return pass();
    const served = this.lookup(call.key);
    if (!served) return pass();
    if (served.transient) return answered(recordedFailure(call, served));
    const own = call.sourceTrajectoryId === undefined ? undefined : ownObservation(served, call.sourceTrajectoryId);
    if (!own && served.answer) return answered(served.answer);
    const observation = own ?? served;
    const match: Match = {
      key: call.key,
      observations: served.observations,
      outputs: served.outputs,
      chosen_by: own ? 'source_trajectory' : 'policy',
    };
    if (served.failures > 0) match.failures = served.failures;
    return answered({ tier: 'exact', outputJson: observation.outputJson, isError: observation.isError, match });
  }

  explain({ call, rollout }: Resolution): Plan {
    if (rollout)
      return passes(
        `the call's rollout diverged on this server at its call ${rollout.since} (a write no recording has), so no recording is served`,
      );
    const served = this.lookup(call.key);
    if (!served) return passes('the call was never recorded');
    if (served.transient) {
      const why = `recorded ${served.observations} time(s), each time an infrastructure failure (transient)`;
      return { outcome: 'miss', reason: 'recorded_failure', why };
    }
    const failures = served.failures > 0 ? ` (${served.failures} of them recorded failures, never served)` : '';
    const rule =
      call.sourceTrajectoryId === undefined
        ? 'the repeat policy picks the answer'
        : "the source trajectory's observation is served if it recorded the call, else the repeat policy's";
    return { outcome: 'exact', why: `recorded ${served.observations} time(s)${failures}; ${rule}` };
  }

  /** Whether the key's entry is in memory now (answered or not), without touching its recency. */
  holds(key: string): boolean {
    return this.#lru.has(key);
  }

  /**
   * The observation served for a key by the repeat policy, or undefined when the key was never
   * recorded. It is a recorded failure (`transient`) only when every observation of the key is one.
   */
  lookup(key: string): Served | undefined {
    let served = this.#lru.get(key);
    if (served === undefined) {
      served = summarize(key, this.#source.observations(key), this.#policy) ?? NOT_RECORDED;
      this.#lru.set(key, served);
    }
    return served === NOT_RECORDED ? undefined : served;
  }

  /** Entries and accounted bytes of the cache (for the bench's memory figures). */
  get cached(): { entries: number; bytes: number } {
    return { entries: this.#lru.size, bytes: this.#lru.bytes };
  }
}

/** What the exact tier keeps of a key's observations (ingest order). */
function summarize(key: string, all: readonly Observation[], policy: RepeatPolicy): Served | undefined {
  if (all.length === 0) return undefined;
  const real = all.some((o) => o.transient) ? all.filter((o) => !o.transient) : all;
  const candidates = real.length > 0 ? real : all;
  const chosen = pick(candidates, policy)!;
  const outputs = distinctOutputs(candidates);
  const served: { -readonly [K in keyof Served]: Served[K] } = {
    outputJson: chosen.outputJson,
    isError: chosen.isError,
    transient: real.length === 0,
    observations: all.length,
    outputs,
    failures: all.length - real.length,
  };
  if (real.length === 0) return served;
  // The policy's answer, built once: its JSON text holds the output, and the output is a slice of it
  // (V8 slices share their parent's characters), so the text is kept once in memory.
  const match: Match = { key, observations: served.observations, outputs, chosen_by: 'policy' };
  if (served.failures > 0) match.failures = served.failures;
  const json = buildAnswerJson({ tier: 'exact', outputJson: chosen.outputJson, isError: chosen.isError, match });
  served.outputJson = json.slice(OUTPUT_AT, OUTPUT_AT + chosen.outputJson.length);
  served.answer = Object.freeze({
    tier: 'exact',
    outputJson: served.outputJson,
    isError: chosen.isError,
    match: Object.freeze(match),
    json,
  });
  if (outputs > 1) {
    // One kept copy per distinct output, shared by the trajectories that recorded it (and by `sizeOf`'s count).
    const copies = new Map<string, Observation>([[observationId(chosen), { outputJson: served.outputJson, isError: chosen.isError }]]);
    const byTrajectory = new Map<string, Observation>();
    for (const o of real) {
      const id = observationId(o);
      let copy = copies.get(id);
      if (!copy) copies.set(id, (copy = { outputJson: o.outputJson, isError: o.isError }));
      // Trajectory ids compare as NFC, as the request's source_trajectory_id does (and every other string).
      const trajectory = o.trajectoryId?.normalize('NFC');
      if (trajectory && !byTrajectory.has(trajectory)) byTrajectory.set(trajectory, copy);
    }
    served.byTrajectory = byTrajectory;
  } else if (real.some((o) => o.trajectoryId)) {
    served.trajectories = new Set(real.flatMap((o) => (o.trajectoryId ? [o.trajectoryId.normalize('NFC')] : [])));
  }
  return Object.freeze(served);
}

/** Where the output starts in an exact answer's JSON text. */
const OUTPUT_AT = '{"tier":"exact","output":'.length;

/** The observation the source trajectory recorded (its first real one), or undefined when it recorded none. */
function ownObservation(served: Served, sourceTrajectoryId: string): Observation | undefined {
  if (served.byTrajectory) return served.byTrajectory.get(sourceTrajectoryId);
  return served.trajectories?.has(sourceTrajectoryId) ? served : undefined;
}

/** Bytes of an empty Set or Map beside an entry (its object and smallest table), measured like ANSWER_ENTRY_BYTES. */
const COLLECTION_BYTES = 160;

/**
 * Bytes an entry holds beyond the cache's fixed per-entry overhead: the answer text (or the recorded
 * failure's output), and the trajectories with the other outputs they recorded.
 */
function sizeOf(served: Served): number {
  let size = stringBytes(served.answer?.json ?? served.outputJson);
  if (served.byTrajectory) {
    size += COLLECTION_BYTES;
    const outputs = new Set<string>([served.outputJson]);
    for (const [id, o] of served.byTrajectory) {
      size += stringBytes(id) + 48;
      if (!outputs.has(o.outputJson)) {
        outputs.add(o.outputJson);
        size += stringBytes(o.outputJson);
      }
    }
  }
  if (served.trajectories) {
    size += COLLECTION_BYTES;
    for (const id of served.trajectories) size += stringBytes(id) + 32;
  }
  return size;
}

/** A key whose every recording is an infrastructure failure: a miss the trainer can mask, with what was recorded. */
function recordedFailure(call: Call, served: Served): Answer {
  const match: Match = { key: call.key, observations: served.observations, failures: served.failures, recorded: served.outputJson };
  return missAnswer(call, 'recorded_failure', [], { match });
}

const observationId = (o: Observation): string => `${o.isError ? 1 : 0}${o.outputJson}`;

/** How many different answers were recorded for one key (byte-wise, as `toolsim stats` counts them). */
export function distinctOutputs(observations: readonly Observation[]): number {
  return observations.length <= 1 ? observations.length : new Set(observations.map(observationId)).size;
}

/** The observation a repeat policy serves; deterministic for a given list (ingest order). */
export function pick(observations: readonly Observation[], policy: RepeatPolicy): Observation | undefined {
  if (observations.length <= 1 || policy === 'first') return observations[0];
  if (policy === 'last') return observations[observations.length - 1];
  const counts = new Map<string, { observation: Observation; count: number }>();
  for (const observation of observations) {
    const id = observationId(observation);
    const entry = counts.get(id);
    if (entry) entry.count++;
    else counts.set(id, { observation, count: 1 });
  }
  // Map iteration follows first occurrence, and only a strictly larger count wins: ties go earliest.
  let best: { observation: Observation; count: number } | undefined;
  for (const entry of counts.values()) if (!best || entry.count > best.count) best = entry;
  return best?.observation;
}
