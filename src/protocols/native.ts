/** The HTTP API (docs/http-api.md). Routes turn requests into simulator calls and answers into JSON. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { unknownServer } from '../core/closest.js';
import { BadRequestError, NotFoundError, ToolsimError } from '../core/errors.js';
import { stringifyJson } from '../core/json-text.js';
import type { Metrics } from '../core/metrics.js';
import { bodyText } from '../http/json.js';
import {
  batchResultSchema,
  callRequestSchema,
  callResultSchema,
  errorSchema,
  explainResultSchema,
  formattedToolsSchema,
  MAX_NAME_LENGTH,
  MAX_TRAJECTORY_ID_LENGTH,
  statusSchema,
  toolsResultSchema,
} from '../http/schemas.js';
import { answerBody, answerJson, errorJson } from '../http/serialize.js';
import { cooperatively } from '../simulator/cooperate.js';
import type { CallRequest, Simulator } from '../simulator/simulator.js';
import { TOOL_FORMATS, type ToolFormat, toolSchemas } from './formats/tool-schemas.js';

export interface RouteOptions {
  simulator: () => Simulator;
  metrics: Metrics;
  maxBatch: number;
  /** Bytes of one batch's answer (`--max-response-mb`). */
  maxResponseBytes: number;
  /** The shared memo's state, reported by /readyz (undefined: no shared memo). */
  memo?: () => Record<string, unknown> | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Never refused by load shedding (src/http/shed.ts). */
    neverShed?: true;
  }
}

/** Liveness and metrics stay answerable while calls are shed: a probe must not kill a busy server. */
const NEVER_SHED = { neverShed: true } as const;

const JSON_TYPE = 'application/json; charset=utf-8';
const errors = { 400: errorSchema, 413: errorSchema, 415: errorSchema };

