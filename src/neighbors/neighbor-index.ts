/**
 * The nearest recorded calls of a tool. Each tool's distinct recorded arguments are loaded from the
 * store the first time that tool is asked about, then kept in memory.
 *
 * A tool with few recordings is scanned in full. A larger one gets an inverted index from tokens to
 * recordings: one token per (argument path, exact value), character trigrams of string values and a
 * magnitude bucket of numbers. A lookup scans the postings of the call's own tokens, rarest first and
 * within a bounded budget, to score recordings roughly; the best `candidates` of those are then
 * scored exactly with `argumentSimilarity`. Cost is bounded by the budget, not by the tool's size.
 */
import { canonicalJson } from '../core/canonical.js';
import type { Json, JsonObject, Neighbor } from '../core/types.js';
import type { RecordedArguments } from '../store/store.js';
import { argumentSimilarity, isOpaqueId, isOpaqueNumber } from './similarity.js';

/** Where recorded arguments come from (the Store, or a list in benchmarks). */
export interface ArgumentSource {
  argumentsOf(server: string, tool: string): RecordedArguments[];
}

export interface NeighborIndexOptions {
  /** Tools with fewer distinct recorded calls than this are scanned in full. */
  linearBelow?: number;
  /** Recordings scored exactly per lookup. */
  candidates?: number;
  /** Postings read per lookup; tokens shared by more recordings than what is left are skipped. */
  scanBudget?: number;
}

const DEFAULTS = { linearBelow: 2_000, candidates: 64, scanBudget: 15_000 } as const;
/** Characters of a string value cut into trigrams (its start identifies it well enough). */
const TRIGRAM_CHARS = 48;
/** Tokens per call at most, so a huge argument cannot blow up the index. */
const MAX_TOKENS = 512;

interface Entry {
  readonly key: string;
  readonly arguments: JsonObject;
}

/** A token of a query, with the share of the similarity it stands for. */
interface WeightedToken {
  readonly token: number;
  readonly weight: number;
}

export class NeighborIndex {
  readonly #source: ArgumentSource;
  readonly #options: Required<NeighborIndexOptions>;
  readonly #tools = new Map<string, ToolIndex>();

  constructor(source: ArgumentSource, options: NeighborIndexOptions = {}) {
    this.#source = source;
    this.#options = { ...DEFAULTS, ...options };
  }

  /** The `k` most similar recorded calls, most similar first; ties keep recording order. */
  nearest(server: string, tool: string, args: JsonObject, k: number): Neighbor[] {
    if (k <= 0) return [];
    return this.toolIndex(server, tool).nearest(args, k);
  }

  /** The index of one tool, built on first use. */
  toolIndex(server: string, tool: string): ToolIndex {
    const id = JSON.stringify([server, tool]);
    let index = this.#tools.get(id);
    if (!index) {
      const entries = this.#source
        .argumentsOf(server, tool)
        .map((row) => ({ key: row.key, arguments: JSON.parse(row.arguments) as JsonObject }));
      index = new ToolIndex(entries, this.#options);
      this.#tools.set(id, index);
    }
    return index;
  }
}

export class ToolIndex {
  readonly size: number;
  readonly #entries: readonly Entry[];
  readonly #options: Required<NeighborIndexOptions>;
  /** token -> ids of the entries holding it, ascending; undefined while scanning in full. */
  readonly #postings: Postings | undefined;
  /** Scratch space for one lookup, reused: rough scores by entry id. */
  readonly #scores: Float64Array;

  constructor(entries: readonly Entry[], options: Required<NeighborIndexOptions>) {
    this.#entries = entries;
    this.#options = options;
    this.size = entries.length;
    this.#scores = new Float64Array(entries.length);
    this.#postings = entries.length < options.linearBelow ? undefined : new Postings(entries);
  }

  get indexed(): boolean {
    return this.#postings !== undefined;
  }

