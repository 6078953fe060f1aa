/** The HTTP API of CONTRACTS §4. Routes turn requests into simulator calls and answers into JSON. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { BadRequestError, ToolsimError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { CallRequest, Simulator } from '../simulator.js';
import { clientGone } from './client-gone.js';
import { answerJson, errorJson } from './serialize.js';
import {
  batchResultSchema,
  callRequestSchema,
  callResultSchema,
  errorSchema,
  statusSchema,
  toolsResultSchema,
} from './schemas.js';

export interface RouteOptions {
  simulator: () => Simulator;
  metrics: Metrics;
  maxBatch: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';
const errors = { 400: errorSchema, 413: errorSchema, 415: errorSchema };

export function registerRoutes(app: FastifyInstance, options: RouteOptions): void {
  const { metrics, maxBatch } = options;
  const send = (reply: FastifyReply, json: string): FastifyReply => reply.type(JSON_TYPE).send(json);

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
    async (request, reply) => send(reply, answerJson(await options.simulator().resolve(request.body, () => clientGone(reply)))),
  );

  app.post<{ Body: { calls: unknown[] } }>(
    '/v1/calls',
    {
      schema: {
        summary: 'Answer several tool calls; results come in the same order',
        description: 'Each item is a call request as for POST /v1/call, checked on its own: a malformed item gets an error result and the others are answered.',
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
      let gone: AbortSignal | undefined;
      const signal = (): AbortSignal => (gone ??= clientGone(reply));
      const results = await Promise.all(
        calls.map(async (item) => {
          try {
            return answerJson(await simulator.resolve(checkCallRequest(item), signal));
          } catch (error) {
            if (error instanceof ToolsimError) return errorJson(error);
            throw error;
          }
        }),
      );
      return send(reply, `{"results":[${results.join(',')}]}`);
    },
  );

  app.post<{ Params: { server: string; tool: string }; Body: Record<string, unknown> }>(
    '/v1/servers/:server/tools/:tool',
    {
      schema: {
        summary: 'Answer one tool call, named in the path, with the arguments object as the body',
        tags: ['calls'],
        params: {
          type: 'object',
          required: ['server', 'tool'],
          properties: { server: { type: 'string', minLength: 1 }, tool: { type: 'string', minLength: 1 } },
        },
        body: { type: 'object', additionalProperties: true },
        response: { 200: callResultSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { server, tool } = request.params;
      return send(reply, answerJson(await options.simulator().resolve({ server, tool, arguments: request.body }, () => clientGone(reply))));
    },
  );

  app.get(
    '/v1/tools',
    { schema: { summary: 'The recorded tools', tags: ['catalog'], response: { 200: toolsResultSchema } } },
    async () => ({ tools: options.simulator().tools }),
  );

  app.get('/healthz', { schema: { summary: 'The process is up', tags: ['ops'], response: { 200: statusSchema } } }, async () => ({
    status: 'ok',
  }));

  app.get(
    '/readyz',
    { schema: { summary: 'The cache is open and answering', tags: ['ops'], response: { 200: statusSchema, 503: statusSchema } } },
    async (_request, reply) => {
      try {
        const simulator = options.simulator();
        return { status: 'ready', calls: simulator.callCount, snapshot: simulator.snapshotId };
      } catch {
        return reply.code(503).send({ status: 'not ready' });
      }
    },
  );

  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['ops'] } }, async (_request, reply) => {
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
  const { server, tool, trajectory_id: trajectoryId } = call;
  if (tool === undefined) fail("must have required property 'tool'");
  if (typeof tool !== 'string' || tool.length === 0) fail('tool must be a non-empty string');
  if (!('arguments' in call)) fail("must have required property 'arguments'");
  const args = call['arguments'];
  if (typeof args !== 'string' && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    fail('arguments must be an object or a JSON string of one');
  }
  if (server !== undefined && (typeof server !== 'string' || server.length === 0)) fail('server must be a non-empty string');
  if (trajectoryId !== undefined && typeof trajectoryId !== 'string') fail('trajectory_id must be a string');
  return call as unknown as CallRequest;
}
