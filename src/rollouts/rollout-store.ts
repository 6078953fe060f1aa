/**
 * What the registry of rollouts asks of the place that keeps them: this process's memory
 * (memory-store.ts, the default) or PostgreSQL (postgres-store.ts, with `--memo-url`, shared by
 * every replica). One shared test suite runs against both (test/rollouts-store.test.ts).
 */
import type { Answered, RolloutStoreStatus, RolloutView, ServerState } from '../core/rollout.js';

export type { RolloutStoreStatus, RolloutView, ServerView } from '../core/rollout.js';

/** A call answered from a recording, as its history entry needs it besides the answer (`tier: 'exact'`). */
export interface ExactCall {
  readonly tool: string;
  /** Canonical JSON of the arguments. */
  readonly arguments: string;
  readonly writes: boolean;
}

/** The answer a recording gave (`Answer` has these). */
export interface ExactAnswer {
  readonly outputJson: string;
  readonly isError: boolean;
}

/** A rollout's state on a server, or the store cannot be read now (its database is down). */
export type StateRead = ServerState | { readonly state: 'unavailable' };

/** What recording a call did: the call's number in its rollout, and whether it diverged its server. */
export type Recorded = { readonly kind: 'ok'; readonly call: number; readonly diverged: boolean } | { readonly kind: 'unavailable' };

/** How a rollout ended (`toolsim_rollouts_ended_total{how}`). */
export type EndedHow = 'deleted' | 'finished' | 'session_closed' | 'expired' | 'evicted';

export interface RolloutStoreLimits {
  /** Silence after which a rollout ends (`--rollout-ttl`). */
  ttlMs: number;
  /** Rollouts kept at most; past it the longest silent ends (`evicted`). */
  maxRollouts: number;
  /** History entries kept per server of a rollout (the digest covers every one). */
  maxHistory: number;
}

/**
 * `state` and `record` never throw: a store that cannot be reached answers `unavailable`. `view`,
 * `end` and `sweep` reject then (their callers turn that into a 503, or try again later).
 */
export interface RolloutStore {
  readonly limits: RolloutStoreLimits;
  /** The rollout's state on `server` before a call (`recorded` for a rollout or server never seen). */
  state(id: string, server: string): StateRead | Promise<StateRead>;
  /** Records a call's answer; starts the rollout if it is new (or had expired). */
  record(id: string, server: string, answered: Answered): Recorded | Promise<Recorded>;
  /**
   * The never-diverged path, for a store that can say at once (this process's memory): records
   * `call` answered from a recording (`tier: 'exact'`, which never diverges a server) with `answer`
   * when the rollout's state on `server` is recorded, in one step, and says so (`true`); when it is
   * diverged, records nothing (`false`: the caller takes the long way, `state` then `record`).
   * A store that answers later has none: every call takes the long way there.
   */
  recordExact?(id: string, server: string, call: ExactCall, answer: ExactAnswer): boolean;
  /** The rollout as it stands, or undefined when there is none (never seen, ended or expired). */
  view(id: string): RolloutView | undefined | Promise<RolloutView | undefined>;
  /** Ends a rollout now; false when there was none. */
  end(id: string): boolean | Promise<boolean>;
  /** Ends the rollouts silent for longer than the TTL and those past the count cap; how many ended, by how. */
  sweep(): Partial<Record<EndedHow, number>> | Promise<Partial<Record<EndedHow, number>>>;
  status(): RolloutStoreStatus;
  close(): void | Promise<void>;
}

export const DEFAULT_LIMITS: RolloutStoreLimits = Object.freeze({ ttlMs: 3_600_000, maxRollouts: 100_000, maxHistory: 64 });

/** The limits given, each one missing taken from DEFAULT_LIMITS. */
export function limitsOf(options: Partial<RolloutStoreLimits>): RolloutStoreLimits {
  return {
    ttlMs: options.ttlMs ?? DEFAULT_LIMITS.ttlMs,
    maxRollouts: options.maxRollouts ?? DEFAULT_LIMITS.maxRollouts,
    maxHistory: options.maxHistory ?? DEFAULT_LIMITS.maxHistory,
  };
}