export function registerRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { metrics, maxBatch } = options;
  const send = (reply: FastifyReply, json: string | Buffer): FastifyReply => reply.type(JSON_TYPE).send(json);

  app.post<{ Body: CallRequest }>(
    '/v1/call',
    {
      schema: {
        summary: 'Answer one tool call from the cache',
        tags: ['calls'],
        body: callRequestSchema,
        response: { 200: callResultSchema, ...errors },
      },
    },
    // Not async: an exact answer is sent in the same turn, with no promise on its way.
    (request, reply) => {
      const answer = options.simulator().resolve(request.body, bodyText(request.body));
      if (answer instanceof Promise) return answer.then((a) => send(reply, answerBody(a)));
      send(reply, answerBody(answer));
      return undefined;
    },
  );

  app.post<{ Body: { calls: unknown[] } }>(
    '/v1/calls',
    {
      schema: {
        summary: 'Answer several tool calls; results come in the same order',
        description:
          'Each item is a call request as for POST /v1/call, checked on its own: a malformed item gets an error result and the others are answered.',
        tags: ['calls'],
        body: {
          type: 'object',
          required: ['calls'],
          properties: { calls: { type: 'array', items: { description: 'A call request, as for POST /v1/call.' } } },
        },
        response: { 200: batchResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { calls } = request.body;
      if (calls.length > maxBatch) {
        throw new BadRequestError('batch_too_large', `a batch holds at most ${maxBatch} calls (--max-batch); got ${calls.length}`);
      }
      const simulator = options.simulator();
      // Each item is read, normalized and hashed a few milliseconds' worth per turn of the loop: a
      // batch of 1,000 calls of 4 KB is 4 MB of that work, which at once would hold the loop.
      const results = await Promise.all(
        calls.map(async (item) => {
          try {
            return answerJson(await cooperatively(() => simulator.resolve(checkCallRequest(item))));
          } catch (error) {
            if (error instanceof ToolsimError) return errorJson(error);
            throw error;
          }
        }),
      );
      // Past the bound (and long before V8's longest string), the answer is refused, not built.
      let bytes = 0;
      for (const result of results) bytes += Buffer.byteLength(result);
      if (bytes > options.maxResponseBytes) {
        throw new BadRequestError(
          'response_too_large',
          `the results would be larger than ${(options.maxResponseBytes / 1024 / 1024).toFixed(0)} MiB (--max-response-mb); send fewer calls at once`,
        );
      }
      return send(reply, `{"results":[${results.join(',')}]}`);
    },
  );

  app.post<{
    Params: { server: string; tool: string };
    Querystring: { source_trajectory_id?: string; trajectory_id?: string };
    Body: Record<string, unknown>;
  }>(
    '/v1/servers/:server/tools/:tool',
    {
      schema: {
        summary: 'Answer one tool call, named in the path, with the arguments object as the body',
        tags: ['calls'],
        params: {
          type: 'object',
          required: ['server', 'tool'],
          properties: {
            server: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
            tool: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
          },
        },
        querystring: {
          type: 'object',
          properties: {
            source_trajectory_id: callRequestSchema.properties.source_trajectory_id,
            trajectory_id: callRequestSchema.properties.trajectory_id,
          },
        },
        body: { type: 'object', additionalProperties: true },
        response: { 200: callResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { server, tool } = request.params;
      const { source_trajectory_id: source, trajectory_id: rollout } = request.query;
      const call: CallRequest = {
        server,
        tool,
        arguments: request.body,
        ...(source === undefined ? {} : { source_trajectory_id: source }),
        ...(rollout === undefined ? {} : { trajectory_id: rollout }),
      };
      return send(reply, answerJson(await options.simulator().resolve(call)));
    },
  );

  app.post<{ Body: CallRequest }>(
    '/v1/explain',
    {
      schema: {
        summary: 'What the simulator would do with a call, without doing it',
        description:
          'The key, the tier it would take and why, the nearest recorded calls, and the exact LLM prompt the fuzzy tier would send. No LLM request is made and no metric counts it.',
        tags: ['calls'],
        body: callRequestSchema,
        response: { 200: explainResultSchema, ...errors },
      },
    },
    // Written here, not by the schema's serializer: arguments keep every digit (RawNumbers as their text).
    async (request, reply) =>
      send(reply, stringifyJson(await options.simulator().explainWhenReady(request.body, bodyText(request.body)), true)),
  );

  app.get<{ Querystring: { format?: ToolFormat; server?: string } }>(
    '/v1/tools',
    {
      schema: {
        summary: "The recorded tools, as toolsim lists them or as a trainer's tool config wants them",
        description:
          'Without `format`: toolsim\'s own listing. With `format=openai|anthropic|mcp`: `{"tools": [...]}` holding OpenAI function tools, ' +
          'Anthropic tools, or an MCP tools/list result; a tool name recorded on several servers is written mcp__<server>__<tool>.',
        tags: ['catalog'],
        querystring: {
          type: 'object',
          properties: {
            format: { type: 'string', enum: [...TOOL_FORMATS] },
            server: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH, description: 'Only the tools of this server.' },
          },
        },
        response: { 200: { anyOf: [toolsResultSchema, formattedToolsSchema] }, 400: errorSchema, 404: errorSchema },
      },
    },
    async (request, reply) => {
      const { format, server } = request.query;
      const all = options.simulator().tools;
      const tools = all.filter((t) => server === undefined || t.server === server);
      // An unknown server is a 404 like /mcp/{server}'s, not an empty list that looks like success.
      if (server !== undefined && tools.length === 0)
        throw new NotFoundError(unknownServer(server, [...new Set(all.map((t) => t.server))].sort()));
      if (format === undefined) return { tools };
      return send(reply, JSON.stringify(toolSchemas(tools, format)));
    },
  );

  app.get(
    '/healthz',
    { config: NEVER_SHED, schema: { summary: 'The process is up', tags: ['ops'], response: { 200: statusSchema } } },
    async () => ({
      status: 'ok',
    }),
  );

  app.get(
    '/readyz',
    { schema: { summary: 'The cache is open and answering', tags: ['ops'], response: { 200: statusSchema, 503: statusSchema } } },
    async (_request, reply) => {
      // The cache failed a read (damaged under the server): route traffic elsewhere.
      if (storageFault(options)) return reply.code(503).header('retry-after', 1).send({ status: 'not ready' });
      try {
        const simulator = options.simulator();
        // A shared memo that is down leaves the replica ready: exact answers go on, fuzzy ones are labelled misses.
        const memo = options.memo?.();
        const rollouts = simulator.rolloutStatus();
        return {
          status: 'ready',
          calls: simulator.callCount,
          snapshot: simulator.snapshotId,
          ...(memo ? { memo } : {}),
          ...(rollouts ? { rollouts } : {}),
        };
      } catch {
        return reply.code(503).send({ status: 'not ready' });
      }
    },
  );

  app.get('/metrics', { config: NEVER_SHED, schema: { summary: 'Prometheus metrics', tags: ['ops'] } }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}

/**
 * The checks of `callRequestSchema`, by hand, for batch items: ajv would refuse the whole batch for
 * one bad item. A test holds the two to the same verdicts.
 */
export function checkCallRequest(item: unknown): CallRequest {
  const fail = (message: string): never => {
    throw new BadRequestError('invalid_request', message);
  };
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return fail('a call must be an object');
  const call = item as Record<string, unknown>;
  const { server, tool, trajectory_id: trajectoryId, source_trajectory_id: sourceTrajectoryId } = call;
  if (tool === undefined) fail("must have required property 'tool'");
  if (typeof tool !== 'string' || tool.length === 0) fail('tool must be a non-empty string');
  if ((tool as string).length > MAX_NAME_LENGTH) fail(`tool must NOT have more than ${MAX_NAME_LENGTH} characters`);
  if (!('arguments' in call)) fail("must have required property 'arguments'");
  const args = call['arguments'];
  if (typeof args !== 'string' && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    fail('arguments must be an object or a JSON string of one');
  }
  if (server !== undefined && (typeof server !== 'string' || server.length === 0)) fail('server must be a non-empty string');
  if (typeof server === 'string' && server.length > MAX_NAME_LENGTH) fail(`server must NOT have more than ${MAX_NAME_LENGTH} characters`);
  if (trajectoryId !== undefined && typeof trajectoryId !== 'string') fail('trajectory_id must be a string');
  if (typeof trajectoryId === 'string' && trajectoryId.length > MAX_TRAJECTORY_ID_LENGTH) {
    fail(`trajectory_id must NOT have more than ${MAX_TRAJECTORY_ID_LENGTH} characters`);
  }
  if (sourceTrajectoryId !== undefined && typeof sourceTrajectoryId !== 'string') fail('source_trajectory_id must be a string');
  if (typeof sourceTrajectoryId === 'string' && sourceTrajectoryId.length > MAX_TRAJECTORY_ID_LENGTH) {
    fail(`source_trajectory_id must NOT have more than ${MAX_TRAJECTORY_ID_LENGTH} characters`);
  }
  return call as unknown as CallRequest;
}

/** Whether the served snapshot has failed a read (see SnapshotContext.fault). */
function storageFault(options: RouteOptions): boolean {
  try {
    return options.simulator().snapshot.fault !== undefined;
  } catch {
    return false;
  }
}
