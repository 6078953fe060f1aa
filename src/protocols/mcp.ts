/**
 * The MCP face of toolsim: `POST /mcp/{server}` speaks Streamable HTTP (stateless, JSON responses)
 * as the recorded server would; `POST /mcp` is one MCP server holding every recorded server's tools
 * (for one-URL clients such as the MCP Inspector). All MCP glue lives here, so a protocol revision
 * is a local change.
 *
 * - `initialize` answers with the server's recorded identity (`serverInfo`, `instructions`).
 * - `tools/list` lists the recorded tool definitions, in catalog order.
 * - `tools/call` goes through the simulator's tiers. An exact hit whose recording is a
 *   CallToolResult is replayed as recorded, byte for byte; other recorded outputs become text
 *   content. A fuzzy answer says so in `_meta["toolsim/tier"]`; a miss is `isError: true` with the
 *   conservative text; an unknown tool is JSON-RPC error -32602.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult, ListToolsResult } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { normalizeName } from '../core/canonical.js';
import { unknownServer } from '../core/closest.js';
import { NotFoundError, ToolsimError } from '../core/errors.js';
import { parseJson } from '../core/json-text.js';
import type { Answer, ToolInfo } from '../core/types.js';
import { VERSION } from '../core/version.js';
import { MAX_NAME_LENGTH, MAX_TRAJECTORY_ID_LENGTH } from '../http/schemas.js';
import type { Simulator } from '../simulator/simulator.js';
import { listsOutputSchema, toolSchemas } from './formats/tool-schemas.js';
import { contentOf, isCallToolResult, loadSdk, type Sdk, truncated } from './mcp-content.js';

/** JSON-RPC error codes (the SDK's ErrorCode), known before the SDK is loaded. */
const INVALID_PARAMS = -32602;
const INTERNAL_ERROR = -32603;

/** `_meta` keys toolsim adds to answers that are not exact replays. */
export const META_TIER = 'toolsim/tier';
export const META_REASON = 'toolsim/reason';
export const META_KEY = 'toolsim/key';
/** `_meta` key of a tools/call request naming the trajectory the task was built from (source scope). */
export const META_SOURCE_TRAJECTORY = 'toolsim/source_trajectory_id';
/** `_meta` key of a tools/call request naming its rollout (otherwise the MCP session names it). */
export const META_TRAJECTORY = 'toolsim/trajectory_id';
/** The MCP session header: toolsim hands one out at `initialize`; a session is a rollout, ended by `DELETE`. */
const SESSION_HEADER = 'mcp-session-id';

/** The scope of the bare `/mcp` (every server); a recorded server name is never empty. */
const ALL = '';

