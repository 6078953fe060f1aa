/**
 * The serving process: config -> snapshots (store + simulator) -> app -> listen. Reloads the
 * cache on SIGHUP (or POST /admin/reload); closes gracefully on SIGTERM or SIGINT (in-flight
 * requests finish, new ones are refused, the cache is closed).
 */
import type { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.js';
import { type Config, FUZZY_OPTIONS, ROLLOUT_OPTIONS } from './config.js';
import { createMetrics, type Metrics } from './core/metrics.js';
import { createRollouts } from './rollouts/create.js';
import type { Rollouts } from './rollouts/rollouts.js';
import { Simulator, type SimulatorOptions } from './simulator/simulator.js';
import { Snapshots } from './simulator/snapshots.js';
import { createFuzzy, type FuzzyExtras } from './tiers/fuzzy/fuzzy-tier.js';

export const SERVE_OPTIONS = [
  'db',
  'host',
  'port',
  'repeatPolicy',
  'lruSize',
  'lruMb',
  'neighbors',
  'bodyLimit',
  'maxBatch',
  'maxBodyKeys',
  'maxResponseMb',
  'logLevel',
  'adminToken',
  'maxEventLoopDelay',
  'memoUrl',
  'requestTimeoutMs',
  ...FUZZY_OPTIONS,
  ...ROLLOUT_OPTIONS,
] as const;
export type ServeConfig = Config<(typeof SERVE_OPTIONS)[number]>;

/** Headers that carry credentials; the logger writes `[redacted]` in their place. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["x-api-key"]',
];

/** How long a closing server still accepts connections (to refuse them with a 503). */
const DRAIN_MS = 500;

export interface RunningServer {
  app: FastifyInstance;
  url: string;
  snapshots: Snapshots;
  close(): Promise<void>;
}

export interface ServerExtras extends FuzzyExtras {
  /** Where the log goes (standard output by default); tests capture it. */
  logStream?: Writable;
  /**
   * False: no rollout state, every call on its own (`trajectory_id` read and ignored), as before
   * rollouts were kept; the baseline the bench compares rollout state against (bench/servers/stateless.ts).
   */
  rollouts?: false;
}

export async function startServer(config: ServeConfig, extras: ServerExtras = {}): Promise<RunningServer> {
  // The fuzzy tier writes only its memo, through its own connection; the recordings stay read-only.
  // A shared memo's changes of state are logged once the app (and its logger) exists.
  let log: FastifyInstance['log'] | undefined;
  const fuzzy = createFuzzy(config, {
    ...extras,
    onMemoChange: (status) => {
      if (status.state === 'unavailable')
        log?.warn({ memo: status }, 'shared memo unavailable; fuzzy calls are misses memo_unavailable until it is back');
      else log?.info({ memo: status }, `shared memo ${status.state}`);
    },
  });
  let snapshots: Snapshots | undefined;
  const metrics = createMetrics({ cacheCalls: () => snapshots?.current.callCount ?? 0 });
  // Rollout state lives where the shared memo does: a rollout's diverged calls are improvised on any replica.
  const registry = createRollouts(config, {
    url: fuzzy.enabled && config.memoUrl ? config.memoUrl : undefined,
    onEnded: (how, count) => metrics.rolloutsEnded.inc({ how }, count),
    onChange: (status) => {
      if (status.state === 'unavailable')
        log?.warn({ rollouts: status }, 'rollout state unavailable; calls of named rollouts are misses state_unavailable until it is back');
      else log?.info({ rollouts: status }, `rollout state ${status.state}`);
    },
  });
  const { rollouts } = registry;
  try {
    // One connection attempt, bounded: a database that is down delays nothing more than that, and is retried in the background.
    await Promise.all([fuzzy.start(), registry.start()]);
    snapshots = openSnapshots(config, metrics, fuzzy.tier, extras.rollouts === false ? undefined : rollouts);
  } catch (error) {
    await fuzzy.close();
    await rollouts.close();
    throw error;
  }
  const live = snapshots;
  const app = await buildApp({
    simulator: () => live.current,
    metrics,
    bodyLimit: config.bodyLimit,
    maxBatch: config.maxBatch,
    maxBodyKeys: config.maxBodyKeys,
    maxResponseBytes: config.maxResponseMb * 1024 * 1024,
    maxEventLoopDelay: config.maxEventLoopDelay,
    memo: () => fuzzy.memoStatus() as Record<string, unknown> | undefined,
    requestTimeoutMs: config.requestTimeoutMs,
    ...(config.adminToken ? { admin: { token: config.adminToken, reload: () => live.reload() } } : {}),
    logger: {
      level: config.logLevel,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      ...(extras.logStream ? { stream: extras.logStream } : {}),
    },
  });
  // Logged once per opened cache, with SQLite's own error as the cause.
  live.onStorageFault((error, cause) => app.log.error({ err: cause, db: config.db }, error.message));
  let url: string;
  try {
    url = await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await app.close();
    await live.close();
    await fuzzy.close();
    await rollouts.close();
    throw error;
  }
  const first = live.current;
  // A wildcard bind is reached on loopback from this host; say the address a person can open.
  const shown = url.replace(/^http:\/\/(0\.0\.0\.0|\[::\])(?=:)/, 'http://127.0.0.1');
  app.log.info(
    {
      url: shown,
      docs: `${shown}/docs`,
      db: config.db,
      calls: first.callCount,
      tools: first.tools.length,
      snapshot: first.snapshotId,
      admin: Boolean(config.adminToken),
      fuzzy: fuzzy.enabled ? config.model : 'off',
      memo: fuzzy.memoStatus() ?? { backend: 'sqlite' },
    },
    `toolsim serving on ${shown}; Swagger UI at ${shown}/docs`,
  );
  // Tools of a cache ingested before names were checked that would share one listed name: the
  // listings keep the first (src/core/tool-names.ts); say which were left out.
  const collisions = first.snapshot.catalog.names.collisions;
  if (collisions.length > 0)
    app.log.warn(
      { collisions: collisions.map((c) => ({ name: c.name, listed: c.tools[0], left_out: c.tools.slice(1) })) },
      'tool names that several tools would share; only the first is listed and callable by that name (re-ingest with distinct server and tool names)',
    );
  log = app.log;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // Keep accepting for a moment, answering 503: connections still in the kernel's backlog
      // (sent while the loop was busy) get a retryable answer instead of a reset.
      app.drain();
      await new Promise((resolve) => setTimeout(resolve, DRAIN_MS));
      await app.close();
      await live.close();
      await fuzzy.close();
      await rollouts.close();
    })());
  return { app, url, snapshots: live, close };
}

function openSnapshots(
  config: ServeConfig,
  metrics: Metrics,
  fuzzy: NonNullable<SimulatorOptions['fuzzy']>,
  rollouts: Rollouts | undefined,
): Snapshots {
  return Snapshots.open(
    config.db,
    (store) =>
      new Simulator({
        store,
        metrics,
        repeatPolicy: config.repeatPolicy,
        lruSize: config.lruSize,
        lruBytes: config.lruMb * 1024 * 1024,
        neighbors: config.neighbors,
        maxKeys: config.maxBodyKeys,
        fuzzy,
        ...(rollouts ? { rollouts } : {}),
      }),
  );
}

/** Runs until SIGTERM or SIGINT, then closes within `graceMs` and exits; SIGHUP reloads. */
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
  process.on('SIGHUP', () => {
    server.snapshots.reload().then(
      (report) => server.app.log.info(report, report.reloaded ? 'snapshot reloaded' : 'snapshot unchanged'),
      (error: unknown) => server.app.log.error({ err: error }, 'reload failed; still serving the previous snapshot'),
    );
  });
}
