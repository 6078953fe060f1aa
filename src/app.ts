/**
 * buildApp(deps): the fastify instance with every route and the error handler. Never listens.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import underPressure from '@fastify/under-pressure';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import { ERRORS } from './core/errors.js';
import type { Metrics } from './core/metrics.js';
import { VERSION } from './core/version.js';
import { type AdminOptions, registerAdminRoutes } from './http/admin.js';
import { errorAnswer, sendError } from './http/errors.js';
import { strictJsonParser } from './http/json.js';
import { registerMcpRoutes } from './http/mcp.js';
import { registerRoutes } from './http/routes.js';
import { errorJson } from './http/serialize.js';
import { registerLagShedding } from './http/shed.js';
import { registerVerlRoutes } from './http/verl.js';
import type { Simulator } from './simulator/simulator.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** From now on every request is answered 503 + Retry-After + Connection: close (shutdown). */
    drain(): void;
  }
}

export interface AppDeps {
  /** The simulator serving now; a function so that a reload can swap it. */
  simulator: () => Simulator;
  metrics: Metrics;
  bodyLimit?: number;
  maxBatch?: number;
  logger?: FastifyServerOptions['logger'];
  /** Admin routes (/admin/*); left out, they do not exist (404). */
  admin?: AdminOptions;
  /**
   * Load shedding: past this event-loop delay (ms) requests get 503 with Retry-After instead of
   * queueing without bound. 0 (the default here; `serve` sets its own) turns it off.
   */
  maxEventLoopDelay?: number;
}

/** Seconds a shed client is told to wait (Retry-After). */
const RETRY_AFTER_SECONDS = 1;
const IDLE_CLOSE_MS = 250;
/**
 * How often the event-loop delay is sampled. Shorter intervals misfire: an interval with no sample
 * at all (one long synchronous task) reads as infinite delay and sheds a whole interval.
 */
const SAMPLE_INTERVAL_MS = 1000;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? false,
    // One log line per call would cost more than the call at RL rates; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    // No child logger per request (pino builds one for every call otherwise); errors are logged
    // with the request's id and route by the error handler.
    childLoggerFactory: (logger) => logger,
    bodyLimit: deps.bodyLimit ?? 4 * 1024 * 1024,
    // Types are never coerced: `"tool": 1` is a 400, not the tool "1".
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // A key named __proto__ or constructor.prototype in a body is refused, never merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Refusals while closing are ours (below): the JSON error shape, Retry-After, Connection: close.
    return503OnClosing: false,
    // Node counts a connection whose request is still unread in its socket as idle; closing idle
    // connections at once would reset requests a client already sent. They are closed below, later.
    forceCloseConnections: false,
  });
  let closing = false;
  app.decorate('drain', () => {
    closing = true;
  });
  app.addHook('preClose', async () => {
    closing = true;
    // Requests already sent are read and answered (503, Connection: close) before idle
    // keep-alive connections are closed, every IDLE_CLOSE_MS until the server has closed.
    const timer = setInterval(() => app.server.closeIdleConnections(), IDLE_CLOSE_MS);
    timer.unref();
    app.server.once('close', () => clearInterval(timer));
  });
  // Callback-style hooks: an async hook costs a promise on every call, paid on the exact path too.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close').header('retry-after', RETRY_AFTER_SECONDS);
    void sendError(reply, 'shutting_down', 'the server is shutting down; retry on another instance or after restart');
  });
  // JSON bodies are decoded as strict UTF-8: invalid bytes are a 400, never silently replaced.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonParser());

  const maxEventLoopDelay = deps.maxEventLoopDelay ?? 0;
  if (maxEventLoopDelay > 0) {
    // Two lines of defence: the lag right now (bursts), and under-pressure's sampled mean (sustained).
    registerLagShedding(app, {
      maxLagMs: maxEventLoopDelay,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      exempt: (request) => request.routeOptions.config.pressureHandler !== undefined,
    });
    await app.register(underPressure, {
      maxEventLoopDelay,
      retryAfter: RETRY_AFTER_SECONDS,
      sampleInterval: SAMPLE_INTERVAL_MS,
      // under-pressure sends what the handler returns (its types say void; its code does not).
      pressureHandler: ((_request: FastifyRequest, reply: FastifyReply, type: string, value: number | undefined): string | undefined => {
        // A sample interval with no sample at all reads as an infinite delay (a process that was
        // busy starting up, say); the live check above judges the loop as it is instead.
        if (type === underPressure.TYPE_EVENT_LOOP_DELAY && !Number.isFinite(value)) return undefined;
        void reply.code(ERRORS.overloaded.status).header('retry-after', RETRY_AFTER_SECONDS).type('application/json; charset=utf-8');
        return errorJson({ code: 'overloaded', message: `the server is over capacity (${type}); retry after the Retry-After delay` });
      }) as unknown as NonNullable<NonNullable<Parameters<typeof underPressure>[1]>['pressureHandler']>,
    });
  }

  // Every body is JSON; text/plain would only turn into a confusing "body must be object".
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'toolsim',
        version: VERSION,
        description: 'Replays recorded tool calls to agents: exact replay, LLM-improvised near misses, labelled misses.',
      },
      tags: [{ name: 'calls' }, { name: 'catalog' }, { name: 'mcp' }, { name: 'agents' }, { name: 'ops' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = errorAnswer(error);
    if (answer.unexpected)
      request.log.error({ err: error, reqId: request.id, method: request.method, url: request.url }, 'unexpected error');
    // Shed by under-pressure (Retry-After is already set), refused while closing, or a storage error.
    if (answer.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', RETRY_AFTER_SECONDS);
    return sendError(reply, answer.code, answer.message, answer.status);
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  registerRoutes(app, { simulator: deps.simulator, metrics: deps.metrics, maxBatch: deps.maxBatch ?? 1000 });
  registerMcpRoutes(app, { simulator: deps.simulator });
  registerVerlRoutes(app, { simulator: deps.simulator, maxBatch: deps.maxBatch ?? 1000 });
  if (deps.admin) registerAdminRoutes(app, deps.admin);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}
