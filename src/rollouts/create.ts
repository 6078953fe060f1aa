/**
 * The registry of rollouts from configuration: in this process's memory, or in PostgreSQL when a
 * shared memo is (`--memo-url` with the fuzzy tier on), so a rollout's calls may land on any replica.
 */
import { ConfigError } from '../core/errors.js';
import { InMemoryRolloutStore } from './memory-store.js';
import { PostgresRolloutStore } from './postgres-store.js';
import type { EndedHow, RolloutStoreStatus } from './rollout-store.js';
import { Rollouts } from './rollouts.js';
import { WriteRule } from './write-rule.js';

/** The rollout options (ROLLOUT_OPTIONS in src/config.ts), resolved. */
export interface RolloutsConfig {
  readonly rolloutTtl: string;
  readonly maxRollouts: number;
  readonly rolloutHistory: number;
  readonly writeTools: string;
  readonly readOnlyTools: string;
}

export interface RolloutsExtras {
  /** PostgreSQL URL: rollouts live there, shared by every replica. */
  url?: string | undefined;
  onEnded?: (how: EndedHow, count: number) => void;
  onChange?: (status: RolloutStoreStatus) => void;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
}

const UNITS = { ms: 1, s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3 } as const;

/** `1500ms`, `90s`, `30m`, `1h`, `1d` (or a bare number of seconds) in milliseconds; throws naming `flag`. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  const ms = match ? Number(match[1]) * UNITS[(match[2] ?? 's') as keyof typeof UNITS] : Number.NaN;
  if (!Number.isFinite(ms) || ms < 1000)
    throw new ConfigError(`--${flag} must be a duration of at least 1s (90s, 30m, 1h, 1d), got ${JSON.stringify(text).slice(0, 60)}`);
  return Math.round(ms);
}

export function createRollouts(config: RolloutsConfig, extras: RolloutsExtras = {}): { rollouts: Rollouts; start(): Promise<void> } {
  const rule = new WriteRule({ writeTools: config.writeTools, readOnlyTools: config.readOnlyTools });
  const limits = {
    ttlMs: parseDuration(config.rolloutTtl, 'rollout-ttl'),
    maxRollouts: config.maxRollouts,
    maxHistory: config.rolloutHistory,
  };
  const onEnded = extras.onEnded ?? (() => {});
  const store = extras.url
    ? new PostgresRolloutStore({ url: extras.url, ...limits, ...(extras.onChange ? { onChange: extras.onChange } : {}) })
    : new InMemoryRolloutStore({ ...limits, onEnded: (how) => onEnded(how, 1), ...(extras.now ? { now: extras.now } : {}) });
  const rollouts = new Rollouts({
    store,
    rule,
    onEnded,
  });
  return { rollouts, start: async () => (store instanceof PostgresRolloutStore ? store.start() : undefined) };
}
