/**
 * State within a rollout, as the parts that read it see it (docs/canonical-key.md, "State within a
 * rollout"): a rollout's history on one server and whether that server's state has diverged from
 * every recording. The registry that keeps it is src/rollouts/; the tiers only read these shapes.
 * Imports nothing of ours.
 */
import { createHash } from 'node:crypto';

/** One answered call of a rollout on a server (misses are not history: they changed nothing and told nothing). */
export interface HistoryEntry {
  /** The rollout's call number (1-based, every call of the rollout on every server counted, misses included). */
  readonly call: number;
  readonly tool: string;
  /** Canonical JSON of the arguments (docs/canonical-key.md). */
  readonly arguments: string;
  /** The answer's output as JSON text. */
  readonly outputJson: string;
  readonly isError: boolean;
  readonly tier: 'exact' | 'fuzzy';
  /** Whether the tool counts as a write (src/rollouts/write-rule.ts). */
  readonly writes: boolean;
}

/** A call's answer as the registry records it: an answer, or a miss. */
export type AnsweredCall = Omit<HistoryEntry, 'call'>;
export type Answered = AnsweredCall | { readonly tier: 'miss' };

/**
 * A rollout's state on one server, before a call. `recorded`: every write it made there was
 * answered from a recording, so recordings still describe its world. `diverged`: a write no
 * recording has was improvised there (at call `since`), so only an improvisation that knows the
 * history can answer.
 */
export type ServerState =
  | { readonly state: 'recorded' }
  | {
      readonly state: 'diverged';
      /** The rollout's call number of the write that diverged it. */
      readonly since: number;
      /** Answered calls on the server so far (the digest covers them all, the history the last ones kept). */
      readonly answered: number;
      /** Digest of every answered call on the server so far: part of the memo key of the next one. */
      readonly digest: string;
      /** The most recent answered calls on the server, most recent first. */
      readonly history: readonly HistoryEntry[];
    };

/** A server's state once diverged: what the tiers are handed for a call there. */
export type Diverged = Extract<ServerState, { state: 'diverged' }>;

export const RECORDED: ServerState = Object.freeze({ state: 'recorded' });

/** One server of a rollout, for `GET /v1/rollouts/{id}`. */
export interface ServerView {
  readonly server: string;
  readonly state: 'recorded' | 'diverged';
  /** The rollout's call number of the write that diverged it. */
  readonly divergedSince?: number;
  /** That write. */
  readonly divergedBy?: { readonly tool: string; readonly arguments: string };
  /** Answered calls on the server (the history keeps the last `maxHistory` of them). */
  readonly answered: number;
  readonly digest: string;
  /** Most recent first. */
  readonly history: readonly HistoryEntry[];
}

export interface RolloutView {
  readonly id: string;
  /** Calls of the rollout, misses included. */
  readonly calls: number;
  readonly createdAt: string;
  readonly lastSeen: string;
  /** When it expires if it stays silent. */
  readonly expiresAt: string;
  readonly servers: readonly ServerView[];
}

/** What `/readyz` says of the store. */
export interface RolloutStoreStatus {
  readonly backend: 'memory' | 'postgres';
  readonly state: 'ok' | 'connecting' | 'unavailable';
  readonly rollouts?: number;
  readonly error?: string;
}

/**
 * The text that stands for an answered call in its server's digest: what the call was and what it
 * got, never when or through which tier (two rollouts that made the same calls and got the same
 * answers have one digest). Each part is prefixed by its length in UTF-8 bytes, so no two entries
 * share a text, and the output is taken as it is (escaping it again would cost more than hashing it).
 */
export function entryText(entry: Pick<HistoryEntry, 'tool' | 'arguments' | 'outputJson' | 'isError'>): string {
  return entryHead(entry) + entry.outputJson;
}

function entryHead(entry: Pick<HistoryEntry, 'tool' | 'arguments' | 'outputJson' | 'isError'>): string {
  const { tool, arguments: args, outputJson } = entry;
  const bytes = Buffer.byteLength;
  return `${bytes(tool)}:${tool}${bytes(args)}:${args}${entry.isError ? 1 : 0}${bytes(outputJson)}:`;
}

/** An entry's hash: hex SHA-256 of its text in UTF-8 (PostgreSQL computes the same from `entryText`). */
export function entryHash(entry: Pick<HistoryEntry, 'tool' | 'arguments' | 'outputJson' | 'isError'>): string {
  return createHash('sha256').update(entryHead(entry)).update(entry.outputJson).digest('hex');
}

/**
 * The digest of a server's history: hex SHA-256 of its kept entries' hashes, oldest first, each
 * followed by a newline. It covers what a prompt can be given, the last `--rollout-history` calls
 * and the write that diverged the server: two rollouts whose prompts would be the same share an
 * improvisation, and any difference in what a prompt shows is another key.
 */
export function historyDigest(hashes: readonly string[]): string {
  const hash = createHash('sha256');
  for (const h of hashes) hash.update(`${h}\n`);
  return hash.digest('hex');
}
