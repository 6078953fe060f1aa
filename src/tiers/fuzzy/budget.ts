/**
 * Spending limits for the LLM: requests and tokens over the life of the process. 0 means no limit.
 * Checked before each request; concurrent requests may overshoot a limit by what they were granted.
 */
export interface BudgetLimits {
  requests: number;
  tokens: number;
}

export class Budget {
  readonly #limits: BudgetLimits;
  #requests = 0;
  #tokens = 0;

  constructor(limits: BudgetLimits) {
    this.#limits = limits;
  }

  /** Is there budget left for one more request? */
  allows(): boolean {
    const { requests, tokens } = this.#limits;
    return (requests === 0 || this.#requests < requests) && (tokens === 0 || this.#tokens < tokens);
  }

  spendRequest(): void {
    this.#requests++;
  }

  spendTokens(tokens: number): void {
    this.#tokens += tokens;
  }
}
