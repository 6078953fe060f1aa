/**
 * Cooperative scheduling for work that comes in many small synchronous pieces (the neighbours of
 * each item of a batch): pieces queue here and run a few milliseconds' worth per turn of the event
 * loop, so that I/O, timers and other requests (a health probe) get in between. Checking the time
 * in each caller would not do: the callers of one batch all pass their check in one microtask
 * drain before any of them works.
 */

import { Slice, type Steps } from '../core/json-steps.js';

/** Work done per turn of the loop, at most (one piece may overrun it). */
const BUDGET_MS = 5;

const queue: (() => void)[] = [];
let scheduled = false;

/** Runs `work` in a later turn of the loop, among the other queued pieces; resolves with its result. */
export function cooperatively<T>(work: () => T): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    queue.push(() => {
      try {
        resolve(work());
      } catch (error) {
        reject(error);
      }
    });
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  });
}

function drain(): void {
  const started = performance.now();
  let done = 0;
  while (done < queue.length && performance.now() - started < BUDGET_MS) queue[done++]!();
  queue.splice(0, done);
  if (queue.length > 0) setImmediate(drain);
  else scheduled = false;
}

/** Time one slice of a reader may take, at most (a step that cannot be cut may overrun it). */
const SLICE_MS = 4;

/**
 * Runs a reader of src/core/json-steps.ts to its end, a slice of a few milliseconds per piece of
 * the queue above. `stop` is asked before each slice: an error it gives ends the reading with it.
 */
export async function inSlices<T>(read: (slice: Slice) => Steps<T>, stop?: () => Error | undefined): Promise<T> {
  const slice = new Slice();
  const steps = read(slice);
  for (;;) {
    const error = stop?.();
    if (error) throw error;
    const step = await cooperatively(() => {
      slice.deadline = performance.now() + SLICE_MS;
      return steps.next();
    });
    if (step.done) return step.value;
  }
}
