/**
 * The exact tier's memory: an LRU from a call key to what is served for it, a key never recorded
 * included (recordings do not change while a snapshot is served). Bounded by entries and by the
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

export class AnswerLru<V extends object> {
  readonly #lru: LRUCache<string, V>;

  /** `bytesOf(value)` is what an entry holds beyond the fixed overheads above. */
  constructor(options: { maxEntries: number; maxBytes: number; bytesOf: (value: V) => number; notRecorded: V }) {
    const { bytesOf, notRecorded } = options;
    this.#lru = new LRUCache<string, V>({
      max: options.maxEntries,
      maxSize: options.maxBytes,
      sizeCalculation: (value) => (value === notRecorded ? MISS_ENTRY_BYTES : ANSWER_ENTRY_BYTES + bytesOf(value)),
    });
  }

  get(key: string): V | undefined {
    return this.#lru.get(key);
  }

  has(key: string): boolean {
    return this.#lru.has(key);
  }

  set(key: string, value: V): void {
    this.#lru.set(key, value);
  }

  get size(): number {
    return this.#lru.size;
  }

  /** Bytes held by the entries, as accounted. */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }
}
