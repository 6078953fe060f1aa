/**
 * The memo of improvisations (the fuzzy tier's answers, kept apart from the recordings): what the
 * fuzzy tier asks of it, whichever holds it: the SQLite one beside the recordings (one process, the
 * default; memo-sqlite.ts) or the PostgreSQL one shared by every replica (memo-postgres.ts, with
 * `--memo-url`). The first answer written for an id stands; `put` returns it.
 */
import type { Observation } from '../core/types.js';
import type { MemoId } from './memo-key.js';

/** What an improvisation is memoized under (built in one place for both memos: memo-key.ts); a change to any part asks anew. */
export type { MemoId } from './memo-key.js';

/** A memo read: the answer that stands, none yet, or the memo cannot be read now (a shared memo's database is down). */
export type MemoRead = { kind: 'hit'; answer: Observation } | { kind: 'none' } | { kind: 'unavailable' };

/**
 * The right to improvise a call (single-flight across processes), or why it is not ours: another
 * process answered meanwhile, failed (its miss reason is shared), is still at it past our deadline,
 * or the memo cannot be reached.
 */
export type Claim =
  | { kind: 'owner'; release(failure?: string): Promise<void> | void }
  | { kind: 'answer'; answer: Observation; waited: boolean }
  | { kind: 'failed'; reason: string }
  | { kind: 'timeout' }
  | { kind: 'unavailable' };

/** The answer that stands after a `put`, and whether it is on disk yet. */
export interface StoredAnswer {
  answer: Observation;
  memoized: boolean;
}

/** What /readyz says of the memo. */
export interface MemoStatus {
  backend: 'sqlite' | 'postgres';
  state: 'ok' | 'connecting' | 'unavailable';
  /** ISO time of the last change of state. */
  since?: string;
  /** Why it is unavailable (the driver's message; never the URL). */
  error?: string;
}

export interface FuzzyMemo {
  get(id: MemoId): MemoRead | Promise<MemoRead>;
  /** What is known without waiting (`toolsim explain`); a shared memo answers from what it has seen. */
  peek(id: MemoId): Observation | undefined;
  /**
   * Stores `answer` unless an answer stands already; returns the one that stands, `memoized: false`
   * when it is held in memory until a write succeeds (the local memo), or undefined when it could
   * not be stored and must not be served (the shared memo).
   */
  put(id: MemoId, answer: Observation): StoredAnswer | undefined | Promise<StoredAnswer | undefined>;
  /** Before improvising: take the claim, or wait (until `signal`) for the owner's outcome. */
  claim(id: MemoId, signal: AbortSignal): Claim | Promise<Claim>;
  status(): MemoStatus;
  close(): void | Promise<void>;
}
