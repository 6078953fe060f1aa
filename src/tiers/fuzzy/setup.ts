/**
 * Builds the fuzzy tier from configuration: on when an API key is set (`--fuzzy auto`), or forced on
 * or off. When off it still explains what it would ask; it never calls the LLM.
 *
 * What must outlive a reload of the cache lives here, once per process: the LLM client, the
 * concurrency cap, the circuit breaker, the budgets and the memo's connection. Each simulator gets
 * its own tier on top of them (its snapshot, its catalog, its in-flight calls).
 */
import { CircuitBreaker } from './breaker.js';
import { Budget } from './budget.js';
import type { FuzzyConfig } from '../../config.js';
import { ConfigError } from '../../core/errors.js';
import { AnthropicLlm, type Llm } from './llm.js';
import { Memo } from '../../store/memo.js';
import { Semaphore } from './semaphore.js';
import type { SimulatorOptions } from '../../simulator/simulator.js';
import { FuzzyTier } from './fuzzy-tier.js';

export interface FuzzyExtras {
  /** The clock of the circuit breaker (tests move it). */
  now?: () => number;
}

export interface Fuzzy {
  /** For SimulatorOptions.fuzzy. */
  readonly tier: NonNullable<SimulatorOptions['fuzzy']>;
  readonly enabled: boolean;
  /** Closes the memo's connection. */
  close(): void;
}

/** Is the fuzzy tier on under this configuration? Throws when forced on without a key. */
export function fuzzyEnabled(config: Pick<FuzzyConfig, 'fuzzy' | 'apiKey'>): boolean {
  if (config.fuzzy === 'off') return false;
  if (config.apiKey !== '') return true;
  if (config.fuzzy === 'on') throw new ConfigError('--fuzzy on needs an API key: set ANTHROPIC_API_KEY');
  return false;
}

export function createFuzzy(config: FuzzyConfig, extras: FuzzyExtras = {}): Fuzzy {
  const enabled = fuzzyEnabled(config);
  const llm: Llm | undefined = enabled
    ? new AnthropicLlm({
        apiKey: config.apiKey,
        baseURL: config.baseUrl,
        model: config.model,
        maxRetries: config.llmRetries,
        timeoutMs: config.llmDeadlineMs,
        maxOutputTokens: config.llmOutputTokens,
      })
    : undefined;
  const semaphore = new Semaphore(config.llmConcurrency);
  const breaker = new CircuitBreaker({ failures: config.breakerFailures, cooldownMs: config.breakerCooldownMs, ...(extras.now ? { now: extras.now } : {}) });
  const budget = new Budget({ requests: config.llmMaxRequests, tokens: config.llmMaxTokens });
  const memos = new Map<string, Memo>();
  const memoOf = (path: string): Memo => {
    let memo = memos.get(path);
    if (!memo) memos.set(path, (memo = new Memo(path)));
    return memo;
  };
  return {
    enabled,
    tier: ({ store, exact, metrics }) =>
      new FuzzyTier({
        llm,
        model: config.model,
        exact,
        memo: memoOf(store.path),
        metrics,
        snapshotId: store.snapshotId,
        tools: store.catalog(),
        threshold: config.threshold,
        promptTokens: config.promptTokens,
        deadlineMs: config.llmDeadlineMs,
        semaphore,
        breaker,
        budget,
      }),
    close() {
      for (const memo of memos.values()) memo.close();
      memos.clear();
    },
  };
}
