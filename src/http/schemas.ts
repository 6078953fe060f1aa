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
    trajectory_id: {
      type: 'string',
      maxLength: MAX_TRAJECTORY_ID_LENGTH,
      description:
        "Names the rollout the call belongs to: after a write no recording has, the rollout's later calls on that server are improvised with its history there (match.rollout), never served from a recording. GET /v1/rollouts/{id} shows its state; DELETE ends it. Empty or absent: the call is on its own.",
    },
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
        refused: {
          type: 'array',
          items: { type: 'string' },
          maxItems: 8,
          description:
            "llm_invalid_output misses: what did not fit in the model's last answer (the declared output schema, or the shape learnt from the recordings), in words.",
        },
        rollout: {
          type: 'object',
          required: ['diverged_since', 'history'],
          description:
            "Answers given in diverged state: the call's rollout (trajectory_id) made a write no recording has on this server at its call diverged_since, so the call was improvised with the rollout's history there (history: its answered calls on the server before this one).",
          properties: { diverged_since: { type: 'integer', minimum: 1 }, history: { type: 'integer', minimum: 0 } },
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
          output_schema: {
            type: 'object',
            additionalProperties: true,
            description: "The tool's declared output schema (MCP outputSchema).",
          },
          annotations: {
            type: 'object',
            additionalProperties: true,
            description: "MCP's tool annotations as recorded (readOnlyHint, destructiveHint, idempotentHint, openWorldHint, title).",
            properties: {
              title: { type: 'string' },
              readOnlyHint: { type: 'boolean' },
              destructiveHint: { type: 'boolean' },
              idempotentHint: { type: 'boolean' },
              openWorldHint: { type: 'boolean' },
            },
          },
          output_check: {
            type: 'object',
            description:
              'How the recorded successful answers fit output_schema as MCP structuredContent; MCP tools/list lists the schema only when misfits is 0.',
            required: ['answers', 'misfits'],
            properties: { answers: { type: 'integer', minimum: 0 }, misfits: { type: 'integer', minimum: 0 }, example: { type: 'string' } },
          },
          calls: { type: 'integer', minimum: 0 },
        },
      },
    },
  },
} as const;

export const formattedToolsSchema = {
  type: 'object',
  required: ['tools'],
  description:
    'OpenAI function tools, Anthropic tools, or an MCP tools/list result (GET /v1/tools?format=...); `toolsim` holds, by listed name, the declared output schemas and MCP annotations of the tools that have them.',
  properties: {
    tools: { type: 'array', items: { type: 'object', additionalProperties: true } },
    toolsim: { type: 'object', additionalProperties: true },
  },
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
    rollouts: {
      type: 'object',
      description:
        'Where rollout state lives (memory, or postgres with --memo-url); its outage does not make the replica unready: calls without trajectory_id go on',
      properties: {
        backend: { type: 'string' },
        state: { type: 'string', enum: ['ok', 'connecting', 'unavailable'] },
        rollouts: { type: 'integer' },
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
    output: {
      type: 'object',
      required: ['guard'],
      description:
        "What an improvised answer would be held to: the tool's declared output schema, the shape learnt from its recorded answers (as JSON Schema), or nothing.",
      properties: {
        guard: { type: 'string', enum: ['declared', 'learnt', 'none'] },
        schema: { type: 'object', additionalProperties: true },
        disagreements: {
          type: 'array',
          items: { type: 'string' },
          description: 'Where the recorded answers have more than one shape (each is allowed).',
        },
        problem: { type: 'string', description: 'Why the declared output schema does not guard (it cannot be compiled).' },
      },
    },
    writes: {
      type: 'object',
      required: ['writes', 'why'],
      description: 'Whether the tool counts as a write for state within a rollout, and which rule says so.',
      properties: { writes: { type: 'boolean' }, why: { type: 'string' } },
    },
    rollout: {
      ...callResultSchema.properties.match.properties.rollout,
      description: "With trajectory_id: the call's rollout has diverged on its server, so it is explained in that state.",
    },
  },
} as const;

/*
 * OpenAPI examples: what Swagger UI's "Try it out" sends and shows. Requests hit the bundled
 * tau-bench sample (`npm run sample`); responses are what the sample answers them (a test holds
 * them to it), the fuzzy tier off.
 */

const EXACT_CALL = { tool: 'find_user_id_by_name_zip', arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '19122' } };
const MISS_CALL = { tool: 'find_user_id_by_name_zip', arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '10001' } };
const SHARED_CALL = { server: 'tau-bench-retail', tool: 'get_user_details', arguments: { user_id: 'yusuf_rossi_9620' } };

