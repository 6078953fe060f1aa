/** A clock a test moves by hand, for modules that take `now: () => number`. */
export class FakeClock {
  #now: number;

  constructor(start = 1_000_000) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }
}
