/**
 * A tool's output shape from its recorded answers as the cache holds them (JSON text, one per
 * distinct answer, with the number of calls it answered). Pure; the neighbour index worker runs it
 * off the serving thread (src/neighbors/shape-task.ts).
 */
import type { Json } from '../core/types.js';
import { type OutputShape, ShapeLearner } from './shape.js';

/** Distinct answers read per tool at most; past it the shape is marked bounded. */
export const LEARNT_ANSWERS = 200_000;
/** Characters of recorded answers read per tool at most (a tool of huge answers is learnt from its first ones). */
export const LEARNT_CHARS = 256 * 1024 * 1024;

export interface StoredAnswer {
  outputJson: string;
  isError: boolean;
  calls: number;
}

export function learnFromStored(answers: Iterable<StoredAnswer>): OutputShape {
  const learner = new ShapeLearner();
  let read = 0;
  let chars = 0;
  let bounded = false;
  for (const answer of answers) {
    if (read >= LEARNT_ANSWERS || chars >= LEARNT_CHARS) {
      bounded = true;
      break;
    }
    read++;
    chars += answer.outputJson.length;
    let output: Json;
    try {
      output = JSON.parse(answer.outputJson) as Json;
    } catch {
      continue;
    }
    learner.add(output, answer.isError, answer.calls);
  }
  const shape = learner.finish();
  if (bounded) shape.bounded = true;
  return shape;
}
