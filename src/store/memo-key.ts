/**
 * The memo key of an improvisation, built here and only here for both memos (SQLite, memo.ts; and
 * PostgreSQL, memo-postgres.ts): the snapshot of the recordings, the call, the model, the prompt
 * version and, for a call of a rollout whose state on the server has diverged, the digest of that
 * rollout's history there (src/core/rollout.ts). Two rollouts that made the same calls and got the
 * same answers share a key, so they get the same improvisation, across restarts and replicas.
 *
 * A call outside any diverged state keeps its call key as it is: its memoized answers are the ones
 * served before rollouts had state, and no table changes shape.
 */
import { createHash } from 'node:crypto';

/** The columns both memos key their rows by. */
export interface MemoId {
  readonly snapshotId: string;
  /** Hex SHA-256: the call key, or the call key with the history digest folded in. */
  readonly key: string;
  readonly model: string;
  readonly promptVersion: string;
}

export interface MemoKeyParts {
  snapshotId: string;
  /** The call key (docs/canonical-key.md). */
  callKey: string;
  model: string;
  promptVersion: string;
  /** Digest of the rollout's history on the call's server, when its state there has diverged. */
  historyDigest?: string | undefined;
}

/** Version of the way a history digest is folded into a call key; a change asks every diverged call anew. */
const STATE_KEY_VERSION = 'toolsim-state-key-v1';

export function memoId(parts: MemoKeyParts): MemoId {
  const key =
    parts.historyDigest === undefined
      ? parts.callKey
      : createHash('sha256')
          .update(JSON.stringify([STATE_KEY_VERSION, parts.callKey, parts.historyDigest]))
          .digest('hex');
  return { snapshotId: parts.snapshotId, key, model: parts.model, promptVersion: parts.promptVersion };
}

/** One string per memo id (JSON of its parts, never joined with a delimiter): an in-memory map's key, a claim's id, a NOTIFY payload. */
export function memoIdText(id: MemoId): string {
  return createHash('sha256')
    .update(JSON.stringify([id.snapshotId, id.key, id.model, id.promptVersion]))
    .digest('hex');
}
