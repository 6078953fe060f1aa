/**
 * Rollouts kept in this process's memory (without `--memo-url`): a map in order of last call, so
 * the longest silent comes first for expiry and eviction. Bounded by the TTL, a count, the history
 * kept per server and the bytes that history holds. The clock is injected (tests use a fake one).
 *
 * The history digest is folded lazily: a rollout that never diverges never hashes its answers (the
 * exact path stays as cheap as without rollouts); the digest is brought up to date when a diverged
 * call needs it, or when an entry leaves the kept history.
 */
import { type Answered, EMPTY_DIGEST, type HistoryEntry, nextDigest, RECORDED } from '../core/rollout.js';
import {
  DEFAULT_LIMITS,
  type EndedHow,
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

interface ServerRecord {
  /** Answered calls ever. */
  answered: number;
  /** Kept entries, oldest first. */
  history: HistoryEntry[];
  /** The digest over the first `folded` answered calls. */
  digest: string;
  folded: number;
  since?: number;
  by?: { tool: string; arguments: string };
}

interface RolloutRecord {
  readonly id: string;
  calls: number;
  readonly createdAt: number;
  lastSeen: number;
  bytes: number;
  readonly servers: Map<string, ServerRecord>;
}

/** Bytes of an entry beyond its strings (the object, the array slot), as V8 holds it, roughly. */
const ENTRY_BYTES = 96;
const ROLLOUT_BYTES = 256;

const entryBytes = (e: HistoryEntry): number => ENTRY_BYTES + 2 * (e.tool.length + e.arguments.length + e.outputJson.length);

export class MemoryRolloutStore implements RolloutStore {
  readonly limits: RolloutStoreLimits;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #onEnded: ((how: EndedHow) => void) | undefined;
  /** By id, least recently called first. */
  readonly #rollouts = new Map<string, RolloutRecord>();
  #bytes = 0;

  constructor(options: MemoryStoreOptions = {}) {
    this.limits = {
      ttlMs: options.ttlMs ?? DEFAULT_LIMITS.ttlMs,
      maxRollouts: options.maxRollouts ?? DEFAULT_LIMITS.maxRollouts,
      maxHistory: options.maxHistory ?? DEFAULT_LIMITS.maxHistory,
    };
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
    const record = rollout?.servers.get(server);
    if (record?.since === undefined) return RECORDED;
    return {
      state: 'diverged',
      since: record.since,
      answered: record.answered,
      digest: foldAll(record),
      history: record.history.slice().reverse(),
    };
  }

  record(id: string, server: string, answered: Answered): Recorded {
    const now = this.#now();
    let rollout = this.#live(id);
    if (rollout) {
      // Moved to the end: the map stays in order of last call.
      this.#rollouts.delete(id);
      this.#rollouts.set(id, rollout);
    } else {
      rollout = { id, calls: 0, createdAt: now, lastSeen: now, bytes: ROLLOUT_BYTES, servers: new Map() };
      this.#rollouts.set(id, rollout);
      this.#bytes += ROLLOUT_BYTES;
    }
    rollout.lastSeen = now;
    const call = ++rollout.calls;
    let diverged = false;
    if (answered.tier !== 'miss') {
      let record = rollout.servers.get(server);
      if (!record) rollout.servers.set(server, (record = { answered: 0, history: [], digest: EMPTY_DIGEST, folded: 0 }));
      const entry: HistoryEntry = { call, ...answered };
      record.history.push(entry);
      record.answered++;
      this.#grow(rollout, entryBytes(entry));
      while (record.history.length > this.limits.maxHistory) {
        // An entry leaving the kept history is folded into the digest first.
        if (record.folded === record.answered - record.history.length) {
          record.digest = nextDigest(record.digest, record.history[0]!);
          record.folded++;
        }
        this.#grow(rollout, -entryBytes(record.history.shift()!));
      }
      if (record.since === undefined && answered.writes && answered.tier === 'fuzzy') {
        record.since = call;
        record.by = { tool: answered.tool, arguments: answered.arguments };
        diverged = true;
      }
    }
    this.#enforceCaps(rollout);
    return { kind: 'ok', call, diverged };
  }

  view(id: string): RolloutView | undefined {
    const rollout = this.#live(id);
    if (!rollout) return undefined;
    const servers: ServerView[] = [...rollout.servers].map(([server, record]) => ({
      server,
      state: record.since === undefined ? 'recorded' : 'diverged',
      ...(record.since === undefined ? {} : { divergedSince: record.since }),
      ...(record.by === undefined ? {} : { divergedBy: record.by }),
      answered: record.answered,
      digest: foldAll(record),
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
      if (rollout.lastSeen > deadline) break;
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
  #live(id: string): RolloutRecord | undefined {
    const rollout = this.#rollouts.get(id);
    if (!rollout) return undefined;
    if (rollout.lastSeen > this.#now() - this.limits.ttlMs) return rollout;
    this.#drop(rollout);
    this.#onEnded?.('expired');
    return undefined;
  }

  #grow(rollout: RolloutRecord, bytes: number): void {
    rollout.bytes += bytes;
    this.#bytes += bytes;
  }

  /** Ends the longest silent rollouts while past a cap, never `keep` (the one just called). */
  #enforceCaps(keep: RolloutRecord): void {
    for (const rollout of this.#rollouts.values()) {
      if (this.#rollouts.size <= this.limits.maxRollouts && this.#bytes <= this.#maxBytes) return;
      if (rollout === keep) return;
      this.#drop(rollout);
      this.#onEnded?.('evicted');
    }
  }

  #drop(rollout: RolloutRecord): void {
    this.#rollouts.delete(rollout.id);
    this.#bytes -= rollout.bytes;
  }
}

/** Brings a server's digest up to date with every answered call (the folded ones and the kept history). */
function foldAll(record: ServerRecord): string {
  const firstKept = record.answered - record.history.length;
  for (let n = record.folded; n < record.answered; n++) record.digest = nextDigest(record.digest, record.history[n - firstKept]!);
  record.folded = record.answered;
  return record.digest;
}
