/**
 * The nearest recorded calls of a tool. Each tool's distinct recorded arguments are loaded from the
 * store the first time that tool is asked about, then kept in memory.
 *
 * A tool with few recordings is scanned in full. A larger one gets an inverted index from tokens to
 * recordings: one token per (argument path, exact value), character trigrams of string values and a
 * magnitude bucket of numbers. A lookup scans the postings of the call's own tokens, rarest first and
 * within a bounded budget, to score recordings roughly; the best `candidates` of those are then
 * scored exactly with `argumentSimilarity`. Cost is bounded by the budget, not by the tool's size.
 *
 * Loading and indexing a tool of 100k recordings takes seconds, so a served cache builds it off the
 * event loop: a worker thread (index-worker.ts) opens the cache file read-only at the same snapshot,
 * reads and indexes the tool, and hands back flat arrays. `ready()` waits for that asynchronously;
 * a lookup is only ever answered from a finished index. Arguments are parsed on the serving thread
 * only when a lookup scores them, and every string compared is cut to `COMPARED_CHARS`, so one call
 * costs the same whatever the size of its arguments or of the recorded ones.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { canonicalJson } from '../core/canonical.js';
import { parseJson, RawNumber } from '../core/json-text.js';
import { toolId } from '../core/tool-id.js';
import type { Json, JsonObject, Neighbor } from '../core/types.js';
import type { RecordedArguments } from '../store/store.js';
import { argumentSimilarity, isOpaqueId, isOpaqueNumber } from './similarity.js';
import { type ProfileInputs, profileTool, type ToolProfile } from './tool-profile.js';

/** Where recorded arguments come from (the Store, or a list in benchmarks). */
export interface ArgumentSource {
  argumentsOf(server: string, tool: string): RecordedArguments[];
  /** The tool records, for each tool's profile (schema); none when left out. */
  catalog?(): readonly { server: string; tool: string; input_schema?: JsonObject }[];
  /** Argument names dropped before hashing, for each tool's profile. */
  readonly ignoredArguments?: readonly string[];
  /** The cache file, when there is one: a worker thread can then read it on its own. */
  readonly path?: string;
  /** The snapshot the source reads; the worker checks it reads the same one. */
  readonly snapshotId?: string;
}

export interface NeighborIndexOptions {
  /** Tools with fewer distinct recorded calls than this are scanned in full. */
  linearBelow?: number;
  /** Recordings scored exactly per lookup. */
  candidates?: number;
  /** Postings read per lookup; tokens shared by more recordings than what is left are skipped. */
  scanBudget?: number;
  /** Build indexes in a worker thread when the source is a cache file (default true). */
  worker?: boolean;
}

const DEFAULTS = { linearBelow: 2_000, candidates: 64, scanBudget: 15_000, worker: true } as const;
/** Characters of a string value cut into trigrams (its start identifies it well enough). */
const TRIGRAM_CHARS = 48;
/** Tokens per call at most, so a huge argument cannot blow up the index. */
const MAX_TOKENS = 512;
/**
 * Characters of a string value that similarity compares (query and recordings alike): past this, a
 * 1 MB argument would cost a million-character trigram set per candidate. Two strings equal over
 * their first COMPARED_CHARS characters but not beyond still score below 1 (see `comparable`).
 */
export const COMPARED_CHARS = 256;
/** Items of an array and keys of an object that similarity compares. */
export const COMPARED_ITEMS = 256;

/**
 * A tool's recordings as flat data, cheap to move between threads: keys and canonical arguments
 * concatenated with offsets, and the postings (when indexed) as typed arrays.
 */
export interface ToolData {
  readonly size: number;
  /** The tool summarised (tool-profile.ts), computed with the index. */
  readonly profile: ToolProfile;
  readonly keys: string;
  readonly keyOffsets: Int32Array;
  readonly args: string;
  readonly argOffsets: Int32Array;
  readonly postings?: PostingsData;
}

interface PostingsData {
  /** Distinct token hashes, ascending. */
  readonly tokens: Uint32Array;
  /** Entries of token i are entries[offsets[i] .. offsets[i + 1]). */
  readonly offsets: Int32Array;
  readonly entries: Int32Array;
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
  readonly #building = new Map<string, Promise<void>>();

