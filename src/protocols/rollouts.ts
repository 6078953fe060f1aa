/**
 * `GET /v1/rollouts/{id}` (a rollout's state per server, for debugging) and `DELETE /v1/rollouts/{id}`
 * (end it now). The answer is written as JSON text by hand so recorded outputs and arguments keep
 * their exact numbers, as in every other answer.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NotFoundError, ToolsimError } from '../core/errors.js';
import type { RolloutView } from '../core/rollout.js';
import { errorSchema } from '../http/schemas.js';
import type { Simulator } from '../simulator/simulator.js';

const JSON_TYPE = 'application/json; charset=utf-8';

const params = {
  type: 'object',
  required: ['id'],
  properties: {
    id: {
      type: 'string',
      minLength: 1,
      description: 'The rollout: its trajectory_id (or MCP session id), percent-encoded; at most 100 characters here.',
    },
  },
} as const;

const entrySchema = {
  type: 'object',
  required: ['call', 'tool', 'arguments', 'output', 'is_error', 'tier', 'writes'],
  properties: {
    call: { type: 'integer', minimum: 1, description: "The call's number in the rollout (every call counted, misses included)." },
    tool: { type: 'string' },
    arguments: { type: 'object', additionalProperties: true },
    output: {},
    is_error: { type: 'boolean' },
    tier: { type: 'string', enum: ['exact', 'fuzzy'] },
    writes: { type: 'boolean' },
  },
} as const;

export const rolloutSchema = {
  type: 'object',
  required: ['id', 'calls', 'created_at', 'last_seen', 'expires_at', 'servers'],
  properties: {
    id: { type: 'string' },
    calls: { type: 'integer', minimum: 0 },
    created_at: { type: 'string' },
    last_seen: { type: 'string' },
    expires_at: { type: 'string', description: 'When it ends if no call comes (--rollout-ttl after the last one).' },
    servers: {
      type: 'array',
      items: {
        type: 'object',
        required: ['server', 'state', 'answered', 'digest', 'history'],
        properties: {
          server: { type: 'string' },
          state: { type: 'string', enum: ['recorded', 'diverged'] },
          diverged_since: { type: 'integer', minimum: 1, description: 'The call that diverged it: a write no recording has, improvised.' },
          diverged_by: {
            type: 'object',
            properties: { tool: { type: 'string' }, arguments: { type: 'object', additionalProperties: true } },
          },
          answered: { type: 'integer', minimum: 0, description: 'Calls answered on the server (misses are not history).' },
          digest: { type: 'string', description: 'Digest of the kept history: part of the memo key of the next diverged call.' },
          history: {
            type: 'array',
            items: entrySchema,
            description: 'The kept history (the last --rollout-history calls, and the write that diverged the server), most recent first.',
          },
        },
      },
    },
  },
} as const;

/** A rollout's view as the JSON text of the API. */
export function rolloutJson(view: RolloutView): string {
  const s = JSON.stringify;
  const servers = view.servers.map((server) => {
    const history = server.history.map(
      (h) =>
        `{"call":${h.call},"tool":${s(h.tool)},"arguments":${h.arguments},"output":${h.outputJson},"is_error":${h.isError},"tier":"${h.tier}","writes":${h.writes}}`,
    );
    const diverged =
      server.divergedSince === undefined
        ? ''
        : `,"diverged_since":${server.divergedSince}${server.divergedBy ? `,"diverged_by":{"tool":${s(server.divergedBy.tool)},"arguments":${server.divergedBy.arguments}}` : ''}`;
    return `{"server":${s(server.server)},"state":"${server.state}"${diverged},"answered":${server.answered},"digest":${s(server.digest)},"history":[${history.join(',')}]}`;
  });
  return `{"id":${s(view.id)},"calls":${view.calls},"created_at":${s(view.createdAt)},"last_seen":${s(view.lastSeen)},"expires_at":${s(view.expiresAt)},"servers":[${servers.join(',')}]}`;
}

/** The store's failure as the API's 503. */
async function reachable<T>(work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (error) {
    if (error instanceof ToolsimError) throw error;
    throw new ToolsimError('state_unavailable', 'the rollouts database cannot be reached now; try again');
  }
}

export function registerRolloutRoutes(app: FastifyInstance, options: { simulator: () => Simulator }): void {
  const unavailable = (reply: FastifyReply): FastifyReply => reply.header('retry-after', 1);
  app.get<{ Params: { id: string } }>(
    '/v1/rollouts/:id',
    {
      schema: {
        summary: "A rollout's state: per server, recorded or diverged (since which call), and its history",
        tags: ['rollouts'],
        params,
        response: {
          200: { ...rolloutSchema, description: "The rollout's state per server and its history" },
          404: { ...errorSchema, description: 'No rollout of that id is known: never named, ended, or silent past --rollout-ttl' },
          503: { ...errorSchema, description: "The rollouts' state (PostgreSQL) cannot be read now" },
        },
      },
    },
    async (request, reply) => {
      const view = await reachable(options.simulator().rollout(request.params.id)).catch((error: unknown) => {
        unavailable(reply);
        throw error;
      });
      if (!view) throw new NotFoundError(`no rollout ${JSON.stringify(request.params.id).slice(0, 120)}: never seen, ended, or expired`);
      return reply.type(JSON_TYPE).send(rolloutJson(view));
    },
  );
  app.delete<{ Params: { id: string } }>(
    '/v1/rollouts/:id',
    {
      schema: {
        summary: 'End a rollout now: its state and history are forgotten; a later call with its id starts afresh',
        tags: ['rollouts'],
        params,
        response: {
          200: {
            description: 'The rollout was ended (ended: false when it was not known)',
            type: 'object',
            required: ['id', 'ended'],
            properties: { id: { type: 'string' }, ended: { type: 'boolean' } },
          },
          404: { ...errorSchema, description: 'No rollout of that id is known: never named, ended, or silent past --rollout-ttl' },
          503: { ...errorSchema, description: "The rollouts' state (PostgreSQL) cannot be read now" },
        },
      },
    },
    async (request, reply) => {
      const ended = await reachable(options.simulator().endRollout(request.params.id, 'deleted')).catch((error: unknown) => {
        unavailable(reply);
        throw error;
      });
      if (!ended) throw new NotFoundError(`no rollout ${JSON.stringify(request.params.id).slice(0, 120)}: never seen, ended, or expired`);
      return { id: request.params.id, ended: true };
    },
  );
}