export function registerMcpRoutes(app: FastifyInstance, options: { simulator: () => Simulator }): void {
  const serve = async (request: FastifyRequest, reply: FastifyReply, scope: string): Promise<void> => {
    const simulator = options.simulator();
    const tools = scope === ALL ? simulator.tools : simulator.tools.filter((t) => t.server === scope);
    if (tools.length === 0)
      throw new NotFoundError(
        scope === ALL ? 'no recorded tools' : unknownServer(scope, [...new Set(simulator.tools.map((t) => t.server))].sort()),
      );
    const sdk = await loadSdk();
    const pool = poolOf(simulator, sdk);
    const mcp = pool.acquire(scope, tools);
    // Stateless (no session id generator): a transport per request; nothing of the client is kept
    // but the rollout its session names. The session id is handed out here, at `initialize`.
    const transport = new sdk.StreamableHTTPServerTransport({ enableJsonResponse: true });
    reply.hijack();
    if (initializes(request.body)) reply.raw.setHeader(SESSION_HEADER, randomUUID());
    reply.raw.on('close', () => {
      transport.close().then(
        () => pool.release(scope, mcp),
        () => {},
      );
    });
    try {
      await mcp.connect(transport);
      await transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (error) {
      request.log.error({ err: error }, 'MCP request failed');
      if (!reply.raw.headersSent) {
        reply.raw.writeHead(500, { 'content-type': 'application/json' });
        reply.raw.end(JSON.stringify({ jsonrpc: '2.0', error: { code: INTERNAL_ERROR, message: 'internal error' }, id: null }));
      }
    }
  };
  const responses = {
    200: { description: 'The JSON-RPC response.', type: 'object', additionalProperties: true },
    202: { description: 'Accepted (a notification or response; nothing to answer).' },
    404: { description: 'No such recorded server.', type: 'object', additionalProperties: true },
    406: { description: 'The Accept header does not allow JSON and event streams.', type: 'object', additionalProperties: true },
  };
  const body = {
    description: 'A JSON-RPC request, notification or batch.',
    examples: [{ jsonrpc: '2.0', id: 1, method: 'tools/list' }],
  };

  app.post(
    '/mcp',
    {
      schema: {
        summary: 'MCP endpoint of every recorded server at once (Streamable HTTP, stateless, JSON responses)',
        description:
          'One MCP server holding the tools of every recorded server. A tool name that several servers share is listed, and called, ' +
          'as mcp__<server>__<tool> (the name GET /v1/tools?format=mcp gives it); other tools keep their own name. ' +
          'Clients must accept both application/json and text/event-stream.',
        tags: ['mcp'],
        body,
        response: responses,
      },
    },
    (request, reply) => serve(request, reply, ALL),
  );

  // /servers/{server}/mcp is the same server at a path ending in /mcp: the MCP Inspector (0.15)
  // rewrites any URL that does not end so to /mcp, which would silently be the combined server.
  for (const url of ['/mcp/:server', '/servers/:server/mcp']) {
    app.post<{ Params: { server: string } }>(
      url,
      {
        schema: {
          summary:
            url === '/mcp/:server'
              ? 'MCP endpoint of one recorded server (Streamable HTTP, stateless, JSON responses)'
              : 'The same MCP endpoint of one recorded server, at a path ending in /mcp (for clients such as the MCP Inspector that require it)',
          description:
            'A JSON-RPC message (or batch) of the Model Context Protocol: initialize, tools/list, tools/call, ping. ' +
            'Clients must accept both application/json and text/event-stream, as the MCP transport specifies.',
          tags: ['mcp'],
          params: {
            type: 'object',
            required: ['server'],
            properties: { server: { type: 'string', minLength: 1, examples: ['tau-bench-retail'] } },
          },
          body,
          response: responses,
        },
      },
      (request, reply) => serve(request, reply, normalizeName(request.params.server)),
    );
  }

  // A session's end (DELETE with its Mcp-Session-Id) ends its rollout; nothing else of it is kept.
  for (const url of ['/mcp', '/mcp/:server', '/servers/:server/mcp']) {
    app.delete(
      url,
      { schema: { summary: "End an MCP session: its rollout's state is forgotten (405 without Mcp-Session-Id)", tags: ['mcp'] } },
      async (request, reply) => {
        const session = request.headers[SESSION_HEADER];
        if (typeof session === 'string' && session !== '' && session.length <= MAX_TRAJECTORY_ID_LENGTH) {
          await options
            .simulator()
            .endRollout(session, 'session_closed')
            .catch(() => false);
          return reply.code(204).send();
        }
        return notAllowed(reply);
      },
    );
  }
  // A stateless server offers no event stream (GET).
  for (const url of ['/mcp', '/mcp/:server', '/servers/:server/mcp']) {
    app.route({
      method: ['GET'],
      url,
      schema: { summary: 'Not offered by a stateless MCP server: 405', tags: ['mcp'] },
      handler: async (_request, reply) => notAllowed(reply),
    });
  }
}

const notAllowed = (reply: FastifyReply): FastifyReply =>
  reply
    .code(405)
    .header('allow', 'POST')
    .type('application/json; charset=utf-8')
    .send({
      jsonrpc: '2.0',
      error: { code: -32000, message: 'Method not allowed: this MCP server is stateless; use POST' },
      id: null,
    });

/** Whether a JSON-RPC body (or batch) holds an `initialize` request: its answer carries a new session id. */
function initializes(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some((m) => typeof m === 'object' && m !== null && (m as { method?: unknown }).method === 'initialize');
}

/**
 * Idle MCP servers per recorded server, per simulator (a reload brings a new pool). Building a
 * Server costs milliseconds (its zod schemas), more than answering a call, so each request borrows
 * one, connects it to its own transport, and returns it once the transport is closed.
 */
class ServerPool {
  static readonly MAX_IDLE = 64;
  readonly #simulator: Simulator;
  readonly #sdk: Sdk;
  readonly #idle = new Map<string, Server[]>();

  constructor(simulator: Simulator, sdk: Sdk) {
    this.#simulator = simulator;
    this.#sdk = sdk;
  }

  acquire(server: string, tools: readonly ToolInfo[]): Server {
    return this.#idle.get(server)?.pop() ?? mcpServer(this.#sdk, this.#simulator, server, tools);
  }

  release(server: string, mcp: Server): void {
    const idle = this.#idle.get(server) ?? [];
    this.#idle.set(server, idle);
    if (idle.length < ServerPool.MAX_IDLE) idle.push(mcp);
  }
}

const pools = new WeakMap<Simulator, ServerPool>();

function poolOf(simulator: Simulator, sdk: Sdk): ServerPool {
  let pool = pools.get(simulator);
  if (!pool) pools.set(simulator, (pool = new ServerPool(simulator, sdk)));
  return pool;
}

/**
 * The MCP server of one recorded server (`scope` its name), or of every one (`scope` ALL). Tools keep
 * their recorded names, except, at the bare `/mcp`, a name several servers share: it is listed as
 * `mcp__<server>__<tool>`, the name `GET /v1/tools?format=mcp` gives it.
 */
function mcpServer(sdk: Sdk, simulator: Simulator, scope: string, tools: readonly ToolInfo[]): Server {
  const servers = new Set(tools.map((t) => t.server));
  // One server at the bare /mcp is that server, identity included.
  const single = servers.size === 1 ? [...servers][0]! : undefined;
  const info = single === undefined ? undefined : simulator.snapshot.catalog.serverInfo(single);
  const identity =
    single === undefined
      ? {
          name: 'toolsim',
          version: VERSION,
          instructions: `Recorded tools of ${servers.size} servers (${[...servers].join(', ')}). A tool name several servers share is written mcp__<server>__<tool>.`,
        }
      : { name: info?.name ?? single, version: info?.version ?? `toolsim-${VERSION}`, instructions: info?.instructions };
  const mcp = new sdk.Server(
    { name: identity.name, version: identity.version },
    { capabilities: { tools: {} }, ...(identity.instructions === undefined ? {} : { instructions: identity.instructions }) },
  );
  // The listed tools, in catalog order, as GET /v1/tools?format=mcp gives them (one name per tool,
  // never one name for two tools; annotations, and outputSchema where every recorded answer fits
  // it); a name given back is resolved by the simulator, as on every route.
  const listed = { tools: toolSchemas(tools, 'mcp').tools } as unknown as ListToolsResult;
  mcp.setRequestHandler(sdk.ListToolsRequestSchema, () => listed);
  // Server's own tools/call registration re-parses results through zod, which reorders keys and
  // drops unknown ones; the base Protocol handler sends the recorded result as it is. `arguments`
  // is checked here rather than by the SDK's schema, whose failure would be -32603 with zod's text.
  sdk.Protocol.prototype.setRequestHandler.call(mcp, lenientCallSchema(sdk), async (request, extra) => {
    const { name } = request.params;
    const args: unknown = (request.params as { arguments?: unknown }).arguments;
    if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
      throw rpcError(
        INVALID_PARAMS,
        `"arguments" must be an object of named arguments; got ${Array.isArray(args) ? 'an array' : args === null ? 'null' : `a ${typeof args}`}`,
      );
    }
    // Past the longest name a recording can have, the name is not looked up (nor echoed whole).
    if (name.length > MAX_NAME_LENGTH) throw rpcError(INVALID_PARAMS, `Unknown tool: ${truncated(name)}`);
    // Any name the catalog hands out (mcp__<server>__<tool> included), resolved as every route does.
    const target = scope !== ALL ? { server: scope, tool: name } : { tool: name };
    const source = sourceTrajectoryOf(request.params._meta);
    const rollout = rolloutOf(request.params._meta, extra.requestInfo?.headers[SESSION_HEADER]);
    let answer: Answer;
    try {
      answer = await simulator.resolve({
        ...target,
        arguments: args ?? {},
        ...(source === undefined ? {} : { source_trajectory_id: source }),
        ...(rollout === undefined ? {} : { trajectory_id: rollout }),
      });
    } catch (error) {
      if (error instanceof ToolsimError) throw rpcError(INVALID_PARAMS, error.message);
      throw error;
    }
    if (answer.reason === 'unknown_tool') throw rpcError(INVALID_PARAMS, `Unknown tool: ${name}${similarNames(answer)}`);
    // A tool listed with an outputSchema answers with structuredContent, as a client requires.
    const named = simulator.snapshot.catalog.resolve(name, scope !== ALL ? scope : undefined);
    const record = named.kind === 'tool' ? simulator.snapshot.catalog.tool(named.server, named.tool) : undefined;
    return callToolResult(sdk, answer, record !== undefined && listsOutputSchema(record));
  });
  return mcp;
}