  nearest(args: JsonObject, k: number): Neighbor[] {
    const ids = this.#postings ? this.#candidates(this.#postings, args) : undefined;
    const best: { id: number; similarity: number }[] = [];
    const consider = (id: number): void => {
      const similarity = argumentSimilarity(args, this.#entries[id]!.arguments);
      if (best.length === k && !before(similarity, id, best[k - 1]!)) return;
      let at = best.length;
      while (at > 0 && before(similarity, id, best[at - 1]!)) at--;
      best.splice(at, 0, { id, similarity });
      if (best.length > k) best.pop();
    };
    if (ids) for (const id of ids) consider(id);
    else for (let id = 0; id < this.#entries.length; id++) consider(id);
    return best.map(({ id, similarity }) => ({ key: this.#entries[id]!.key, arguments: this.#entries[id]!.arguments, similarity }));
  }

  /** The ids worth scoring exactly: the best rough scores from the call's own tokens. */
  #candidates(postings: Postings, args: JsonObject): Iterable<number> {
    const lists = queryTokens(args)
      .map(({ token, weight }) => ({ list: postings.get(token), weight }))
      .filter((t): t is { list: Int32Array; weight: number } => t.list !== undefined)
      .sort((a, b) => a.list.length - b.list.length);
    const scores = this.#scores;
    const touched: number[] = [];
    let budget = this.#options.scanBudget;
    let skipped: Int32Array | undefined;
    for (const { list, weight } of lists) {
      if (list.length > budget) {
        skipped ??= list;
        continue;
      }
      budget -= list.length;
      for (let i = 0; i < list.length; i++) {
        const id = list[i]!;
        if (scores[id] === 0) touched.push(id);
        scores[id]! += weight;
      }
    }
    const limit = this.#options.candidates;
    const chosen = topByScore(touched, scores, limit);
    for (const id of touched) scores[id] = 0;
    // Too few rough matches: the tokens were too common to scan (or absent). Any recording holding
    // the most selective common token is as good a candidate as another; take the first ones.
    if (chosen.length < limit) {
      const seen = new Set(chosen);
      const filler = skipped ?? Int32Array.from({ length: Math.min(limit, this.#entries.length) }, (_, i) => i);
      for (let i = 0; i < filler.length && chosen.length < limit; i++) if (!seen.has(filler[i]!)) chosen.push(filler[i]!);
    }
    return chosen;
  }
}

/** Is (similarity, id) ranked before `other`? Higher similarity first, then recording order. */
function before(similarity: number, id: number, other: { id: number; similarity: number }): boolean {
  return similarity > other.similarity || (similarity === other.similarity && id < other.id);
}

/** The `limit` ids with the highest scores (ties to the lower id), via a bounded min-heap. */
function topByScore(ids: readonly number[], scores: Float64Array, limit: number): number[] {
  if (ids.length <= limit) return [...ids];
  const heap: number[] = [];
  // worse(a, b): a ranks below b.
  const worse = (a: number, b: number): boolean => scores[a]! < scores[b]! || (scores[a] === scores[b] && a > b);
  const swap = (i: number, j: number): void => {
    const t = heap[i]!;
    heap[i] = heap[j]!;
    heap[j] = t;
  };
  const down = (i: number): void => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && worse(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && worse(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  for (const id of ids) {
    if (heap.length < limit) {
      heap.push(id);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!worse(heap[i]!, heap[p]!)) break;
        swap(i, p);
        i = p;
      }
    } else if (worse(heap[0]!, id)) {
      heap[0] = id;
      down(0);
    }
  }
  return heap;
}

/**
 * token -> ids of the entries holding it, as one flat array sliced by offsets (compressed rows):
 * a few typed arrays instead of a JS array per token keeps a 100k-call index small and quick to build.
 */
class Postings {
  readonly #ids = new Map<number, number>();
  readonly #offsets: Int32Array;
  readonly #entries: Int32Array;

  constructor(entries: readonly Entry[]) {
    // Pass 1: token ids of every entry, once each, in one flat list; how many entries hold each token.
    const flat: number[] = [];
    const starts: number[] = [];
    const counts: number[] = [];
    const lastEntry: number[] = [];
    entries.forEach((entry, e) => {
      starts.push(flat.length);
      for (const token of indexTokens(entry.arguments)) {
        let id = this.#ids.get(token);
        if (id === undefined) {
          id = this.#ids.size;
          this.#ids.set(token, id);
          counts.push(0);
          lastEntry.push(-1);
        }
        if (lastEntry[id] === e) continue;
        lastEntry[id] = e;
        counts[id]!++;
        flat.push(id);
      }
    });
    starts.push(flat.length);
    // Pass 2: lay the entry ids out token by token.
    this.#offsets = new Int32Array(counts.length + 1);
    for (let t = 0; t < counts.length; t++) this.#offsets[t + 1] = this.#offsets[t]! + counts[t]!;
    this.#entries = new Int32Array(this.#offsets[counts.length]!);
    const fill = this.#offsets.slice(0, counts.length);
    for (let e = 0; e < entries.length; e++) {
      for (let i = starts[e]!; i < starts[e + 1]!; i++) this.#entries[fill[flat[i]!]!++] = e;
    }
  }

  /** Ids of the entries holding `token`, ascending (a view, not a copy). */
  get(token: number): Int32Array | undefined {
    const id = this.#ids.get(token);
    return id === undefined ? undefined : this.#entries.subarray(this.#offsets[id]!, this.#offsets[id + 1]!);
  }
}

/** The tokens a recording is indexed under. */
export function indexTokens(args: JsonObject): number[] {
  return queryTokens(args, false).map((t) => t.token);
}

/**
 * The tokens of a call's arguments, each weighted by the share of the similarity it stands for:
 * every argument weighs the same, its leaves share that weight, and a leaf's weight goes half to its
 * exact value, half to its trigrams (strings) or magnitude (numbers). Queries also probe the
 * neighbouring magnitude buckets of a number, so 99 finds 101.
 *
 * A token is a 32-bit hash of (kind, argument path, value or trigram). Two tokens may collide; that
 * only adds a candidate, since every candidate is scored exactly afterwards.
 */
export function queryTokens(args: JsonObject, forQuery = true): WeightedToken[] {
  const out: WeightedToken[] = [];
  const names = Object.keys(args);
  for (const name of names) {
    const path = fnv(name, FNV_SEED);
    const value = args[name]!;
    const weight = 1 / names.length;
    const nested = value !== null && typeof value === 'object';
    if (nested) out.push({ token: fnv(canonicalJson(value), mix(path, KIND_EXACT)), weight: weight / 2 });
    leafTokens(path, value, nested ? weight / 2 : weight, out, forQuery);
  }
  return out;
}

function leafTokens(path: number, value: Json, weight: number, out: WeightedToken[], forQuery: boolean): void {
  if (out.length >= MAX_TOKENS) return;
  if (value !== null && typeof value === 'object') {
    if (Array.isArray(value)) {
      const step = mix(path, KIND_ITEM);
      for (const item of value) leafTokens(step, item, weight / value.length, out, forQuery);
    } else {
      const keys = Object.keys(value);
      for (const key of keys) leafTokens(fnv(key, path), value[key]!, weight / keys.length, out, forQuery);
    }
    return;
  }
  const exact = typeof value === 'string' ? fnv(value, mix(path, KIND_STRING)) : fnv(String(value), mix(path, KIND_EXACT));
  // An opaque id is only ever equal or not (similarity.ts): its trigrams or magnitude would find
  // recordings of other ids, all of which score 0.
  if ((typeof value === 'string' && isOpaqueId(value)) || (typeof value === 'number' && isOpaqueNumber(value))) {
    out.push({ token: exact, weight });
    return;
  }
  out.push({ token: exact, weight: weight / 2 });
  if (typeof value === 'string') {
    const grams = trigramHashes(value, mix(path, KIND_TRIGRAM));
    for (const gram of grams) out.push({ token: gram, weight: weight / 2 / grams.size });
  } else if (typeof value === 'number') {
    const bucket = magnitude(value);
    const buckets = forQuery ? [bucket - 1, bucket, bucket + 1] : [bucket];
    for (const b of buckets) out.push({ token: mix(mix(path, KIND_NUMBER), b), weight: weight / 2 });
  }
}

/** Hashes of the distinct lower-cased character trigrams of the start of a string (padded). */
function trigramHashes(value: string, seed: number): Set<number> {
  const text = ` ${value.slice(0, TRIGRAM_CHARS).toLowerCase()} `;
  const out = new Set<number>();
  for (let i = 0; i + 3 <= text.length; i++) {
    out.add(mix(mix(mix(seed, text.charCodeAt(i)), text.charCodeAt(i + 1)), text.charCodeAt(i + 2)));
  }
  return out;
}

/** Sign and log-scale bucket of a number: buckets grow by a quarter, so near values share one. */
function magnitude(x: number): number {
  if (x === 0) return 0;
  const bucket = Math.floor(Math.log(Math.abs(x)) / Math.log(1.25));
  return x < 0 ? -1_000_000 - bucket : 1_000_000 + bucket;
}

const FNV_SEED = 0x811c9dc5;
const [KIND_EXACT, KIND_STRING, KIND_TRIGRAM, KIND_NUMBER, KIND_ITEM] = [1, 2, 3, 4, 5] as const;

/** One FNV-1a step over a 32-bit value. */
function mix(hash: number, value: number): number {
  return Math.imul(hash ^ (value | 0), 0x01000193) >>> 0;
}

/** FNV-1a over a string's UTF-16 code units, continuing from `seed`. */
function fnv(text: string, seed: number): number {
  let hash = seed;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
