/**
 * The serving process: config -> store -> simulator -> app -> listen; closes gracefully on SIGTERM
 * or SIGINT (in-flight requests finish, new connections are refused, the cache is closed).
 */
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { FUZZY_OPTIONS, type Config } from './config.js';
import { fuzzyEnabled, fuzzyTier, type FuzzyExtras } from './fuzzy.js';
import { createMetrics } from './metrics.js';
import { Simulator } from './simulator.js';
import { Store } from './store.js';
import type { RepeatPolicy } from './types.js';

export const SERVE_OPTIONS = ['db', 'host', 'port', 'repeatPolicy', 'cacheSize', 'neighbors', 'bodyLimit', 'maxBatch', 'logLevel', ...FUZZY_OPTIONS] as const;
export type ServeConfig = Config<(typeof SERVE_OPTIONS)[number]>;

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startServer(config: ServeConfig, extras: FuzzyExtras = {}): Promise<RunningServer> {
  const fuzzyOn = fuzzyEnabled(config);
  // Read-only for the recordings; the fuzzy memo beside them is still written.
  const store = Store.open(config.db, { readonly: true });
  let simulator: Simulator | undefined;
  const metrics = createMetrics({ cacheCalls: () => simulator?.callCount ?? 0 });
  simulator = new Simulator({
    store,
    metrics,
    repeatPolicy: config.repeatPolicy as RepeatPolicy,
    cacheSize: config.cacheSize,
    neighbors: config.neighbors,
    fuzzy: fuzzyTier(config, extras),
  });
  const app = await buildApp({
    simulator: () => simulator,
    metrics,
    bodyLimit: config.bodyLimit,
    maxBatch: config.maxBatch,
    logger: {
      level: config.logLevel,
      redact: { paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'], censor: '[redacted]' },
    },
  });
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info({ db: config.db, calls: simulator.callCount, tools: simulator.tools.length, snapshot: store.snapshotId, fuzzy: fuzzyOn ? config.model : 'off' }, 'toolsim serving');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await app.close();
      store.close();
    })());
  return { app, url, close };
}

/** Runs until SIGTERM or SIGINT, then closes within `graceMs` and exits. */
export async function serveForever(config: ServeConfig, graceMs = 10_000): Promise<void> {
  const server = await startServer(config);
  const stop = (signal: string): void => {
    server.app.log.info({ signal }, 'shutting down');
    setTimeout(() => {
      server.app.log.error('graceful shutdown timed out');
      process.exit(1);
    }, graceMs).unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
