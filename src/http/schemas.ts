/** JSON Schemas of the HTTP API (docs/http-api.md); the OpenAPI document is generated from them. */
import { ERRORS, type ErrorCode } from '../core/errors.js';
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

/** Examples by name (Swagger UI lists them by name; the first is what "Try it out" sends). */
export type NamedExamples = Readonly<Record<string, unknown>>;

/** Request examples by route: `body` by name, `params`, `querystring` (field -> value). */
export const REQUEST_EXAMPLES: Readonly<
  Record<string, { body?: NamedExamples; params?: Record<string, string>; querystring?: Record<string, string> }>
> = {
  'POST /v1/call': { body: { 'exact answer': EXACT_CALL, 'labelled miss': MISS_CALL, 'tool name shared by two servers': SHARED_CALL } },
  'POST /v1/calls': { body: { 'an exact answer and a labelled miss': { calls: [EXACT_CALL, MISS_CALL] } } },
  'POST /v1/servers/:server/tools/:tool': {
    params: { server: 'tau-bench-retail', tool: 'find_user_id_by_name_zip' },
    body: { 'exact answer': EXACT_CALL.arguments },
  },
  'POST /v1/explain': { body: { 'labelled miss, with its nearest recorded calls': MISS_CALL, 'exact answer': EXACT_CALL } },
  'GET /v1/tools': { querystring: { format: 'openai', server: 'tau-bench-retail' } },
  'POST /get_observation': {
    body: {
      'a tool call and a turn without one': {
        trajectory_ids: ['t0', 't1'],
        actions: [`<tool_call>${JSON.stringify({ name: EXACT_CALL.tool, arguments: EXACT_CALL.arguments })}</tool_call>`, 'no call here'],
        extra_fields: [{}, {}],
      },
    },
  },
};

/** What a route's 200 (or other non-error status) holds, where its schema does not say. */
const RESPONSE_DESCRIPTIONS: Readonly<Record<string, Record<number, string>>> = {
  'POST /v1/call': { 200: 'The answer: its tier (exact, fuzzy or miss), the output for the agent, and how the call was matched.' },
  'POST /v1/servers/:server/tools/:tool': { 200: 'The answer, as POST /v1/call gives it.' },
  'POST /v1/calls': { 200: "One result per call, in the calls' order: an answer, or an error of that call's own." },
  'POST /v1/explain': {
    200: 'The tier the call would take and why, its nearest recorded calls, and the LLM prompt (no LLM request is made).',
  },
  'GET /v1/tools': { 200: "The catalog, or with format= the tools as a trainer's tool config wants them." },
  'GET /healthz': { 200: 'The process is up.' },
  'GET /readyz': {
    200: 'The cache is open: its call count and snapshot id.',
    503: 'Not ready: the cache is not open, or a read of it failed.',
  },
  'GET /metrics': { 200: 'Prometheus text exposition (text/plain; version=0.0.4).' },
  'GET /mcp': { 405: 'Refused: a stateless MCP server has no event stream (a JSON-RPC error body; Allow: POST).' },
  'DELETE /mcp': { 405: 'Refused: a stateless MCP server has no session to end (a JSON-RPC error body; Allow: POST).' },
  'POST /get_observation': { 200: 'One observation per action, in order, with whether the action was a valid tool call.' },
  'GET /v1/report': { 200: 'The counts of the window: calls and shares per tier, misses per reason, LLM requests and tokens.' },
};

/** Response examples by route and status, by name. */
export const RESPONSE_EXAMPLES: Readonly<Record<string, Record<number, NamedExamples>>> = {
  'POST /v1/call': { 200: { 'exact answer': EXACT_ANSWER, 'labelled miss': MISS_ANSWER } },
  'POST /v1/servers/:server/tools/:tool': { 200: { 'exact answer': EXACT_ANSWER } },
  'POST /v1/calls': { 200: { 'an exact answer and a labelled miss': { results: [EXACT_ANSWER, MISS_ANSWER] } } },
};

/**
 * Error bodies as the server sends them on the sample (test/swagger.test.ts sends a request for
 * each and gets exactly this body), by name; `routes` limits one to the routes whose message it
 * is, and the others are the body's (any route taking a JSON body) or any route's (503).
 */