/** The closest known names an unknown-tool answer gives (". Available tools with similar names: ..."), or nothing. */
function similarNames(answer: Answer): string {
  const text = parseJson(answer.outputJson, 'text');
  const at = typeof text === 'string' ? text.indexOf(' Available tools with similar names: ') : -1;
  return at < 0 ? '' : `.${(text as string).slice(at)}`;
}

/** tools/call with `arguments` left unchecked (checked by the handler, with a clear -32602). */
let lenient: Sdk['CallToolRequestSchema'] | undefined;
function lenientCallSchema(sdk: Sdk): Sdk['CallToolRequestSchema'] {
  lenient ??= sdk.CallToolRequestSchema.extend({
    params: sdk.CallToolRequestParamsSchema.omit({ arguments: true }).loose(),
  }) as unknown as Sdk['CallToolRequestSchema'];
  return lenient;
}

/** `_meta["toolsim/source_trajectory_id"]` (or `source_trajectory_id`) of a tools/call, when it is a string. */
function sourceTrajectoryOf(meta: Record<string, unknown> | undefined): string | undefined {
  const value = meta?.[META_SOURCE_TRAJECTORY] ?? meta?.['source_trajectory_id'];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The rollout of a tools/call: `_meta["toolsim/trajectory_id"]` (or `trajectory_id`) when it is a
 * string, else the session's id. Too long a name is refused, as on every other route.
 */
function rolloutOf(meta: Record<string, unknown> | undefined, session: string | string[] | undefined): string | undefined {
  const named = meta?.[META_TRAJECTORY] ?? meta?.['trajectory_id'];
  const id = typeof named === 'string' && named !== '' ? named : typeof session === 'string' && session !== '' ? session : undefined;
  if (id !== undefined && id.length > MAX_TRAJECTORY_ID_LENGTH)
    throw rpcError(
      INVALID_PARAMS,
      `the rollout's name (trajectory_id or Mcp-Session-Id) must NOT have more than ${MAX_TRAJECTORY_ID_LENGTH} characters`,
    );
  return id;
}

/**
 * A JSON-RPC error as the SDK sends it (it reads `code` and `message`). McpError would prefix its
 * message with "MCP error CODE:", which the client then prefixes again.
 */
function rpcError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The MCP result of a simulator answer. `structured`: the tool is listed with an outputSchema, so a
 * successful answer that is a plain JSON object is also its `structuredContent` (a recorded MCP
 * result carries its own).
 */
export function callToolResult(sdk: Sdk, answer: Answer, structured = false): CallToolResult {
  const output = parseJson(answer.outputJson, 'text');
  const structuredContent =
    structured && !answer.isError && typeof output === 'object' && output !== null && !Array.isArray(output)
      ? { structuredContent: output as Record<string, unknown> }
      : {};
  if (answer.tier === 'exact')
    return isCallToolResult(sdk, output)
      ? output
      : { content: contentOf(sdk, output, answer.outputJson), ...structuredContent, isError: answer.isError };
  const meta: Record<string, unknown> = { [META_TIER]: answer.tier, [META_KEY]: answer.match.key };
  if (answer.reason !== undefined) meta[META_REASON] = answer.reason;
  if (answer.tier === 'fuzzy' && isCallToolResult(sdk, output)) return { ...output, _meta: { ...output._meta, ...meta } };
  return { content: contentOf(sdk, output, answer.outputJson), ...structuredContent, isError: answer.isError, _meta: meta };
}
