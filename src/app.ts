/**
 * buildApp(deps): the fastify instance with every route and the error handler. Never listens.
 */

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions, LogController } from 'fastify';
import { ERRORS, type ErrorCode } from './core/errors.js';
import type { Metrics } from './core/metrics.js';
import { VERSION } from './core/version.js';
import { type AdminOptions, registerAdminRoutes } from './http/admin.js';
import { errorAnswer, sendError } from './http/errors.js';
import { DEFAULT_MAX_BODY_KEYS, strictJsonParser } from './http/json.js';
import { registerReportRoutes } from './http/report.js';
import { documentRoute } from './http/schemas.js';
import { errorJson } from './http/serialize.js';
import { registerLagShedding } from './http/shed.js';
import { registerMcpRoutes } from './protocols/mcp.js';
import { loadSdk } from './protocols/mcp-content.js';
import { registerRoutes } from './protocols/native.js';
import { registerRolloutRoutes } from './protocols/rollouts.js';
import { DEFAULT_MAX_RESPONSE_BYTES, registerVerlRoutes } from './protocols/verl-tool.js';
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
  /** The shared memo's state, for /readyz. */
  memo?: () => Record<string, unknown> | undefined;
  bodyLimit?: number;
  maxBatch?: number;
  /** Keys and array items of one body, all levels together (`--max-body-keys`). */
  maxBodyKeys?: number;
  /** Bytes of one answer to POST /v1/calls or /get_observation (`--max-response-mb`). */
  maxResponseBytes?: number;
  logger?: FastifyServerOptions['logger'];
  /** Admin routes (/admin/*); left out, they do not exist (404). */
  admin?: AdminOptions;
  /**
   * Load shedding: past this event-loop delay (ms) requests get 503 with Retry-After instead of
   * queueing without bound. 0 (the default here; `serve` sets its own) turns it off.
   */
  maxEventLoopDelay?: number;
  /**
   * Time to receive a whole request, headers and body (ms): a client dribbling its body is then
   * answered 408 and closed, and cannot hold a shutdown. 0 turns it off. Default 5 s.
   */
  requestTimeoutMs?: number;
}

