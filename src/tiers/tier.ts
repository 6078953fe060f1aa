/** The contract between the simulator and its tiers: each answers, or passes with a reason. */

import type { Metrics } from '../core/metrics.js';
import type { Answer, Call, JsonObject, MissReason, Neighbor, Observation } from '../core/types.js';
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
}

/** A pass may say what a tier refused (`refused`: an improvised answer's misfits, for `match.refused`). */
export type Outcome = { kind: 'answer'; answer: Answer } | { kind: 'pass'; reason?: MissReason; refused?: string[] };

/** What a tier would do with a call, without doing it (for `toolsim explain`). */
export interface Plan {
  answers: boolean;
  reason?: MissReason;
  memoized?: boolean;
  /** One sentence: why. */
  why: string;
  prompt?: Prompt;
  /** What an improvised answer would be held to (the fuzzy tier). */
  output?: OutputPlan;
}

/** The declared output schema or learnt shape an improvised answer must fit, for `explain`. */
export interface OutputPlan {
  /** `declared`: the tool record's output_schema; `learnt`: the shape of its recorded answers; `none`: nothing to hold it to. */
  guard: 'declared' | 'learnt' | 'none';
  /** The declared schema, or the learnt shape as JSON Schema (`answers`, `success`, `error`). */
  schema?: JsonObject;
  /** Where the recordings disagree (each recorded shape is allowed). */
  disagreements?: string[];
  /** Why a declared schema does not guard (it cannot be compiled). */
  problem?: string;
}

export interface Tier {
  readonly name: string;
  resolve(resolution: Resolution): Outcome | Promise<Outcome>;
  explain?(resolution: Resolution): Plan;
  /** Resolves once what `explain` needs of this call's tool is at hand off the event loop (servers await it). */
  ready?(call: Call): Promise<void>;
}

/** Builds a tier for one snapshot of the cache (the simulator of that snapshot calls it once). */
export type TierFactory = (snapshot: { store: Store; metrics: Metrics }) => Tier;

export const pass = (reason?: MissReason, refused?: string[]): Outcome =>
  reason ? (refused ? { kind: 'pass', reason, refused } : { kind: 'pass', reason }) : { kind: 'pass' };
export const answered = (answer: Answer): Outcome => ({ kind: 'answer', answer });
