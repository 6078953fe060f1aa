/**
 * Rollouts kept in this process's memory (without `--memo-url`). Bounded by the TTL, a count, the
 * history kept per server and the bytes that history holds; the clock is injected (tests use a fake
 * one). A call costs a map read or two and a push (a call answered from a recording, `recordExact`:
 * one read, one clock read, the entry its one allocation; a rollout's first server is kept without a
 * map): no hashing, no reordering. Eviction past a cap takes
 * the longest silent rollout by the CLOCK algorithm (a rollout called since it was last passed over
 * gets a second chance), so it is amortized constant time; the sweep walks every rollout.
 *
 * The digest is computed only for a diverged call, from its entries' hashes, each computed once.
 */
import { type Answered, entryHash, type HistoryEntry, historyDigest, RECORDED } from '../core/rollout.js';
import {
  type EndedHow,
  type ExactAnswer,
  type ExactCall,
  limitsOf,
  type Recorded,
  type RolloutStore,
  type RolloutStoreLimits,
  type RolloutStoreStatus,
  type RolloutView,
  type ServerView,
  type StateRead,
} from './rollout-store.js';

export interface MemoryStoreOptions extends Partial<RolloutStoreLimits> {
  /** Bytes of history (outputs and arguments, as V8 holds them) kept at most; past it the longest silent rollouts end. */
  maxBytes?: number;
  /** Milliseconds since the epoch. */
  now?: () => number;
  /** Called for every rollout that ends by itself outside `sweep` (found expired on a call, evicted by a cap). */
  onEnded?: (how: EndedHow) => void;
}

/** Entries' hashes, once a digest needed them (entries are handed out as they are, so the hash sits beside them). */
const hashes = new WeakMap<HistoryEntry, string>();
const hashOf = (entry: HistoryEntry): string => {
  let hash = hashes.get(entry);
  if (hash === undefined) hashes.set(entry, (hash = entryHash(entry)));
  return hash;
};

interface ServerRecord {
  /** Answered calls ever. */
  answered: number;
  /** Kept entries, oldest first: the last `maxHistory`, and the write that diverged the server. */
  history: HistoryEntry[];
  /** The digest of `history` when `answered` was `digestAt`. */
  digest: string;
  digestAt: number;
  since?: number;
  by?: { tool: string; arguments: string };
}

interface RolloutRecord {
  readonly id: string;
  calls: number;
  readonly createdAt: number;
  lastSeen: number;
  /** Called since the clock hand last passed it. */
  touched: boolean;
  /** A server of it has diverged: it is the last to be evicted. */
  diverged: boolean;
  bytes: number;
  /** Its first server and that server's record: most rollouts call one server, kept without a map. */
  server: string | undefined;
  first: ServerRecord | undefined;
  /** Its other servers, once it has called more than one. */
  others: Map<string, ServerRecord> | undefined;
}

/** A rollout's record of `server`, if it has answered a call there. */
function serverOf(rollout: RolloutRecord, server: string): ServerRecord | undefined {
  return rollout.server === server ? rollout.first : rollout.others?.get(server);
}

function addServer(rollout: RolloutRecord, server: string): ServerRecord {
  const record: ServerRecord = { answered: 0, history: [], digest: '', digestAt: -1 };
  if (rollout.first === undefined) {
    rollout.server = server;
    rollout.first = record;
  } else (rollout.others ??= new Map()).set(server, record);
  return record;
}

/** A rollout's servers in the order it first called them. */
function serversOf(rollout: RolloutRecord): [string, ServerRecord][] {
  const out: [string, ServerRecord][] = rollout.first === undefined ? [] : [[rollout.server!, rollout.first]];
  if (rollout.others) out.push(...rollout.others);
  return out;
}

/** Bytes of an entry beyond its strings (the object, the array slot), as V8 holds it, roughly. */
const ENTRY_BYTES = 96;
const ROLLOUT_BYTES = 256;

const entryBytes = (e: HistoryEntry): number => ENTRY_BYTES + 2 * (e.tool.length + e.arguments.length + e.outputJson.length);

