/** The contract between the simulator and its tiers: each answers, or passes with a reason. */

import type { Metrics } from '../core/metrics.js';
import type { Diverged } from '../core/rollout.js';
import type { Answer, Call, MissReason, Neighbor, Observation } from '../core/types.js';
import type { Store } from '../store/store.js';
import type { Prompt } from './fuzzy/prompt.js';

/**
 * One call being resolved, with everything a tier may need from the simulator: the neighbours are
 * computed at most once, and only when a tier asks; `recorded` reads what a neighbour's key replays.
 */
export interface Resolution {
  readonly call: Call;
  neighbors(): readonly Neighbor[];
  /** The observation served for a recorded key (the repeat policy's pick), or undefined. */
  recorded(key: string): Observation | undefined;
  /**
   * The call's rollout has diverged on the call's server: recordings no longer describe its world.
   * The exact tier never sees such a call; the fuzzy tier improvises it with this history.
   */
  readonly rollout?: Diverged;
}

export type Outcome = { kind: 'answer'; answer: Answer } | { kind: 'pass'; reason?: MissReason };

/** What a tier would do with a call, without doing it (for `toolsim explain`). */
export interface Plan {
  answers: boolean;
  reason?: MissReason;
  memoized?: boolean;
  /** One sentence: why. */
  why: string;
  prompt?: Prompt;
}

export interface Tier {
  readonly name: string;
  resolve(resolution: Resolution): Outcome | Promise<Outcome>;
  explain?(resolution: Resolution): Plan;
}

/** Builds a tier for one snapshot of the cache (the simulator of that snapshot calls it once). */
export type TierFactory = (snapshot: { store: Store; metrics: Metrics }) => Tier;

export const pass = (reason?: MissReason): Outcome => (reason ? { kind: 'pass', reason } : { kind: 'pass' });
export const answered = (answer: Answer): Outcome => ({ kind: 'answer', answer });
