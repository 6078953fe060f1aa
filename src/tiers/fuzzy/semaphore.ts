/** A cap on concurrent work: `acquire` waits for a free slot (or gives up when the signal aborts). */
export class Semaphore {
  readonly #limit: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limit: number) {
    if (!(limit >= 1)) throw new RangeError(`concurrency must be at least 1, got ${limit}`);
    this.#limit = limit;
  }

  /** Resolves true with a slot held, or false if `signal` aborted first (no slot held). */
  acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted) return Promise.resolve(false);
    if (this.#active < this.#limit) {
      this.#active++;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', abandon);
        this.#active++;
        resolve(true);
      };
      const abandon = (): void => {
        const at = this.#waiting.indexOf(grant);
        if (at >= 0) this.#waiting.splice(at, 1);
        resolve(false);
      };
      this.#waiting.push(grant);
      signal?.addEventListener('abort', abandon, { once: true });
    });
  }

  release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }
}