  constructor(source: ArgumentSource, options: NeighborIndexOptions = {}) {
    this.#source = source;
    this.#options = { ...DEFAULTS, ...options };
    // The worker thread is started now, ahead of the first miss, which then pays no thread start.
    if (this.#usesWorker()) indexWorker();
  }

  #usesWorker(): boolean {
    const path = this.#source.path;
    return this.#options.worker && path !== undefined && path !== ':memory:' && path !== '';
  }

  /** The `k` most similar recorded calls, most similar first; ties keep recording order. */
  nearest(server: string, tool: string, args: JsonObject, k: number): Neighbor[] {
    if (k <= 0) return [];
    return this.toolIndex(server, tool).nearest(args, k);
  }

  /**
   * A tool's profile, computed with its index: in the worker thread for a server (which awaits
   * `ready` first), here and now for commands and benchmarks.
   */
  profile(server: string, tool: string): ToolProfile {
    return this.toolIndex(server, tool).profile;
  }

  /** Is the index of this tool built (so `nearest` returns at once)? */
  isReady(server: string, tool: string): boolean {
    return this.#tools.has(toolId(server, tool));
  }

  /**
   * Resolves once the tool's index is built, off the event loop when the source is a cache file
   * (true), or false if `signal` aborts first. Concurrent callers share one build.
   */
  async ready(server: string, tool: string, signal?: AbortSignal): Promise<boolean> {
    const id = toolId(server, tool);
    if (this.#tools.has(id)) return true;
    let building = this.#building.get(id);
    if (!building) {
      building = this.#build(server, tool).finally(() => this.#building.delete(id));
      // A build whose waiters all gave up (their deadline passed) may still fail: not unhandled.
      building.catch(() => undefined);
      this.#building.set(id, building);
    }
    if (!signal) {
      await building;
      return true;
    }
    if (signal.aborted) return false;
    return new Promise<boolean>((resolve, reject) => {
      const abandon = (): void => resolve(false);
      signal.addEventListener('abort', abandon, { once: true });
      building.then(
        () => {
          signal.removeEventListener('abort', abandon);
          resolve(true);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', abandon);
          reject(error);
        },
      );
    });
  }

  async #build(server: string, tool: string): Promise<void> {
    const path = this.#source.path;
    const data =
      this.#usesWorker() && path !== undefined
        ? await buildInWorker({
            path,
            snapshotId: this.#source.snapshotId,
            server,
            tool,
            linearBelow: this.#options.linearBelow,
          })
        : undefined;
    const id = toolId(server, tool);
    // No worker (no file, or the file moved on to another snapshot): built here, as `nearest` would.
    if (!this.#tools.has(id)) this.#tools.set(id, new ToolIndex(data ?? this.#data(server, tool), this.#options));
  }

  #data(server: string, tool: string): ToolData {
    return buildToolData(this.#source.argumentsOf(server, tool), this.#options.linearBelow, profileInputs(this.#source, server, tool));
  }

  /** The index of one tool, built here and now on first use (commands and benchmarks; a server awaits `ready` first). */
  toolIndex(server: string, tool: string): ToolIndex {
    const id = toolId(server, tool);
    let index = this.#tools.get(id);
    if (!index) {
      index = new ToolIndex(this.#data(server, tool), this.#options);
      this.#tools.set(id, index);
    }
    return index;
  }
}

/** What a tool's profile needs from the source besides its recordings. */
export function profileInputs(source: Pick<ArgumentSource, 'catalog' | 'ignoredArguments'>, server: string, tool: string): ProfileInputs {
  const record = source.catalog?.().find((t) => t.server === server && t.tool === tool);
  return { schema: record?.input_schema, ignored: source.ignoredArguments ?? [] };
}

/**
 * Flat data of a tool's recordings and its profile, indexed when there are `linearBelow` of them or
 * more. Each recording is parsed once, for both.
 */
export function buildToolData(rows: readonly RecordedArguments[], linearBelow: number, inputs: ProfileInputs): ToolData {
  const keyOffsets = new Int32Array(rows.length + 1);
  const argOffsets = new Int32Array(rows.length + 1);
  let keyLength = 0;
  let argLength = 0;
  rows.forEach((row, i) => {
    keyOffsets[i] = keyLength;
    argOffsets[i] = argLength;
    keyLength += row.key.length;
    argLength += row.arguments.length;
  });
  keyOffsets[rows.length] = keyLength;
  argOffsets[rows.length] = argLength;
  // Parsed as calls are (a number past a double is a RawNumber, not Infinity): their types and similarity agree.
  const parsed = rows.map((r) => recordedArguments(r.arguments));
  const data: ToolData = {
    size: rows.length,
    profile: profileTool(inputs, parsed),
    keys: rows.map((r) => r.key).join(''),
    keyOffsets,
    args: rows.map((r) => r.arguments).join(''),
    argOffsets,
  };
  if (rows.length < linearBelow) return data;
  return { ...data, postings: buildPostings(parsed) };
}

export class ToolIndex {
  readonly size: number;
  readonly profile: ToolProfile;
  readonly #data: ToolData;
  readonly #options: Required<NeighborIndexOptions>;
  /** Arguments parsed so far (as stored, and as compared), by entry id. */
  readonly #parsed: (JsonObject | undefined)[];
  readonly #compared: (JsonObject | undefined)[];
  /** Scratch space for one lookup, reused: rough scores by entry id. */
  readonly #scores: Float64Array;

  constructor(data: ToolData, options: Required<NeighborIndexOptions>) {
    this.#data = data;
    this.#options = options;
    this.size = data.size;
    this.profile = data.profile;
    this.#parsed = new Array<JsonObject | undefined>(data.size);
    this.#compared = new Array<JsonObject | undefined>(data.size);
    this.#scores = new Float64Array(data.postings ? data.size : 0);
  }

  get indexed(): boolean {
    return this.#data.postings !== undefined;
  }

  #arguments(id: number): JsonObject {
    let args = this.#parsed[id];
    if (!args) {
      const { args: text, argOffsets } = this.#data;
      args = recordedArguments(text.slice(argOffsets[id]!, argOffsets[id + 1]!));
      this.#parsed[id] = args;
    }
    return args;
  }

  #comparedArguments(id: number): JsonObject {
    let args = this.#compared[id];
    if (!args) {
      args = comparable(this.#arguments(id));
      this.#compared[id] = args;
    }
    return args;
  }

  #key(id: number): string {
    return this.#data.keys.slice(this.#data.keyOffsets[id]!, this.#data.keyOffsets[id + 1]!);
  }

