/**
 * verl-tool's tool-server protocol, so a verl-tool trainer can point its tool server URL at toolsim:
 * `POST /get_observation` with parallel arrays (`trajectory_ids`, `actions`, optional `extra_fields`
 * and other per-item arrays such as `finish`), answered with parallel `observations`, `dones` and
 * `valids`. Each action is model text holding `<tool_call>{"name", "arguments"}</tool_call>` blocks
 * (Hermes / Qwen style); each call goes through the simulator, and the item's observation is one
 * `<tool_response>` block per call. A malformed action makes that item alone invalid; a call of an
 * unknown tool (or with arguments that are not an object) is answered with its error text and
 * marked invalid too. A `"server"` in the block (or `mcp__server__tool`, or `extra_fields[i].server`)
 * names the only server that may answer. `tiers[i]` labels the item with its weakest answer.
 * Outputs cannot close or open a block, or a turn, of the trainer's chat template: every marker of
 * MARKERS inside them is escaped (docs/http-api.md lists them).
 *
 * Bounded work: the `<tool_call>` blocks of all actions together are at most `--max-batch` calls and
 * hold at most `--max-body-keys` keys (counted before they are parsed); the answer is at most
 * `--max-response-mb`. Past any, the request is a 400 and nothing of it is answered.
 */
import type { FastifyInstance } from 'fastify';
import { BadRequestError, ToolsimError } from '../core/errors.js';
import { RawNumber } from '../core/json-text.js';
import type { Tier } from '../core/types.js';
import { MAX_NAME_LENGTH } from '../http/schemas.js';
import { cooperatively } from '../simulator/cooperate.js';
import type { Simulator } from '../simulator/simulator.js';
import { type KeyBudget, parseToolCalls } from './formats/tool-call-text.js';
import { splitName } from './formats/tool-names.js';
import { outputText, truncated } from './mcp-content.js';

/** `<tool_call>` blocks per action at most: past it the item is invalid (a model loops, an attacker floods). */
export const MAX_CALLS_PER_ACTION = 64;

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
  /** The weakest tier among the item's calls; null when nothing was called (`finish`). */
  tier: Tier | null;
}

const invalid = (reason: string): Item => ({ observation: { obs: '', invalid_reason: reason }, done: false, valid: false, tier: 'miss' });
const STRENGTH: Record<Tier, number> = { miss: 0, fuzzy: 1, exact: 2 };

/** Default of `--max-response-mb`, in bytes. */
export const DEFAULT_MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * The chat-template and tool-call markers escaped inside an output (any case; tags with any spacing
 * and attributes): Hermes / Qwen tool blocks `<tool_call>`, `<tool_response>` (also `<tool_response
 * id=...>`), `<tools>`, `<think>`; Gemma turns `<start_of_turn>`, `<end_of_turn>`; and every special
 * token written `<|...|>` (ChatML and Qwen `<|im_start|>`, `<|im_end|>`, `<|endoftext|>`; Llama 3
 * `<|eot_id|>`, `<|start_header_id|>`, `<|python_tag|>`; Phi `<|user|>`...) or with fullwidth bars
 * `<｜...｜>` (DeepSeek). Their `<` and `>` become `&lt;` and `&gt;`.
 */
const MARKERS =
  /<(\s*\/?\s*(?:tool_call|tool_response|tools|think|start_of_turn|end_of_turn)(?![\w-])[^<>]{0,256}|\|[^<>|\s]{1,64}\||\uff5c[^<>\uff5c]{1,64}\uff5c)>/gi;

/** Every marker of MARKERS inside an output, escaped so that it is text. */
export function neutralizeWrapper(text: string): string {
  return text.replace(MARKERS, '&lt;$1&gt;');
}

/** `<tool_call>` openings in `text`, counted without splitting it. */
function blockCount(text: string): number {
  let count = 0;
  for (let at = text.indexOf('<tool_call>'); at !== -1; at = text.indexOf('<tool_call>', at + 11)) count++;
  return count;
}

export interface VerlOptions {
  simulator: () => Simulator;
  /** Actions, and `<tool_call>` blocks of all actions together, in one request. */
  maxBatch: number;
  /** Keys and array items of all the blocks of one request together. */
  maxKeys: number;
  /** Bytes of the answer to one request. */
  maxResponseBytes: number;
}

/** What one request has used of its bounds, shared by its actions. */
interface RequestBudget {
  keys: KeyBudget;
  /** UTF-16 code units of observation text left before the answer is too large. */
  chars: number;
  overflowed: boolean;
}

