/**
 * Tool names as agents' protocols spell them, in one place: the name each recorded tool is listed
 * under (`GET /v1/tools`, MCP `tools/list`, `toolsim tools`), and the tool a name given back to any
 * route means. A tool is listed under its own name when no other server records that name, else as
 * `mcp__<server>__<tool>` (the form Claude Code and Anthropic's MCP connector use).
 *
 * Such a name must never mean two tools, nor another server's tool than the one it names:
 * - ingest refuses a server name holding `__` and a tool name starting `mcp__` (`nameProblem`);
 * - a cache written before that may still hold them: a listing never gives one name to two tools
 *   (the first in catalog order, a server without `__` first, keeps it; the others are left out
 *   and reported in `collisions`), and a tool literally named `mcp__<server>__<tool>` is listed as
 *   `mcp__<its server>__<its name>`, so it never stands in for `<server>`'s tool;
 * - `resolve` reads an `mcp__<server>__<tool>` name as that server's tool or as no tool, never as a
 *   tool recorded under that literal name on another server.
 */
import type { ToolInfo } from '../core/types.js';

export const ALIAS_PREFIX = 'mcp__';

/** `mcp__<server>__<tool>` names (Claude Code, Anthropic MCP) carry their server. */
export function splitName(name: string): { server?: string; tool: string } {
  const match = /^mcp__(.+?)__(.+)$/s.exec(name);
  return match ? { server: match[1]!, tool: match[2]! } : { tool: name };
}

export function aliasOf(server: string, tool: string): string {
  return `${ALIAS_PREFIX}${server}__${tool}`;
}

/** Why ingest refuses this server or tool name (it would make `mcp__` names ambiguous or spoofable), or undefined. */
export function nameProblem(server: string, tool: string | undefined): string | undefined {
  if (server.includes('__'))
    return `server name ${JSON.stringify(server)} holds "__", which separates server and tool in mcp__<server>__<tool> names; name the server without it`;
  if (tool?.startsWith(ALIAS_PREFIX))
    return `tool name ${JSON.stringify(tool)} starts with "${ALIAS_PREFIX}", which names another server's tool (mcp__<server>__<tool>); put the server in "server" and the tool's own name in "tool"`;
  return undefined;
}

export interface NamedTool {
  readonly server: string;
  readonly tool: string;
}

/** What a name given to a route means. */
export type ResolvedName =
  | { kind: 'tool'; server: string; tool: string }
  /** A plain name several servers record: the caller must name one (each is listed as `names[i]`). */
  | { kind: 'ambiguous'; servers: string[]; names: string[] }
  | { kind: 'unknown' };

export class ToolNames<T extends NamedTool = NamedTool> {
  /** The listed tools, in catalog order, with their names (unique). */
  readonly listed: readonly { name: string; tool: T }[];
  /** Names that several tools would have had; all but `tools[0]` are left out of listings. */
  readonly collisions: readonly { name: string; tools: readonly T[] }[];
  readonly #byName = new Map<string, T>();
  readonly #known = new Set<string>();
  readonly #servers = new Set<string>();
  readonly #serversByTool = new Map<string, string[]>();

  constructor(tools: readonly T[]) {
    for (const t of tools) {
      this.#known.add(`${t.server}\0${t.tool}`);
      this.#servers.add(t.server);
      const servers = this.#serversByTool.get(t.tool);
      if (servers) servers.push(t.server);
      else this.#serversByTool.set(t.tool, [t.server]);
    }
    const wanted = new Map<string, T[]>();
    for (const t of tools) {
      const plain = !t.tool.startsWith(ALIAS_PREFIX) && this.#serversByTool.get(t.tool)!.length === 1;
      const name = plain ? t.tool : aliasOf(t.server, t.tool);
      const holders = wanted.get(name);
      if (holders) holders.push(t);
      else wanted.set(name, [t]);
    }
    const keep = new Set<T>();
    const collisions: { name: string; tools: T[] }[] = [];
    for (const [name, holders] of wanted) {
      // The tool whose server has no "__" is the one the name reads as; the others were ingested before names were checked.
      const ordered = [...holders.filter((t) => !t.server.includes('__')), ...holders.filter((t) => t.server.includes('__'))];
      keep.add(ordered[0]!);
      this.#byName.set(name, ordered[0]!);
      if (ordered.length > 1) collisions.push({ name, tools: ordered });
    }
    this.collisions = collisions;
    this.listed = tools.flatMap((t) => {
      if (!keep.has(t)) return [];
      const plain = !t.tool.startsWith(ALIAS_PREFIX) && this.#serversByTool.get(t.tool)!.length === 1;
      return [{ name: plain ? t.tool : aliasOf(t.server, t.tool), tool: t }];
    });
  }

  has(server: string, tool: string): boolean {
    return this.#known.has(`${server}\0${tool}`);
  }

  hasServer(server: string): boolean {
    return this.#servers.has(server);
  }

  serversOf(tool: string): readonly string[] {
    return this.#serversByTool.get(tool) ?? [];
  }

  /**
   * The tool `name` means, given by a client with or without a server: a listed name, a tool's own
   * name (on the given server, or on the only server that records it), or `mcp__<server>__<tool>`
   * of a tool of that server (listed or not). With a server, a name that names another server is
   * no tool of it.
   */
  resolve(name: string, server?: string): ResolvedName {
    const split = splitName(name);
    if (server !== undefined) {
      if (this.has(server, name)) return { kind: 'tool', server, tool: name };
      const listed = this.#byName.get(name);
      if (listed?.server === server) return { kind: 'tool', server, tool: listed.tool };
      if (split.server === server && this.has(server, split.tool)) return { kind: 'tool', server, tool: split.tool };
      return { kind: 'unknown' };
    }
    const listed = this.#byName.get(name);
    if (listed) return { kind: 'tool', server: listed.server, tool: listed.tool };
    if (split.server !== undefined) {
      // Only the named server's tool: never one recorded under this literal name elsewhere.
      return this.has(split.server, split.tool) ? { kind: 'tool', server: split.server, tool: split.tool } : { kind: 'unknown' };
    }
    const servers = this.serversOf(name);
    if (servers.length === 1) return { kind: 'tool', server: servers[0]!, tool: name };
    if (servers.length > 1) return { kind: 'ambiguous', servers: [...servers], names: servers.map((s) => aliasOf(s, name)) };
    return { kind: 'unknown' };
  }
}

/** The listed tools of `tools`, each with its name (see `ToolNames`). */
export function listedTools<T extends ToolInfo>(tools: readonly T[]): readonly { name: string; tool: T }[] {
  return new ToolNames(tools).listed;
}
