/**
 * Answers in memory: an LRU from a key to what is served for it, a key never recorded included
 * (recordings do not change while a snapshot is served, nor do memoized improvisations). Bounded by entries and by the
 * bytes the entries really hold: V8 keeps a string of Latin-1 characters at one byte a character
 * and any other at two, and every entry costs a fixed overhead besides (its objects, its key, its
 * slot in the cache), measured by `npm run bench` (scenario 5) and kept here as a constant.
 */
import { LRUCache } from 'lru-cache';

/**
 * Bytes an answered entry holds beyond its answer text's characters: the served object, the answer
 * and its match, the output's slice of the answer text, the key (64 hex characters) and the string
 * headers, and the cache's own per-entry slots. Measured on Node 20 by bench/entry-bytes.ts
 * (scenario 5); the map's share varies by a few percent with the count, as it grows by doubling.
 */
export const ANSWER_ENTRY_BYTES = 256;
/** Bytes an entry for a key never recorded holds: the key and the cache's slots. */
export const MISS_ENTRY_BYTES = 140;

const LATIN1 = /^[\0-\xff]*$/;

/** Bytes of a string's characters as V8 stores them. */
export function stringBytes(text: string): number {
  return LATIN1.test(text) ? text.length : 2 * text.length;
}

/**
 * The answers one snapshot keeps in memory, recorded and improvised alike: one LRU bounded by
 * entries (`--lru-size`) and by bytes (`--lru-mb`, less the request memo's share), so whichever
 * tier a workload leans on gets the memory. Each tier reads and writes its own shelf (`AnswerLru`),
 * whose keys no other shelf can spell: the exact tier's are call keys (64 hex characters), the fuzzy
 * tier's start with `f:`. No tier ever reads another's answers; an improvisation is never a recording.
 */
export class AnswerMemory {
  readonly #lru: LRUCache<string, object>;

  constructor(options: { maxEntries: number; maxBytes: number }) {
    // Every entry is set with its size (AnswerLru.set), so no size calculation is needed here.
    this.#lru = new LRUCache<string, object>({ max: options.maxEntries, maxSize: Math.max(options.maxBytes, 1) });
  }

  /** @internal The LRU behind the shelves. */
  get lru(): LRUCache<string, object> {
    return this.#lru;
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Bytes held by the entries, as accounted. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}

/** One tier's shelf of an `AnswerMemory`: the keys it sets (under its prefix) are read back by it alone. */
export class AnswerLru<V extends object> {
  readonly #memory: AnswerMemory;
  readonly #prefix: string;
  readonly #bytesOf: (value: V) => number;
  readonly #notRecorded: V | undefined;

  /**
   * `bytesOf(value)` is what an entry holds beyond the fixed overheads above; `notRecorded` is the
   * value kept for a key known to have nothing (counted as MISS_ENTRY_BYTES).
   */
  constructor(options: { memory: AnswerMemory; prefix: string; bytesOf: (value: V) => number; notRecorded?: V }) {
    this.#memory = options.memory;
    this.#prefix = options.prefix;
    this.#bytesOf = options.bytesOf;
    this.#notRecorded = options.notRecorded;
  }

  get(key: string): V | undefined {
    return this.#memory.lru.get(this.#prefix + key) as V | undefined;
  }

  has(key: string): boolean {
    return this.#memory.lru.has(this.#prefix + key);
  }

  set(key: string, value: V): void {
    const size = value === this.#notRecorded ? MISS_ENTRY_BYTES : ANSWER_ENTRY_BYTES + this.#bytesOf(value);
    this.#memory.lru.set(this.#prefix + key, value, { size });
  }

  /** Entries of the whole memory (every shelf). */
  get size(): number {
    return this.#memory.size;
  }

  /** Bytes held by the whole memory's entries (every shelf), as accounted. */
  get bytes(): number {
    return this.#memory.bytes;
  }
}
