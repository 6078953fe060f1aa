/**
 * Tier 1: the call's key was recorded; replay the observation the repeat policy picks (docs/canonical-key.md,
 * "Several observations of one key").
 * A cache in front of SQLite (exact-cache.ts) holds both hits and misses, since recordings do not
 * change while serving; a hit's answer is built once, its JSON text with it, and served as it is.
 */
import { buildAnswerJson } from '../core/answer-json.js';
import type { Answer, Observation, RepeatPolicy } from '../core/types.js';
import type { Store } from '../store/store.js';
import { ExactCache, stringBytes } from './exact-cache.js';
import { answered, type Outcome, pass, type Resolution, type Tier } from './tier.js';

export interface Served extends Observation {
  readonly observations: number;
  /** Distinct (output, is_error) pairs among the observations; above 1 the recordings disagree. */
  readonly outputs: number;
  /** The exact answer for the key, its JSON text included; frozen, since every call of the key shares it. */
  readonly answer: Readonly<Answer>;
}

const NOT_RECORDED: Served = Object.freeze({
  outputJson: '',
  isError: false,
  observations: 0,
  outputs: 0,
  answer: Object.freeze({ tier: 'miss', outputJson: '', isError: false, match: { key: '' } }),
});
export const DEFAULT_CACHE_BYTES = 48 * 1024 * 1024;

export class ExactTier implements Tier {
  readonly name = 'exact';
  readonly #store: Store;
  readonly #policy: RepeatPolicy;
  readonly #cache: ExactCache<Served>;

  /** `cacheSize` bounds the entries, `cacheBytes` the memory they hold (outputs vary from bytes to megabytes). */
  constructor(store: Store, policy: RepeatPolicy, cacheSize: number, cacheBytes = DEFAULT_CACHE_BYTES) {
    this.#store = store;
    this.#policy = policy;
    this.#cache = new ExactCache<Served>({
      maxEntries: cacheSize,
      maxBytes: cacheBytes,
      bytesOf: (served) => stringBytes(served.answer.json ?? ''),
      notRecorded: NOT_RECORDED,
    });
  }

  resolve({ call }: Resolution): Outcome {
    const served = this.lookup(call.key);
    return served ? answered(served.answer) : pass();
  }

  /** Whether the key's entry is in memory now (answered or not), without touching its recency. */
  holds(key: string): boolean {
    return this.#cache.has(key);
  }

  /** The observation served for a key, or undefined when the key was never recorded. */
  lookup(key: string): Served | undefined {
    let served = this.#cache.get(key);
    if (served === undefined) {
      const observations = this.#store.observations(key);
      const chosen = pick(observations, this.#policy);
      served = chosen ? servedOf(key, chosen, observations.length, distinctOutputs(observations)) : NOT_RECORDED;
      this.#cache.set(key, served);
    }
    return served === NOT_RECORDED ? undefined : served;
  }

  /** Entries and accounted bytes of the cache (for the bench's memory figures). */
  get cached(): { entries: number; bytes: number } {
    return { entries: this.#cache.size, bytes: this.#cache.bytes };
  }
}

/**
 * The served entry of a key: the answer's JSON text holds the output once, and the output is a
 * slice of it (V8 slices share their parent's characters), so the text is kept once in memory.
 */
function servedOf(key: string, chosen: Observation, observations: number, outputs: number): Served {
  const match = { key, observations, outputs };
  const json = buildAnswerJson({ tier: 'exact', outputJson: chosen.outputJson, isError: chosen.isError, match });
  const outputJson = json.slice(OUTPUT_AT, OUTPUT_AT + chosen.outputJson.length);
  const answer: Answer = { tier: 'exact', outputJson, isError: chosen.isError, match: Object.freeze(match), json };
  return Object.freeze({ outputJson, isError: chosen.isError, observations, outputs, answer: Object.freeze(answer) });
}

/** Where the output starts in an exact answer's JSON text. */
const OUTPUT_AT = '{"tier":"exact","output":'.length;

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
