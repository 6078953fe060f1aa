/**
 * Every error a client can see: its stable code, its HTTP status and when it happens, in one table.
 * Routes throw the classes below; src/http/errors.ts turns them, and the HTTP framework's own
 * errors, into `{"error": {"code", "message"}}`. docs/http-api.md lists the same table (a test
 * holds the two equal).
 *
 * A call the simulator cannot answer is not an error: it is a 200 with `tier: "miss"` and a miss
 * reason (MISS_REASONS in types.ts). MCP's JSON-RPC error codes are another vocabulary again
 * (src/protocols/mcp.ts).
 */
export const ERRORS = {
  invalid_request: {
    status: 400,
    when: "the body, path or query string does not match the route's schema (a missing field, a wrong type, a name too long); in a batch, that item's result",
  },
  invalid_json: { status: 400, when: 'the body is not valid JSON' },
  invalid_utf8: { status: 400, when: 'the body is not valid UTF-8' },
  empty_body: { status: 400, when: 'the body is empty (or only whitespace) where a JSON body is expected' },
  forbidden_key: {
    status: 400,
    when: 'the body has a key named `__proto__` (however it is escaped), or a `constructor` key holding `prototype`',
  },
  too_deep: { status: 400, when: 'the body nests arrays and objects deeper than 128 levels (checked before it is parsed)' },
  too_many_keys: {
    status: 400,
    when: 'the body, a JSON string of arguments in it, or the `<tool_call>` blocks of one verl-tool request hold more keys and array items (all levels together) than `--max-body-keys` (checked before they are parsed)',
  },
  invalid_arguments: {
    status: 400,
    when: '`arguments` is not an object or a JSON string of one, nests deeper than 64 levels, has two keys that are one after NFC normalization, or holds a number whose exponent has more than 15 digits',
  },
  ambiguous_tool: { status: 400, when: 'no `server` was given and several recorded servers have the tool' },
  batch_too_large: {
    status: 400,
    when: 'a batch holds more calls (or verl-tool actions) than `--max-batch`, or the `<tool_call>` blocks of one verl-tool request, all actions together, are more than `--max-batch`',
  },
  response_too_large: {
    status: 400,
    when: 'the answer to one `POST /v1/calls` or `POST /get_observation` would be larger than `--max-response-mb`; send fewer calls or actions at once',
  },
  length_mismatch: { status: 400, when: 'the parallel arrays of a `POST /get_observation` body have different lengths' },
  invalid_content_length: { status: 400, when: 'the body is not as long as its `Content-Length` header says' },
  invalid_url: { status: 400, when: 'the URL cannot be decoded (bad percent-encoding, e.g. `/v1/%E0%A4%A`)' },
  invalid_http: {
    status: 400,
    when: "the request is not valid HTTP (Node's parser): e.g. two `Content-Length` headers, or `Content-Length` with `Transfer-Encoding`; the connection is closed",
  },
  bad_request: { status: 400, when: "any other client error the HTTP framework reports; the status is the framework's (a 4xx)" },
  unauthorized: { status: 401, when: 'an `/admin/*` request without `Authorization: Bearer TOKEN` carrying the configured admin token' },
  not_found: {
    status: 404,
    when: 'no route has this method and path, or `/mcp/{server}`, `/servers/{server}/mcp` or `GET /v1/tools?server=` names a server the cache has not recorded (the message names the closest recorded ones)',
  },
  request_timeout: {
    status: 408,
    when: 'the request (headers and body) was not received within `--request-timeout-ms`; the connection is closed',
  },
  body_too_large: { status: 413, when: 'the body is larger than `--body-limit`' },
  uri_too_long: { status: 414, when: 'a path parameter (`{server}`, `{tool}`, a rollout `{id}`) is longer than 100 characters' },
  unsupported_media_type: { status: 415, when: "the body's content type is not `application/json`, or its charset is not UTF-8" },
  headers_too_large: { status: 431, when: "the request's headers are larger than Node's limit (16 KiB); the connection is closed" },
  internal_error: { status: 500, when: 'a bug: anything unexpected (it is logged); a malformed request never causes it' },
  overloaded: { status: 503, when: 'the event loop lags past `--max-event-loop-delay`: retry after the `Retry-After` delay' },
  storage_unavailable: {
    status: 503,
    when: 'the cache file could not be read (damaged or unreadable under the server); only the calls that touched it fail, and `/readyz` answers 503 from then on',
  },
  state_unavailable: {
    status: 503,
    when: "`GET` or `DELETE /v1/rollouts/{id}` while the rollouts' PostgreSQL (`--memo-url`) cannot be reached; retry after the `Retry-After` delay",
  },
  shutting_down: { status: 503, when: 'the server is shutting down (`SIGTERM`); sent with `Retry-After` and `Connection: close`' },
} as const satisfies Record<string, { status: number; when: string }>;

export type ErrorCode = keyof typeof ERRORS;
/** The codes whose status is 400. */
export type BadRequestCode = { [C in ErrorCode]: (typeof ERRORS)[C]['status'] extends 400 ? C : never }[ErrorCode];

/** Every error a client can see; its status comes from ERRORS. */
export class ToolsimError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
    this.statusCode = ERRORS[code].status;
  }
}

/** The request is malformed: wrong types, bad JSON, arguments that are not an object. */
export class BadRequestError extends ToolsimError {
  constructor(code: BadRequestCode, message: string) {
    super(code, message);
  }
}

/** The tool name is recorded on several servers and the request did not say which. */
export class AmbiguousToolError extends ToolsimError {
  constructor(tool: string, servers: readonly string[], names: readonly string[] = []) {
    super(
      'ambiguous_tool',
      `tool "${tool}" exists on several servers (${servers.join(', ')}); name one in "server"` +
        (names.length > 0 ? `, or call it by its listed name (${names.join(', ')})` : ''),
    );
  }
}

/** A route or resource that does not exist. */
export class NotFoundError extends ToolsimError {
  constructor(message: string) {
    super('not_found', message);
  }
}

/** The cache file could not be read while serving (damaged, truncated, an I/O error). */
export class StorageError extends ToolsimError {
  constructor(message: string) {
    super('storage_unavailable', message);
  }
}

/** A configuration value is invalid; thrown at start-up, never while serving. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}