/** Seconds a shed client is told to wait (Retry-After). */
const RETRY_AFTER_SECONDS = 1;
const IDLE_CLOSE_MS = 250;
/** How often Node looks for requests past their timeout (its default, 30 s, would let one live that long). */
const TIMEOUT_CHECK_MS = 500;

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
    // x-examples, x-response-description: for the OpenAPI document only (src/http/schemas.ts).
    ajv: {
      customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, keywords: ['x-examples', 'x-response-description'] },
    },
    // A key named __proto__ or constructor.prototype in a body is refused, never merged.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Refusals while closing are ours (below): the JSON error shape, Retry-After, Connection: close.
    return503OnClosing: false,
    // Node counts a connection whose request is still unread in its socket as idle; closing idle
    // connections at once would reset requests a client already sent. They are closed below, later.
    forceCloseConnections: false,
    requestTimeout: deps.requestTimeoutMs ?? 5_000,
    // Node arms its timeout checks only for a timeout given when the server is made (Fastify sets
    // `requestTimeout` afterwards, which alone never fires), so both are passed to the server too.
    ...({ http: { connectionsCheckingInterval: TIMEOUT_CHECK_MS, requestTimeout: deps.requestTimeoutMs ?? 5_000 } } as object),
    // Refusals before routing (a URL that cannot be decoded, a path parameter too long) in the JSON
    // error shape, not Fastify's own.
    frameworkErrors: (error, _request, reply) => {
      const code: ErrorCode =
        error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : error.code === 'FST_ERR_BAD_URL' ? 'invalid_url' : 'bad_request';
      void sendError(reply, code, code === 'bad_request' ? error.message : `${error.message.slice(0, 200)}`);
    },
    // Node's own refusals (not HTTP, headers too large, request timeout) in the JSON error shape.
    clientErrorHandler: clientError,
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
  // Once closing, answers to requests accepted before say Connection: close, so that no client sends
  // another request on a connection about to close (which would be reset instead of answered).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (closing) reply.header('connection', 'close');
    done(null, payload);
  });
  // Callback-style hooks: an async hook costs a promise on every call, paid on the exact path too.
  app.addHook('onRequest', (_request, reply, done) => {
    if (!closing) return done();
    reply.header('connection', 'close').header('retry-after', RETRY_AFTER_SECONDS);
    void sendError(reply, 'shutting_down', 'the server is shutting down; retry on another instance or after restart');
  });
  // JSON bodies are decoded as strict UTF-8: invalid bytes are a 400, never silently replaced.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, strictJsonParser(deps.maxBodyKeys ?? DEFAULT_MAX_BODY_KEYS));

  const maxEventLoopDelay = deps.maxEventLoopDelay ?? 0;
  if (maxEventLoopDelay > 0) {
    // One check, live, on arrival and before the work (src/http/shed.ts). A sampled mean
    // (@fastify/under-pressure) would only repeat it a second late, at a hook's cost on every call.
    registerLagShedding(app, {
      maxLagMs: maxEventLoopDelay,
      retryAfterSeconds: RETRY_AFTER_SECONDS,
      exempt: (request) => request.routeOptions.config.neverShed === true,
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
      tags: [{ name: 'calls' }, { name: 'rollouts' }, { name: 'catalog' }, { name: 'mcp' }, { name: 'agents' }, { name: 'ops' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  // Swagger UI's examples (on the bundled sample) and the 503 answers, on every route registered below.
  app.addHook('onRoute', documentRoute);

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const answer = errorAnswer(error);
    if (answer.unexpected)
      request.log.error({ err: error, reqId: request.id, method: request.method, url: request.url }, 'unexpected error');
    // Shed (Retry-After is already set), refused while closing, or a storage error.
    if (answer.status === 503 && !reply.hasHeader('retry-after')) reply.header('retry-after', RETRY_AFTER_SECONDS);
    return sendError(reply, answer.code, answer.message, answer.status);
  });

  app.setNotFoundHandler((request, reply) => {
    sendError(reply, 'not_found', `no route ${request.method} ${request.url.split('?')[0]}`);
  });

  registerRoutes(app, {
    simulator: deps.simulator,
    metrics: deps.metrics,
    maxBatch: deps.maxBatch ?? 1000,
    maxResponseBytes: deps.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
    ...(deps.memo ? { memo: deps.memo } : {}),
  });
  registerMcpRoutes(app, { simulator: deps.simulator });
  registerRolloutRoutes(app, { simulator: deps.simulator });
  // The MCP SDK costs ~0.3 s of compiling on the loop: a listening server loads it once it is up,
  // rather than stalling every client during the first MCP request. (Tests with inject never pay it.)
  app.addHook('onListen', (done) => {
    setTimeout(() => void loadSdk(), 100).unref();
    done();
  });
  registerVerlRoutes(app, {
    simulator: deps.simulator,
    maxBatch: deps.maxBatch ?? 1000,
    maxKeys: deps.maxBodyKeys ?? DEFAULT_MAX_BODY_KEYS,
    maxResponseBytes: deps.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
  });
  registerReportRoutes(app, { metrics: deps.metrics });
  if (deps.admin) registerAdminRoutes(app, deps.admin);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.ready();
  return app;
}

/** Node's codes for a request it refuses before Fastify sees it, to ours. */
function clientErrorCode(error: NodeJS.ErrnoException): ErrorCode {
  if (error.code === 'ERR_HTTP_REQUEST_TIMEOUT') return 'request_timeout';
  if (error.code === 'HPE_HEADER_OVERFLOW') return 'headers_too_large';
  return 'invalid_http';
}

const CLIENT_ERROR_MESSAGES: Partial<Record<ErrorCode, string>> = {
  request_timeout: 'the request was not received in time (--request-timeout-ms)',
  headers_too_large: 'the request headers are too large',
  invalid_http: 'the request is not valid HTTP',
};

function clientError(this: FastifyInstance, error: NodeJS.ErrnoException, socket: Socket): void {
  // A connection reset leaves nothing to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const code = clientErrorCode(error);
  const body = errorJson({ code, message: CLIENT_ERROR_MESSAGES[code] ?? code });
  const status = ERRORS[code].status;
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