  nearest(args: JsonObject, k: number): Neighbor[] {
    const postings = this.#data.postings;
    const ids = postings ? this.#candidates(postings, args) : undefined;
    const query = comparable(args);
    const best: { id: number; similarity: number }[] = [];
    const consider = (id: number): void => {
      const similarity = argumentSimilarity(query, this.#comparedArguments(id));
      if (best.length === k && !before(similarity, id, best[k - 1]!)) return;
      let at = best.length;
      while (at > 0 && before(similarity, id, best[at - 1]!)) at--;
      best.splice(at, 0, { id, similarity });
      if (best.length > k) best.pop();
    };
    if (ids) for (const id of ids) consider(id);
    else for (let id = 0; id < this.size; id++) consider(id);
    return best.map(({ id, similarity }) => ({ key: this.#key(id), arguments: this.#arguments(id), similarity }));
  }

  /** The ids worth scoring exactly: the best rough scores from the call's own tokens. */
  #candidates(postings: PostingsData, args: JsonObject): Iterable<number> {
    const lists = queryTokens(args)
      .map(({ token, weight }) => ({ list: postingsOf(postings, token), weight }))
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
      const filler = skipped ?? Int32Array.from({ length: Math.min(limit, this.size) }, (_, i) => i);
      for (let i = 0; i < filler.length && chosen.length < limit; i++) if (!seen.has(filler[i]!)) chosen.push(filler[i]!);
    }
    return chosen;
  }
}

/**
 * The arguments as similarity compares them: strings cut to COMPARED_CHARS, arrays and objects to
 * COMPARED_ITEMS items. A string that was cut ends with its length and a hash of the whole, so two
 * long strings that differ only past the cut still differ.
 */
/**
 * Recorded arguments (canonical JSON) as a value: a number no double holds stays a `RawNumber` of
 * its canonical text, as in a call's own arguments, so neighbours are shown and compared exactly.
 */
function recordedArguments(text: string): JsonObject {
  return parseJson(text, 'value') as JsonObject;
}

export function comparable(args: JsonObject): JsonObject {
  return needsCut(args, 0) ? (cut(args) as JsonObject) : args;
}

function needsCut(value: Json, depth: number): boolean {
  if (typeof value === 'string') return value.length > COMPARED_CHARS;
  if (value === null || typeof value !== 'object' || value instanceof RawNumber) return false;
  if (depth > 64) return true;
  if (Array.isArray(value)) return value.length > COMPARED_ITEMS || value.some((v) => needsCut(v, depth + 1));
  const keys = Object.keys(value);
  return keys.length > COMPARED_ITEMS || keys.some((k) => needsCut(value[k]!, depth + 1));
}

function cut(value: Json, depth = 0): Json {
  if (typeof value === 'string')
    return value.length > COMPARED_CHARS ? `${value.slice(0, COMPARED_CHARS - 24)}\u0000${value.length}:${fnv(value, FNV_SEED)}` : value;
  if (value === null || typeof value !== 'object' || value instanceof RawNumber) return value;
  if (depth > 64) return null;
  if (Array.isArray(value)) return value.slice(0, COMPARED_ITEMS).map((v) => cut(v, depth + 1));
  const out: JsonObject = {};
  for (const key of Object.keys(value).slice(0, COMPARED_ITEMS)) out[key] = cut(value[key]!, depth + 1);
  return out;
}

/** Ids of the entries holding `token`, ascending (a view, not a copy), found by binary search. */
function postingsOf(postings: PostingsData, token: number): Int32Array | undefined {
  const { tokens, offsets, entries } = postings;
  let lo = 0;
  let hi = tokens.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const at = tokens[mid]!;
    if (at === token) return entries.subarray(offsets[mid]!, offsets[mid + 1]!);
    if (at < token) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** Builds a tool's index in the shared worker thread; undefined when no worker can (the caller builds it). */
function buildInWorker(request: Omit<WorkerRequest, 'id'>): Promise<ToolData | undefined> {
  const worker = indexWorker();
  if (!worker) return Promise.resolve(undefined);
  return worker.build(request);
}

/**
 * Runs another task (output shapes: shape-task.ts) in the neighbour index worker; undefined when
 * no worker can (the caller does it itself) or the worker died.
 */
export function askIndexWorker(message: object): Promise<{ id: number } | undefined> {
  const worker = indexWorker();
  return worker ? worker.ask(message) : Promise.resolve(undefined);
}

/** What the worker is asked: one tool of one cache file, at one snapshot. */
export interface WorkerRequest {
  id: number;
  path: string;
  snapshotId: string | undefined;
  server: string;
  tool: string;
  linearBelow: number;
}

export type WorkerReply = { id: number; data: ToolData } | { id: number; stale: true } | { id: number; error: string };

/** One worker thread for the process, started on first need; it never keeps the process alive. */
class IndexWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (reply: { id: number } | undefined) => void>();
  #next = 0;

  constructor(url: URL) {
    this.#worker = new Worker(url);
    this.#worker.on('message', (reply: WorkerReply) => {
      const done = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      if (this.#pending.size === 0) this.#worker.unref();
      done?.(reply);
    });
    // A worker that dies leaves its builds to the serving thread; the next build starts a new one.
    const fail = (): void => {
      if (shared === this) shared = undefined;
      for (const done of this.#pending.values()) done(undefined);
      this.#pending.clear();
    };
    this.#worker.on('error', fail);
    this.#worker.on('exit', fail);
    // Held only while a build is pending (a process waiting for one stays up; an idle worker never
    // keeps it up). After the listeners: adding a 'message' listener refs the worker's port again.
    this.#worker.unref();
  }

  async build(request: Omit<WorkerRequest, 'id'>): Promise<ToolData | undefined> {
    const reply = (await this.ask(request)) as WorkerReply | undefined;
    return reply && 'data' in reply ? reply.data : undefined;
  }

  /** Sends one task (a message the worker knows) and resolves with its reply, or undefined if the worker died. */
  ask(message: object): Promise<{ id: number } | undefined> {
    const id = this.#next++;
    return new Promise((resolve) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, resolve);
      this.#worker.postMessage({ ...message, id });
    });
  }
}

