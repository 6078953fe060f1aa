/** JSON Schemas of the HTTP API (docs/http-api.md); the OpenAPI document is generated from them. */
import { MISS_REASONS } from '../core/types.js';

/** Longest server or tool name a request may carry: past it no name is recorded, and matching it costs. */
export const MAX_NAME_LENGTH = 256;
export const MAX_TRAJECTORY_ID_LENGTH = 1024;

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
} as const;

export const callRequestSchema = {
  type: 'object',
  required: ['tool', 'arguments'],
  properties: {
    server: {
      type: 'string',
      minLength: 1,
      maxLength: MAX_NAME_LENGTH,
      description: 'May be left out when exactly one server has the tool.',
    },
    tool: { type: 'string', minLength: 1, maxLength: MAX_NAME_LENGTH },
    arguments: {
      description: "The call's arguments: an object, or a JSON string of one.",
      anyOf: [{ type: 'object', additionalProperties: true }, { type: 'string' }],
    },
    trajectory_id: { type: 'string', maxLength: MAX_TRAJECTORY_ID_LENGTH },
    source_trajectory_id: {
      type: 'string',
      maxLength: MAX_TRAJECTORY_ID_LENGTH,
      description:
        "The recorded trajectory the rollout's task was built from: when it recorded this call, its observation is served (match.chosen_by is then source_trajectory); otherwise the repeat policy chooses.",
    },
  },
} as const;

const neighborSchema = {
  type: 'object',
  required: ['arguments', 'similarity'],
  properties: {
    arguments: { type: 'object', additionalProperties: true },
    similarity: { type: 'number', minimum: 0, maximum: 1 },
  },
} as const;

export const callResultSchema = {
  type: 'object',
  required: ['tier', 'output', 'is_error', 'match'],
  properties: {
    tier: { type: 'string', enum: ['exact', 'fuzzy', 'miss'] },
    output: { description: 'Recorded (exact), improvised (fuzzy), or an error text for the agent (miss).' },
    is_error: { type: 'boolean' },
    reason: {
      type: 'string',
      enum: [...MISS_REASONS],
      description: 'Miss answers only.',
    },
    match: {
      type: 'object',
      required: ['key'],
      properties: {
        key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
        observations: { type: 'integer', minimum: 1 },
        outputs: {
          type: 'integer',
          minimum: 1,
          description:
            'Exact answers: distinct outputs recorded for the key; above 1 its observations disagree (hidden state) and the repeat policy served one of them.',
        },
        memoized: { type: 'boolean' },
        unmemoized: {
          type: 'boolean',
          description:
            'Fuzzy answers only: true when the improvisation could not be memoized at once (the cache was locked); it is written later.',
        },
        neighbors: { type: 'array', items: neighborSchema },
        chosen_by: {
          type: 'string',
          enum: ['source_trajectory', 'policy'],
          description:
            "Exact answers: the rule that chose the observation served: the call's source_trajectory_id recorded it, or the repeat policy.",
        },
        failures: {
          type: 'integer',
          minimum: 1,
          description: 'Observations of the key that are recorded infrastructure failures (transient); never served over a real answer.',
        },
        recorded: {
          description:
            'recorded_failure misses: the failure as it was recorded (the observation the repeat policy picks among the failures).',
        },
      },
    },
  },
} as const;

export const batchResultSchema = {
  type: 'object',
  required: ['results'],
  properties: {
    results: { type: 'array', items: { anyOf: [callResultSchema, errorSchema] } },
  },
} as const;

export const toolsResultSchema = {
  type: 'object',
  required: ['tools'],
  properties: {
    tools: {
      type: 'array',
      items: {
        type: 'object',
        required: ['server', 'tool', 'calls'],
        properties: {
          server: { type: 'string' },
          tool: { type: 'string' },
          description: { type: 'string' },
          input_schema: { type: 'object', additionalProperties: true },
          calls: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;

export const formattedToolsSchema = {
  type: 'object',
  required: ['tools'],
  description: 'OpenAI function tools, Anthropic tools, or an MCP tools/list result (GET /v1/tools?format=...).',
  properties: { tools: { type: 'array', items: { type: 'object', additionalProperties: true } } },
} as const;

export const statusSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string' },
    calls: { type: 'integer' },
    snapshot: { type: 'string' },
    memo: {
      type: 'object',
      description: 'The shared fuzzy memo (with --memo-url); its outage does not make the replica unready: exact answers go on',
      properties: {
        backend: { type: 'string' },
        state: { type: 'string', enum: ['ok', 'connecting', 'unavailable'] },
        since: { type: 'string' },
        error: { type: 'string' },
      },
    },
  },
} as const;

export const explainResultSchema = {
  type: 'object',
  required: ['server', 'tool', 'key', 'arguments', 'tier', 'why', 'neighbors'],
  properties: {
    server: { type: 'string' },
    tool: { type: 'string' },
    key: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    arguments: { type: 'object', additionalProperties: true },
    tier: { type: 'string', enum: ['exact', 'fuzzy', 'miss'] },
    reason: callResultSchema.properties.reason,
    memoized: { type: 'boolean' },
    why: { type: 'string' },
    neighbors: { type: 'array', items: neighborSchema },
    prompt: {
      type: 'object',
      required: ['version', 'system', 'user', 'examples'],
      properties: {
        version: { type: 'string' },
        system: { type: 'string', description: 'The stable part, marked for prompt caching.' },
        user: { type: 'string' },
        examples: { type: 'integer', minimum: 0 },
      },
    },
  },
} as const;
