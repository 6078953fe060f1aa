/**
 * The contract between the simulator and its tiers. The simulator runs one ordered list of tiers
 * (simulator.ts, `TIERS`); each either answers a call or passes it on with a reason, and whatever
 * every tier passes becomes a labelled miss (miss.ts). `explain` is the same walk, describing
 * instead of doing. A tier knows nothing of the others; adding one is a file here and a line in
 * that list.
 */

import type { Metrics } from '../core/metrics.js';
import type { Diverged } from '../core/rollout.js';
import type { Answer, Tier as AnswerTier, Call, JsonObject, MissReason, Neighbor, Observation } from '../core/types.js';
import type { SnapshotContext } from '../snapshot/context.js';
import type { AnswerMemory } from './answer-lru.js';

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

/** A pass may say what a tier refused (`refused`: an improvised answer's misfits, for `match.refused`). */
export type Outcome = { kind: 'answer'; answer: Answer } | { kind: 'pass'; reason?: MissReason; refused?: string[] };

/** A prompt as `explain` shows it: the exact text a model would be sent. */
export interface PromptPreview {
  version: string;
  system: string;
  user: string;
  examples: number;
}

/** What a tier would do with a call, without doing it (for `toolsim explain`). */
export interface Plan {
  /** 'pass': on to the next tier; otherwise the tier of the answer this tier would give. */
  outcome: 'pass' | AnswerTier;
  reason?: MissReason;
  memoized?: boolean;
  /** One sentence: why. */
  why: string;
  prompt?: PromptPreview;
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
  /**
   * The tier reads the call's neighbours or the tool's neighbour index: the simulator finds them
   * (off the event loop) before the tier runs, so the walk turns asynchronous there.
   */
  readonly needsNeighbors: boolean;
  resolve(resolution: Resolution): Outcome | Promise<Outcome>;
  explain(resolution: Resolution): Plan;
  /**
   * Starts, off the event loop, what `resolve` will need of the call's tool, while the simulator
   * builds the tool's neighbour index (the first call of a tool), so that the two overlap.
   */
  prepare?(call: Call): void;
  /**
   * An answer this tier gave the call before and holds in memory (a memoized improvisation), found
   * without the call's neighbours: asked before they are searched for (before the tiers ahead of it
   * that need them, which passed the call then and decide by the call and snapshot alone), so a
   * repeated call is answered in the same turn, as an exact one is. Undefined: the walk goes on.
   * Never asked for a call of a diverged rollout (answered under its history).
   */
  recall?(key: string): Answer | undefined;
}

/** What a tier is built from: one snapshot of the cache and the process's metrics. */
export interface TierSetup {
  context: SnapshotContext;
  metrics: Metrics;
  /** The snapshot's answers in memory, shared by every tier, each on a shelf of its own (answer-lru.ts). */
  answers: AnswerMemory;
}

/** Builds a tier for one snapshot of the cache (the simulator of that snapshot calls it once). */
export type TierFactory = (setup: TierSetup) => Tier;

export const pass = (reason?: MissReason, refused?: string[]): Outcome =>
  reason ? (refused ? { kind: 'pass', reason, refused } : { kind: 'pass', reason }) : { kind: 'pass' };
export const answered = (answer: Answer): Outcome => ({ kind: 'answer', answer });
export const passes = (why: string, reason?: MissReason): Plan => (reason ? { outcome: 'pass', reason, why } : { outcome: 'pass', why });
