/**
 * Tier 1: the call's key was recorded; replay the observation the repeat policy picks (docs/canonical-key.md,
 * "Several observations of one key").
 * An LRU in front of SQLite holds both hits and misses, since recordings do not change while serving.
 */
import { LRUCache } from 'lru-cache';
import type { Observation, RepeatPolicy } from '../core/types.js';
import type { Store } from '../store/store.js';
import { answered, type Outcome, pass, type Resolution, type Tier } from './tier.js';

export interface Served extends Observation {
  readonly observations: number;
  /** Distinct (output, is_error) pairs among the observations; above 1 the recordings disagree. */
  readonly outputs: number;
}

const NOT_RECORDED = Symbol('not recorded');
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export class ExactTier implements Tier {
  readonly name = 'exact';
  readonly #store: Store;
  readonly #policy: RepeatPolicy;
  readonly #cache: LRUCache<string, Served | typeof NOT_RECORDED>;

  /** `cacheSize` bounds the entries, `cacheBytes` the recorded output they hold (outputs vary from bytes to megabytes). */
  constructor(store: Store, policy: RepeatPolicy, cacheSize: number, cacheBytes = DEFAULT_CACHE_BYTES) {
    this.#store = store;
    this.#policy = policy;
    this.#cache = new LRUCache({
      max: cacheSize,
      maxSize: cacheBytes,
      // JS strings take about two bytes a character; 64 more for the key and the entry itself.
      sizeCalculation: (served) => (served === NOT_RECORDED ? 64 : 2 * served.outputJson.length + 64),
    });
  }

  resolve({ call }: Resolution): Outcome {
    const served = this.lookup(call.key);
    if (!served) return pass();
    return answered({
      tier: 'exact',
      outputJson: served.outputJson,
      isError: served.isError,
      match: { key: call.key, observations: served.observations, outputs: served.outputs },
    });
  }

  /** The observation served for a key, or undefined when the key was never recorded. */
  lookup(key: string): Served | undefined {
    let served = this.#cache.get(key);
    if (served === undefined) {
      const observations = this.#store.observations(key);
      const chosen = pick(observations, this.#policy);
      served = chosen ? { ...chosen, observations: observations.length, outputs: distinctOutputs(observations) } : NOT_RECORDED;
      this.#cache.set(key, served);
    }
    return served === NOT_RECORDED ? undefined : served;
  }
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