export const ERROR_EXAMPLES: Readonly<Record<string, { code: ErrorCode; message: string; routes?: readonly string[] }>> = {
  'a required field missing': {
    code: 'invalid_request',
    message: "body must have required property 'tool'",
    routes: ['POST /v1/call', 'POST /v1/explain'],
  },
  'calls missing': { code: 'invalid_request', message: "body must have required property 'calls'", routes: ['POST /v1/calls'] },
  'arguments not an object': { code: 'invalid_request', message: 'body must be object', routes: ['POST /v1/servers/:server/tools/:tool'] },
  'trajectory_ids missing': {
    code: 'invalid_request',
    message: "body must have required property 'trajectory_ids'",
    routes: ['POST /get_observation'],
  },
  'since not understood': {
    code: 'invalid_request',
    message: 'since must be a duration (90s, 15m, 2h, 1d) or an ISO 8601 time, got "yesterday"',
    routes: ['GET /v1/report'],
  },
  'an unknown format': {
    code: 'invalid_request',
    message: 'querystring/format must be equal to one of the allowed values',
    routes: ['GET /v1/tools'],
  },
  'arguments a JSON string of an array': {
    code: 'invalid_arguments',
    message: 'arguments must be an object, got an array',
    routes: ['POST /v1/call', 'POST /v1/explain'],
  },
  'a tool of several servers, no server named': {
    code: 'ambiguous_tool',
    message:
      'tool "get_user_details" exists on several servers (tau-bench-airline, tau-bench-retail); name one in "server", or call it by its listed name (mcp__tau-bench-airline__get_user_details, mcp__tau-bench-retail__get_user_details)',
    routes: ['POST /v1/call', 'POST /v1/explain'],
  },
  'too many calls in one batch': {
    code: 'batch_too_large',
    message: 'a batch holds at most 1000 calls (--max-batch); got 1001',
    routes: ['POST /v1/calls'],
  },
  'parallel arrays of different lengths': {
    code: 'length_mismatch',
    message: 'trajectory_ids has 1 items but actions has 2',
    routes: ['POST /get_observation'],
  },
  'malformed JSON': { code: 'invalid_json', message: 'the body is not valid JSON (Unexpected end of JSON input)' },
  'not UTF-8': { code: 'invalid_utf8', message: 'the body is not valid UTF-8' },
  'an empty body': { code: 'empty_body', message: 'the body is empty; send a JSON object' },
  'a __proto__ key': { code: 'forbidden_key', message: 'the body has a key named "__proto__"; it is refused' },
  'nested too deep': { code: 'too_deep', message: 'the body nests arrays and objects deeper than 128 levels' },
  'a body over --body-limit': {
    code: 'body_too_large',
    message: "the body is larger than the server's --body-limit: send fewer calls per batch, or raise --body-limit",
  },
  'not JSON': { code: 'unsupported_media_type', message: 'the body must be JSON, sent with the header Content-Type: application/json' },
  'an unknown server': {
    code: 'not_found',
    message: 'no recorded server "nope"; recorded: tau-bench-airline, tau-bench-retail',
    routes: ['GET /v1/tools', 'POST /mcp/:server', 'POST /servers/:server/mcp'],
  },
  'over capacity': {
    code: 'overloaded',
    message: 'the server is over capacity (event loop 1250 ms behind); retry after the Retry-After delay',
  },
  'shutting down': { code: 'shutting_down', message: 'the server is shutting down; retry on another instance or after restart' },
};

/** The codes a JSON body can draw on any route that takes one (read before the route runs). */
export const BODY_CODES: readonly ErrorCode[] = [
  'invalid_json',
  'invalid_utf8',
  'empty_body',
  'forbidden_key',
  'too_deep',
  'body_too_large',
  'unsupported_media_type',
];

/** The documented error answer of `status` on route `id`: every code it may carry, with a real body of each. */
function errorResponse(id: string, status: number, hasBody: boolean): object | undefined {
  const examples = Object.entries(ERROR_EXAMPLES).filter(
    ([, e]) =>
      ERRORS[e.code].status === status && (e.routes ? e.routes.includes(id) : BODY_CODES.includes(e.code) ? hasBody : status === 503),
  );
  if (examples.length === 0) return undefined;
  const codes = [...new Set(examples.map(([, e]) => e.code))];
  return {
    ...errorSchema,
    'x-response-description': codes.map((code) => `\`${code}\`: ${ERRORS[code].when}.`).join('\n\n'),
    'x-examples': named(Object.fromEntries(examples.map(([name, e]) => [name, { error: { code: e.code, message: e.message } }]))),
  };
}

const named = (examples: NamedExamples): Record<string, { summary: string; value: unknown }> =>
  Object.fromEntries(Object.entries(examples).map(([name, value]) => [name, { summary: name, value }]));

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
 * An onRoute hook: adds the examples above to a route's schema, by name, and documents its error
 * answers (every code a status may carry, each with a real body): the statuses the route declares,
 * those any JSON body can draw (400, 413, 415), and the 503 every route can give (while shutting
 * down; past the event-loop limit). A status the route describes itself keeps its description.
 */
export function documentRoute(route: { method: string | string[]; url: string; schema?: RouteSchema }): void {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const id = `${Array.isArray(route.method) ? route.method[0] : route.method} ${route.url}`;
  const request = REQUEST_EXAMPLES[id];
  const next: RouteSchema = { ...schema };
  if (request?.body && next.body) next.body = { ...(next.body as object), 'x-examples': named(request.body) };
  if (request?.params && next.params) next.params = withFieldExamples(next.params, request.params);
  if (request?.querystring && next.querystring) next.querystring = withFieldExamples(next.querystring, request.querystring);
  const descriptions = RESPONSE_DESCRIPTIONS[id.replace(/^(GET|DELETE) (\/mcp\/:server|\/servers\/:server\/mcp)$/, '$1 /mcp')];
  // Routes without response schemas (text, or a refusal) still say what they answer.
  if (!next.response && descriptions) next.response = Object.fromEntries(Object.keys(descriptions).map((status) => [status, {}]));
  if (next.response) {
    const responses: Record<string, unknown> = { ...next.response };
    for (const [status, examples] of Object.entries(RESPONSE_EXAMPLES[id] ?? {}))
      if (responses[status]) responses[status] = { ...(responses[status] as object), 'x-examples': named(examples) };
    for (const [status, description] of Object.entries(descriptions ?? {}))
      if (responses[status]) responses[status] = { ...(responses[status] as object), 'x-response-description': description };
    const hasBody = next.body !== undefined;
    for (const status of [400, 404, 413, 415, 503]) {
      const declared = responses[status] as { description?: string; required?: readonly string[] } | undefined;
      // Another body (/readyz's 503) or the route's own words (MCP's 404) stay as they are.
      if (declared !== undefined && (declared.description !== undefined || declared.required?.[0] !== 'error')) continue;
      const documented = errorResponse(id, status, hasBody);
      const own = Object.values(ERROR_EXAMPLES).some((e) => ERRORS[e.code].status === status && e.routes?.includes(id));
      if (documented && (declared !== undefined || own || hasBody || status === 503)) responses[status] = documented;
    }
    next.response = responses;
  }
  route.schema = next;
}