export class InMemoryRolloutStore implements RolloutStore {
  readonly limits: RolloutStoreLimits;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #onEnded: ((how: EndedHow) => void) | undefined;
  /** By id, in order of creation (or of their last second chance). */
  readonly #rollouts = new Map<string, RolloutRecord>();
  #bytes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.limits = limitsOf(options);
    this.#maxBytes = options.maxBytes ?? 128 * 1024 * 1024;
    this.#now = options.now ?? Date.now;
    this.#onEnded = options.onEnded;
  }

  /** Rollouts held, and the bytes of history they hold. */
  get size(): { rollouts: number; bytes: number } {
    return { rollouts: this.#rollouts.size, bytes: this.#bytes };
  }

  state(id: string, server: string): StateRead {
    const rollout = this.#live(id);
    const record = rollout && serverOf(rollout, server);
    if (record?.since === undefined) return RECORDED;
    return {
      state: 'diverged',
      since: record.since,
      answered: record.answered,
      digest: digestOf(record),
      history: record.history.slice().reverse(),
    };
  }

  record(id: string, server: string, answered: Answered): Recorded {
    const now = this.#now();
    const rollout = this.#touch(id, this.#live(id, now), now);
    const call = rollout.calls;
    const diverged =
      answered.tier !== 'miss' &&
      this.#append(rollout, server, {
        call,
        tool: answered.tool,
        arguments: answered.arguments,
        outputJson: answered.outputJson,
        isError: answered.isError,
        tier: answered.tier,
        writes: answered.writes,
      });
    this.#capped(rollout);
    return { kind: 'ok', call, diverged };
  }

  recordExact(id: string, server: string, call: ExactCall, answer: ExactAnswer): boolean {
    const now = this.#now();
    const live = this.#live(id, now);
    if (live && serverOf(live, server)?.since !== undefined) return false;
    const rollout = this.#touch(id, live, now);
    this.#append(rollout, server, {
      call: rollout.calls,
      tool: call.tool,
      arguments: call.arguments,
      outputJson: answer.outputJson,
      isError: answer.isError,
      tier: 'exact',
      writes: call.writes,
    });
    this.#capped(rollout);
    return true;
  }

  /** The rollout (started if `live` is none), its calls counted one more and its clock set. */
  #touch(id: string, live: RolloutRecord | undefined, now: number): RolloutRecord {
    let rollout = live;
    if (rollout) rollout.touched = true;
    else {
      rollout = {
        id,
        calls: 0,
        createdAt: now,
        lastSeen: now,
        touched: false,
        diverged: false,
        bytes: ROLLOUT_BYTES,
        server: undefined,
        first: undefined,
        others: undefined,
      };
      this.#rollouts.set(id, rollout);
      this.#bytes += ROLLOUT_BYTES;
    }
    rollout.lastSeen = now;
    rollout.calls++;
    return rollout;
  }

  /** Adds an answered call to the rollout's history on `server`; true when it diverged the server. */
  #append(rollout: RolloutRecord, server: string, entry: HistoryEntry): boolean {
    const record = serverOf(rollout, server) ?? addServer(rollout, server);
    const history = record.history;
    history.push(entry);
    record.answered++;
    this.#grow(rollout, entryBytes(entry));
    let diverged = false;
    if (record.since === undefined && entry.writes && entry.tier === 'fuzzy') {
      record.since = entry.call;
      record.by = { tool: entry.tool, arguments: entry.arguments };
      rollout.diverged = true;
      diverged = true;
    }
    // The last maxHistory entries are kept, and the write that diverged the server, however old.
    while (history.length > this.limits.maxHistory) {
      const at = history[0]!.call === record.since ? 1 : 0;
      if (history.length - at <= this.limits.maxHistory) break;
      this.#grow(rollout, -entryBytes(at === 0 ? history.shift()! : history.splice(1, 1)[0]!));
    }
    return diverged;
  }

  #capped(rollout: RolloutRecord): void {
    if (this.#rollouts.size > this.limits.maxRollouts || this.#bytes > this.#maxBytes) this.#enforceCaps(rollout);
  }

  view(id: string): RolloutView | undefined {
    const rollout = this.#live(id);
    if (!rollout) return undefined;
    const servers: ServerView[] = serversOf(rollout).map(([server, record]) => ({
      server,
      state: record.since === undefined ? 'recorded' : 'diverged',
      ...(record.since === undefined ? {} : { divergedSince: record.since }),
      ...(record.by === undefined ? {} : { divergedBy: record.by }),
      answered: record.answered,
      digest: record.since === undefined ? '' : digestOf(record),
      history: record.history.slice().reverse(),
    }));
    return {
      id,
      calls: rollout.calls,
      createdAt: new Date(rollout.createdAt).toISOString(),
      lastSeen: new Date(rollout.lastSeen).toISOString(),
      expiresAt: new Date(rollout.lastSeen + this.limits.ttlMs).toISOString(),
      servers,
    };
  }

  end(id: string): boolean {
    const rollout = this.#live(id);
    if (!rollout) return false;
    this.#drop(rollout);
    return true;
  }

  sweep(): Partial<Record<EndedHow, number>> {
    const ended: Partial<Record<EndedHow, number>> = {};
    const deadline = this.#now() - this.limits.ttlMs;
    for (const rollout of this.#rollouts.values()) {
      if (rollout.lastSeen > deadline) continue;
      // Counted by the caller, from what this returns.
      this.#drop(rollout);
      ended.expired = (ended.expired ?? 0) + 1;
    }
    return ended;
  }

  status(): RolloutStoreStatus {
    return { backend: 'memory', state: 'ok', rollouts: this.#rollouts.size };
  }

  close(): void {
    this.#rollouts.clear();
    this.#bytes = 0;
  }

  /** The rollout, unless it is unknown or silent past the TTL (then it ends now). */
  #live(id: string, now = this.#now()): RolloutRecord | undefined {
    const rollout = this.#rollouts.get(id);
    if (!rollout) return undefined;
    if (rollout.lastSeen > now - this.limits.ttlMs) return rollout;
    this.#drop(rollout);
    this.#onEnded?.('expired');
    return undefined;
  }

  #grow(rollout: RolloutRecord, bytes: number): void {
    rollout.bytes += bytes;
    this.#bytes += bytes;
  }

  /**
   * Ends rollouts while past a cap, never `keep` (the one just called): the CLOCK algorithm over
   * the map's order, a rollout called since the hand last passed it moved to the back once. A
   * rollout with a diverged server is passed over while a recorded one can go: forgetting it
   * would serve its later calls recordings of a world it changed, while a recorded rollout that
   * is forgotten loses only the reads its prompts would have shown.
   */
  #enforceCaps(keep: RolloutRecord): void {
    // After a whole turn of the hand without a recorded rollout to end, diverged ones go too.
    let spared = 0;
    while (this.#rollouts.size > this.limits.maxRollouts || this.#bytes > this.#maxBytes) {
      const oldest = this.#rollouts.values().next().value;
      if (oldest === undefined || (oldest === keep && this.#rollouts.size === 1)) return;
      const spare = oldest === keep || oldest.touched || (oldest.diverged && spared < 2 * this.#rollouts.size);
      if (spare) {
        if (!oldest.touched && oldest !== keep) spared++;
        oldest.touched = false;
        this.#rollouts.delete(oldest.id);
        this.#rollouts.set(oldest.id, oldest);
        continue;
      }
      this.#drop(oldest);
      this.#onEnded?.('evicted');
    }
  }

  #drop(rollout: RolloutRecord): void {
    this.#rollouts.delete(rollout.id);
    this.#bytes -= rollout.bytes;
  }
}

/** The digest of a server's kept history (its entries hashed once each, the digest once per call). */
function digestOf(record: ServerRecord): string {
  if (record.digestAt !== record.answered) {
    record.digest = historyDigest(record.history.map(hashOf));
    record.digestAt = record.answered;
  }
  return record.digest;
}
