/**
 * Waiting for a signal instead of a time: `until` polls a condition and fails naming what it
 * waited for; `callsServed` reads how many calls a running server has answered from its /metrics.
 */

/** Resolves once `ready()` holds; rejects after `timeoutMs` naming `what`. */
export async function until(
  ready: () => boolean | Promise<boolean>,
  what: string,
  { timeoutMs = 20_000, intervalMs = 10 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await ready())) {
    if (performance.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Calls a server has answered (the sum of toolsim_calls_total over its labels), from GET /metrics. */
export async function callsServed(url: string): Promise<number> {
  const text = await (await fetch(new URL('/metrics', url))).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('toolsim_calls_total{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/**
 * Resolves once the server at `url` has answered `more` calls beyond those it had answered when
 * called (a load reaching it), or as soon as `over()` says there is nothing more to wait for.
 */
export async function untilServed(url: string, more: number, over: () => boolean = () => false): Promise<void> {
  const start = await callsServed(url);
  await until(async () => over() || (await callsServed(url)) >= start + more, `${more} calls answered by ${url}`, { intervalMs: 25 });
}

/** A promise's settling, readable synchronously (for `untilServed`'s `over`). */
export function settled(promise: Promise<unknown>): () => boolean {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return () => done;
}
