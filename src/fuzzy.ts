/**
 * Builds the fuzzy tier from configuration: on when an API key is set (`--fuzzy auto`), or forced on
 * or off. When off it still explains what it would ask; it never calls the LLM.
 */
import { CircuitBreaker } from './breaker.js';
import { Budget } from './budget.js';
import type { FuzzyConfig } from './config.js';
import { ConfigError } from './errors.js';
import { AnthropicLlm, type Llm } from './llm.js';
import { Memo } from './memo.js';
import { Semaphore } from './semaphore.js';
import type { SimulatorOptions } from './simulator.js';
import { FuzzyTier } from './tiers/fuzzy.js';

export interface FuzzyExtras {
  /** The clock of the circuit breaker (tests move it). */
  now?: () => number;
  /** Another LLM than the Anthropic one (never needed in production). */
  llm?: Llm;
}

/** Is the fuzzy tier on under this configuration? Throws when forced on without a key. */
export function fuzzyEnabled(config: Pick<FuzzyConfig, 'fuzzy' | 'apiKey'>): boolean {
  if (config.fuzzy === 'off') return false;
  if (config.apiKey !== '') return true;
  if (config.fuzzy === 'on') throw new ConfigError('--fuzzy on needs an API key: set ANTHROPIC_API_KEY');
  return false;
}

export function fuzzyTier(config: FuzzyConfig, extras: FuzzyExtras = {}): NonNullable<SimulatorOptions['fuzzy']> {
  const enabled = fuzzyEnabled(config);
  return ({ store, memoStore, exact, metrics }) => {
    const llm =
      extras.llm ??
      (enabled
        ? new AnthropicLlm({
            apiKey: config.apiKey,
            baseURL: config.baseUrl,
            model: config.model,
            maxRetries: config.llmRetries,
            timeoutMs: config.llmDeadlineMs,
            maxOutputTokens: config.llmOutputTokens,
          })
        : undefined);
    return new FuzzyTier({
      llm: enabled ? llm : undefined,
      model: config.model,
      exact,
      memo: new Memo(memoStore),
      metrics,
      snapshotId: store.snapshotId,
      tools: store.catalog(),
      threshold: config.threshold,
      promptTokens: config.promptTokens,
      deadlineMs: config.llmDeadlineMs,
      semaphore: new Semaphore(config.llmConcurrency),
      breaker: new CircuitBreaker({ failures: config.breakerFailures, cooldownMs: config.breakerCooldownMs, ...(extras.now ? { now: extras.now } : {}) }),
      budget: new Budget({ requests: config.llmMaxRequests, tokens: config.llmMaxTokens }),
    });
  };
}
