/** The contract between the simulator and its tiers: each answers, or passes with a reason. */
import type { Prompt } from './fuzzy/prompt.js';
import type { Answer, Call, MissReason, Neighbor } from '../core/types.js';

/** One call being resolved; the neighbours are computed at most once, and only when a tier asks. */
export interface Resolution {
  readonly call: Call;
  neighbors(): readonly Neighbor[];
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

export const pass = (reason?: MissReason): Outcome => (reason ? { kind: 'pass', reason } : { kind: 'pass' });
export const answered = (answer: Answer): Outcome => ({ kind: 'answer', answer });
