/**
 * verl-tool's tool-server protocol, so a verl-tool trainer can point its tool server URL at toolsim:
 * `POST /get_observation` with parallel arrays (`trajectory_ids`, `actions`, optional `extra_fields`
 * and other per-item arrays such as `finish`), answered with parallel `observations`, `dones` and
 * `valids`. Each action is model text holding `<tool_call>{"name", "arguments"}</tool_call>` blocks
 * (Hermes / Qwen style); each call goes through the simulator, and the item's observation is one
 * `<tool_response>` block per call. A malformed action makes that item alone invalid; a call of an
 * unknown tool (or with arguments that are not an object) is answered with its error text and
 * marked invalid too.
 */
import type { FastifyInstance } from 'fastify';
import { BadRequestError, ToolsimError } from '../core/errors.js';
import { RawNumber } from '../core/json-text.js';
import { parseToolCalls } from '../protocols/tool-call-text.js';
import { splitName } from '../protocols/tool-names.js';
import type { Simulator } from '../simulator/simulator.js';
import { outputText } from './mcp.js';

export interface VerlRequest {
  trajectory_ids: (string | number)[];
  actions: string[];
  extra_fields?: Record<string, unknown>[];
  [parallel: string]: unknown;
}

type Observation = string | { obs: string; invalid_reason: string };

interface Item {
  observation: Observation;
  done: boolean;
  valid: boolean;
}

const invalid = (reason: string): Item => ({ observation: { obs: '', invalid_reason: reason }, done: false, valid: false });

export function registerVerlRoutes(app: FastifyInstance, options: { simulator: () => Simulator; maxBatch: number }): void {
  app.post<{ Body: VerlRequest }>(
    '/get_observation',
    {
      // Ids past 2^53 are read without rounding; as trajectory ids they are their digits.
      preValidation: async (request) => {
        const ids = (request.body as { trajectory_ids?: unknown } | undefined)?.trajectory_ids;
        if (!Array.isArray(ids)) return;
        for (let i = 0; i < ids.length; i++) {
          const id: unknown = ids[i];
          if (id instanceof RawNumber) ids[i] = id.text;
        }
      },
      schema: {
        summary: "verl-tool's tool server: observations for a batch of model actions",
        description:
          'Parallel arrays: item i is trajectory_ids[i], actions[i] and extra_fields[i] (plus any other per-item array, such as finish). ' +
          'Each action holds <tool_call>{"name": ..., "arguments": {...}}</tool_call> blocks; the observation is one <tool_response> block per call. ' +
          'An item without a well-formed call gets {"obs": "", "invalid_reason": ...} and valids[i] = false; the other items are answered. ' +
          'A tool name may be written mcp__<server>__<tool>, or extra_fields[i].server may name the server; ' +
          "extra_fields[i].source_trajectory_id names the recorded trajectory the item's task was built from (its observations are served).",
        tags: ['agents'],
        body: {
          type: 'object',
          required: ['trajectory_ids', 'actions'],
          properties: {
            trajectory_ids: { type: 'array', items: { anyOf: [{ type: 'string' }, { type: 'integer' }] } },
            actions: { type: 'array', items: { type: 'string' } },
            extra_fields: { type: 'array', items: { type: 'object', additionalProperties: true } },
            finish: { type: 'array', items: { type: 'boolean' } },
          },
          additionalProperties: { type: 'array' },
        },
        response: {
          200: {
            type: 'object',
            required: ['observations', 'dones', 'valids'],
            properties: {
              observations: {
                type: 'array',
                items: {
                  anyOf: [
                    { type: 'string' },
                    {
                      type: 'object',
                      required: ['obs', 'invalid_reason'],
                      properties: { obs: { type: 'string' }, invalid_reason: { type: 'string' } },
                    },
                  ],
                },
              },
              dones: { type: 'array', items: { type: 'boolean' } },
              valids: { type: 'array', items: { type: 'boolean' } },
            },
          },
        },
      },
    },
    async (request) => {
      const body = request.body;
      const count = body.trajectory_ids.length;
      if (body.actions.length !== count) {
        throw new BadRequestError('length_mismatch', `trajectory_ids has ${count} items but actions has ${body.actions.length}`);
      }
      if (count > options.maxBatch)
        throw new BadRequestError('batch_too_large', `a batch holds at most ${options.maxBatch} actions (--max-batch); got ${count}`);
      const extras = perItemFields(body, count);
      const simulator = options.simulator();
      const items = await Promise.all(
        body.actions.map((action, i) => observe(simulator, String(body.trajectory_ids[i]), action, extras[i]!)),
      );
      return { observations: items.map((i) => i.observation), dones: items.map((i) => i.done), valids: items.map((i) => i.valid) };
    },
  );
}

/** `extra_fields[i]` merged with every other per-item array, as verl-tool's server does. */
function perItemFields(body: VerlRequest, count: number): Record<string, unknown>[] {
  const extras = body.extra_fields ?? [];
  if (body.extra_fields !== undefined && extras.length !== count) {
    throw new BadRequestError('length_mismatch', `trajectory_ids has ${count} items but extra_fields has ${extras.length}`);
  }
  const out = Array.from({ length: count }, (_, i) => ({ ...extras[i] }));
  for (const [name, value] of Object.entries(body)) {
    if (name === 'trajectory_ids' || name === 'actions' || name === 'extra_fields') continue;
    if (!Array.isArray(value) || value.length !== count) {
      throw new BadRequestError('length_mismatch', `"${name}" must be an array of ${count} items, one per action`);
    }
    for (const [i, v] of value.entries()) out[i]![name] = v;
  }
  return out;
}

async function observe(simulator: Simulator, trajectoryId: string, action: string, extra: Record<string, unknown>): Promise<Item> {
  // verl decided the trajectory is over: nothing to call.
  if (extra['finish'] === true) return { observation: '', done: true, valid: true };
  const blocks = parseToolCalls(action);
  if (blocks.length === 0) return invalid('no <tool_call> block in the action');
  const bad = blocks.find((b) => !b.ok);
  if (bad && !bad.ok) return invalid(bad.reason);
  const server = typeof extra['server'] === 'string' ? extra['server'] : undefined;
  const source = typeof extra['source_trajectory_id'] === 'string' ? extra['source_trajectory_id'] : undefined;
  let valid = true;
  const responses = await Promise.all(
    blocks.map(async (block) => {
      if (!block.ok) return '';
      const named = splitName(block.call.name);
      try {
        const answer = await simulator.resolve({
          server: named.server ?? server,
          tool: named.tool,
          arguments: block.call.arguments,
          trajectory_id: trajectoryId,
          ...(source === undefined ? {} : { source_trajectory_id: source }),
        });
        if (answer.reason === 'unknown_tool') valid = false;
        return await outputText(answer.outputJson);
      } catch (error) {
        if (!(error instanceof ToolsimError)) throw error;
        valid = false;
        return `Error: ${error.message}`;
      }
    }),
  );
  return { observation: responses.map((r) => `<tool_response>\n${r}\n</tool_response>`).join('\n'), done: false, valid };
}