export const EXACT_ANSWER = {
  tier: 'exact',
  output: 'yusuf_rossi_9620',
  is_error: false,
  match: { key: 'f9e3718670192de5d03fb6e9e6dab9506cb223a2bd7252229dc4b1e718473745', observations: 5, outputs: 1, chosen_by: 'policy' },
};
export const MISS_ANSWER = {
  tier: 'miss',
  output: 'Error: find_user_id_by_name_zip could not process this request: there is no recorded answer for these arguments.',
  is_error: true,
  reason: 'fuzzy_disabled',
  match: {
    key: '30311b2052debccd4a1896b32917da5f6246cdc067d36c828cc1016c3a008c81',
    neighbors: [
      { arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '19122' }, similarity: 0.7333 },
      { arguments: { first_name: 'Yusuf', last_name: 'Li', zip: '91148' }, similarity: 0.4 },
    ],
  },
};

/** Request examples by route: `body` (the first is Swagger UI's default), `params`, `querystring` (field -> value). */
export const REQUEST_EXAMPLES: Readonly<
  Record<string, { body?: readonly unknown[]; params?: Record<string, string>; querystring?: Record<string, string> }>
> = {
  'POST /v1/call': { body: [EXACT_CALL, MISS_CALL, SHARED_CALL] },
  'POST /v1/calls': { body: [{ calls: [EXACT_CALL, MISS_CALL] }] },
  'POST /v1/servers/:server/tools/:tool': {
    params: { server: 'tau-bench-retail', tool: 'find_user_id_by_name_zip' },
    body: [EXACT_CALL.arguments],
  },
  'POST /v1/explain': { body: [MISS_CALL, EXACT_CALL] },
  'GET /v1/tools': { querystring: { format: 'openai', server: 'tau-bench-retail' } },
  'POST /get_observation': {
    body: [
      {
        trajectory_ids: ['t0', 't1'],
        actions: [`<tool_call>${JSON.stringify({ name: EXACT_CALL.tool, arguments: EXACT_CALL.arguments })}</tool_call>`, 'no call here'],
        extra_fields: [{}, {}],
      },
    ],
  },
};

/** Response examples by route and status. */
export const RESPONSE_EXAMPLES: Readonly<Record<string, Record<number, readonly unknown[]>>> = {
  'POST /v1/call': { 200: [EXACT_ANSWER, MISS_ANSWER] },
  'POST /v1/servers/:server/tools/:tool': { 200: [EXACT_ANSWER] },
  'POST /v1/calls': { 200: [{ results: [EXACT_ANSWER, MISS_ANSWER] }] },
};

const unavailable = {
  ...errorSchema,
  description:
    'overloaded: the event loop lags past --max-event-loop-delay (retry after Retry-After); shutting_down: the server is closing (Retry-After, Connection: close).',
  examples: [{ error: { code: 'overloaded', message: 'the server is over capacity (eventLoopDelay); retry after the Retry-After delay' } }],
};

type RouteSchema = {
  body?: unknown;
  params?: unknown;
  querystring?: unknown;
  response?: Record<string | number, unknown>;
  hide?: boolean;
};

const withFieldExamples = (schema: unknown, values: Record<string, string>): unknown => {
  const s = schema as { properties?: Record<string, object> };
  if (!s?.properties) return schema;
  const properties = { ...s.properties };
  for (const [field, value] of Object.entries(values))
    if (properties[field]) properties[field] = { ...properties[field], examples: [value] };
  return { ...s, properties };
};

/**
 * An onRoute hook: adds the examples above to a route's schema, and the 503 answers every route can
 * give (while shutting down; past the event-loop limit) where the route does not document its own.
 */
export function documentRoute(route: { method: string | string[]; url: string; schema?: RouteSchema }): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const id = `${Array.isArray(route.method) ? route.method[0] : route.method} ${route.url}`;
  const request = REQUEST_EXAMPLES[id];
  const next: RouteSchema = { ...schema };
  if (request?.body && next.body) next.body = { ...(next.body as object), examples: request.body };
  if (request?.params && next.params) next.params = withFieldExamples(next.params, request.params);
  if (request?.querystring && next.querystring) next.querystring = withFieldExamples(next.querystring, request.querystring);
  const responses = { ...next.response };
  for (const [status, examples] of Object.entries(RESPONSE_EXAMPLES[id] ?? {}))
    if (responses[status]) responses[status] = { ...(responses[status] as object), examples };
  if (next.response && responses['503'] === undefined) responses['503'] = unavailable;
  next.response = responses;
  route.schema = next;
}