let shared: IndexWorker | undefined;
let workerMissing = false;

function indexWorker(): IndexWorker | undefined {
  if (shared || workerMissing) return shared;
  const url = workerUrl();
  if (!url) {
    workerMissing = true;
    return undefined;
  }
  shared = new IndexWorker(url);
  return shared;
}

/** The compiled worker: beside this file, or in dist/ when running from the TypeScript sources (tests). */
function workerUrl(): URL | undefined {
  for (const url of [new URL('./index-worker.js', import.meta.url), new URL('../../dist/src/neighbors/index-worker.js', import.meta.url)]) {
    if (existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
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
 * token -> ids of the entries holding it, as one flat array sliced by offsets (compressed rows),
 * tokens sorted for binary search: a few typed arrays instead of a JS array (or a Map) per token
 * keeps a 100k-call index small, quick to build and free to move between threads.
 */
function buildPostings(entries: readonly JsonObject[]): PostingsData {
  // Pass 1: token ids of every entry, once each, in one flat list; how many entries hold each token.
  const ids = new Map<number, number>();
  const hashes: number[] = [];
  const flat: number[] = [];
  const starts: number[] = [];
  const counts: number[] = [];
  const lastEntry: number[] = [];
  entries.forEach((entry, e) => {
    starts.push(flat.length);
    for (const token of indexTokens(entry)) {
      let id = ids.get(token);
      if (id === undefined) {
        id = ids.size;
        ids.set(token, id);
        hashes.push(token);
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
  // Pass 2: tokens in hash order, then the entry ids laid out token by token.
  const order = Array.from({ length: hashes.length }, (_, i) => i).sort((a, b) => hashes[a]! - hashes[b]!);
  const rank = new Int32Array(hashes.length);
  const tokens = new Uint32Array(hashes.length);
  order.forEach((id, r) => {
    rank[id] = r;
    tokens[r] = hashes[id]!;
  });
  const offsets = new Int32Array(hashes.length + 1);
  for (let r = 0; r < order.length; r++) offsets[r + 1] = offsets[r]! + counts[order[r]!]!;
  const out = new Int32Array(offsets[hashes.length]!);
  const fill = offsets.slice(0, hashes.length);
  for (let e = 0; e < entries.length; e++) {
    for (let i = starts[e]!; i < starts[e + 1]!; i++) out[fill[rank[flat[i]!]!]!++] = e;
  }
  return { tokens, offsets, entries: out };
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
    const nested = value !== null && typeof value === 'object' && !(value instanceof RawNumber);
    // Of a long nested value, its start and length (a collision only adds a candidate, scored exactly).
    if (nested) out.push({ token: fnv(hashedText(canonicalJson(value)), mix(path, KIND_EXACT)), weight: weight / 2 });
    leafTokens(path, value, nested ? weight / 2 : weight, out, forQuery);
  }
  return out;
}

/** Characters of a nested value's canonical text hashed into its exact token. */
const HASHED_CHARS = 4_096;
const hashedText = (text: string): string => (text.length > HASHED_CHARS ? `${text.slice(0, HASHED_CHARS)}\u0000${text.length}` : text);

function leafTokens(path: number, value: Json, weight: number, out: WeightedToken[], forQuery: boolean): void {
  if (out.length >= MAX_TOKENS) return;
  // A number no double holds: its exact text is its token, as an id's is (similarity.ts).
  if (value instanceof RawNumber) {
    out.push({ token: fnv(value.text, mix(path, KIND_EXACT)), weight });
    return;
  }
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