export function registerVerlRoutes(app: FastifyInstance, options: VerlOptions): void {
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
          'A block may name its server with "server" beside "name"; otherwise a tool name may be written mcp__<server>__<tool>, or extra_fields[i].server may name the server. ' +
          "A named server is the only one that may answer. tiers[i] is the weakest tier among item i's calls (miss, then fuzzy, then exact); null when nothing was called. " +
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
            required: ['observations', 'dones', 'valids', 'tiers'],
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
              tiers: { type: 'array', items: { anyOf: [{ type: 'string', enum: ['exact', 'fuzzy', 'miss'] }, { type: 'null' }] } },
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
      // Counted before anything is parsed or called: 440 actions of 64 blocks were 28,160 calls and
      // a 259 MB answer. An action past MAX_CALLS_PER_ACTION is only that item's failure.
      const counts = body.actions.map((action, i) => (extras[i]!['finish'] === true ? 0 : blockCount(action)));
      let calls = 0;
      for (const blocks of counts) if (blocks <= MAX_CALLS_PER_ACTION) calls += blocks;
      if (calls > options.maxBatch) {
        throw new BadRequestError(
          'batch_too_large',
          `the actions hold ${calls} <tool_call> blocks together; one request makes at most ${options.maxBatch} calls (--max-batch)`,
        );
      }
      const budget: RequestBudget = {
        keys: { left: options.maxKeys, exceeded: false },
        // A code unit is one to three bytes of UTF-8; counted at one here, checked in bytes below.
        chars: options.maxResponseBytes,
        overflowed: false,
      };
      // One action's blocks per piece of work, a few milliseconds' worth per turn of the loop.
      const parsed = await Promise.all(
        body.actions.map((action, i) =>
          counts[i]! === 0 || counts[i]! > MAX_CALLS_PER_ACTION ? [] : cooperatively(() => parseToolCalls(action, budget.keys)),
        ),
      );
      if (budget.keys.exceeded) {
        throw new BadRequestError(
          'too_many_keys',
          `the <tool_call> blocks of the actions hold more than ${options.maxKeys} keys and array items together (--max-body-keys); none was called`,
        );
      }
      const simulator = options.simulator();
      const items = await Promise.all(
        body.actions.map((_, i) => observe(simulator, String(body.trajectory_ids[i]), counts[i]!, extras[i]!, parsed[i]!, budget)),
      );
      const tooLarge = (): BadRequestError =>
        new BadRequestError(
          'response_too_large',
          `the observations would be larger than ${(options.maxResponseBytes / 1024 / 1024).toFixed(0)} MiB (--max-response-mb); send fewer actions or calls at once`,
        );
      if (budget.overflowed) throw tooLarge();
      let bytes = 0;
      for (const item of items) bytes += Buffer.byteLength(typeof item.observation === 'string' ? item.observation : item.observation.obs);
      if (bytes > options.maxResponseBytes) throw tooLarge();
      return {
        observations: items.map((i) => i.observation),
        dones: items.map((i) => i.done),
        valids: items.map((i) => i.valid),
        tiers: items.map((i) => i.tier),
      };
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
      throw new BadRequestError('length_mismatch', `"${truncated(name)}" must be an array of ${count} items, one per action`);
    }
    // Defined, never assigned: a field named __proto__ must not become the item's prototype.
    for (const [i, v] of value.entries())
      Object.defineProperty(out[i]!, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

async function observe(
  simulator: Simulator,
  trajectoryId: string,
  count: number,
  extra: Record<string, unknown>,
  blocks: ReturnType<typeof parseToolCalls>,
  budget: RequestBudget,
): Promise<Item> {
  // verl decided the trajectory is over: nothing to call, and its rollout (its state, its history) ends.
  if (extra['finish'] === true) {
    await simulator.endRollout(trajectoryId, 'finished').catch(() => false);
    return { observation: '', done: true, valid: true, tier: null };
  }
  // Counted before anything was parsed: 40,000 blocks would be 40,000 calls and a 64 MB answer.
  if (count > MAX_CALLS_PER_ACTION)
    return invalid(`the action has ${count} <tool_call> blocks; at most ${MAX_CALLS_PER_ACTION} are answered`);
  if (blocks.length === 0) return invalid('no <tool_call> block in the action');
  const bad = blocks.find((b) => !b.ok);
  if (bad && !bad.ok) return invalid(bad.reason);
  const server = typeof extra['server'] === 'string' ? extra['server'] : undefined;
  const source = typeof extra['source_trajectory_id'] === 'string' ? extra['source_trajectory_id'] : undefined;
  let valid = true;
  let tier: Tier = 'exact';
  const weakest = (t: Tier): void => {
    if (STRENGTH[t] < STRENGTH[tier]) tier = t;
  };
  const responses = await Promise.all(
    blocks.map(async (block) => {
      if (!block.ok) return '';
      if (block.call.name.length > MAX_NAME_LENGTH) {
        valid = false;
        return `Error: unknown tool "${truncated(block.call.name)}"`;
      }
      const named = splitName(block.call.name);
      if (block.call.server !== undefined && named.server !== undefined && block.call.server !== named.server) {
        valid = false;
        weakest('miss');
        return `Error: the call names two servers, "${truncated(block.call.server)}" and "${named.server}"`;
      }
      try {
        // The name as given: the simulator reads mcp__<server>__<tool> as every route does (a
        // server the name gives wins over extra_fields[i].server).
        const chosenServer = block.call.server ?? (named.server === undefined ? server : undefined);
        const answer = await cooperatively(() =>
          simulator.resolve({
            ...(chosenServer === undefined ? {} : { server: chosenServer }),
            tool: block.call.name,
            arguments: block.call.arguments,
            trajectory_id: trajectoryId,
            ...(source === undefined ? {} : { source_trajectory_id: source }),
          }),
        );
        if (answer.reason === 'unknown_tool') valid = false;
        weakest(answer.tier);
        // Once the answer is past its bound nothing more is kept: the request is refused anyway.
        if (budget.overflowed) return '';
        const text = await outputText(answer.outputJson);
        budget.chars -= text.length;
        if (budget.chars < 0) budget.overflowed = true;
        return budget.overflowed ? '' : text;
      } catch (error) {
        if (!(error instanceof ToolsimError)) throw error;
        valid = false;
        weakest('miss');
        return `Error: ${error.message}`;
      }
    }),
  );
  const observation = responses.map((r) => `<tool_response>\n${neutralizeWrapper(r)}\n</tool_response>`).join('\n');
  return { observation, done: false, valid, tier };
}
