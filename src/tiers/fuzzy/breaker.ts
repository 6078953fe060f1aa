/**
 * A circuit breaker for the LLM: after `failures` failures in a row it opens and refuses requests for
 * `cooldownMs`; then it lets one probe through (half-open). A probe that succeeds closes it; one that
 * fails opens it again. The clock is injected so tests can move time.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  failures: number;
  cooldownMs: number;
  now?: () => number;
}

export class CircuitBreaker {
  readonly #failures: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  #consecutive = 0;
  #openedAt: number | undefined;
  #probing = false;

  constructor(options: BreakerOptions) {
    if (!(options.failures >= 1)) throw new RangeError(`breaker failures must be at least 1, got ${options.failures}`);
    this.#failures = options.failures;
    this.#cooldownMs = options.cooldownMs;
    this.#now = options.now ?? Date.now;
  }

  get state(): BreakerState {
    if (this.#openedAt === undefined) return 'closed';
    return this.#now() - this.#openedAt >= this.#cooldownMs ? 'half-open' : 'open';
  }

  /** May a request go out now? In half-open, only one probe at a time. */
  allow(): boolean {
    const state = this.state;
    if (state === 'closed') return true;
    if (state === 'open' || this.#probing) return false;
    this.#probing = true;
    return true;
  }

  success(): void {
    this.#consecutive = 0;
    this.#openedAt = undefined;
    this.#probing = false;
  }

  failure(): void {
    this.#consecutive++;
    if (this.#probing || this.#consecutive >= this.#failures) this.#openedAt = this.#now();
    this.#probing = false;
  }

  /** A request let through that ended neither way (abandoned before it was sent). */
  release(): void {
    this.#probing = false;
  }
}
