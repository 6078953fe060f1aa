/**
 * Cooperative scheduling for work that runs in many small synchronous pieces (the items of a
 * batch): once the event loop has been busy for `budgetMs` without a turn, `yieldIfBusy` waits one
 * turn (setImmediate), so that I/O, timers and other requests (a health probe) get in between.
 */

/** Start of the current busy stretch; reset at the next turn of the loop. */
let stretchStart = -1;

function stretch(now: number): number {
  if (stretchStart < 0) {
    stretchStart = now;
    setImmediate(() => {
      stretchStart = -1;
    });
  }
  return stretchStart;
}

/** Resolves at once while the loop has been busy less than `budgetMs`; otherwise after one turn. */
export function yieldIfBusy(budgetMs = 5): Promise<void> | undefined {
  const now = performance.now();
  if (now - stretch(now) <= budgetMs) return undefined;
  return new Promise((resolve) => setImmediate(resolve));
}
