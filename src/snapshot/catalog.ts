/**
 * The recorded tools of one snapshot, read from the store once: each tool's record (server, name,
 * description, input schema, calls; a field added to `ToolInfo` and to the store's catalog rows is
 * here for every reader), each server's recorded identity, which servers have a tool, the names
 * it hands out and what a name given back means (src/core/tool-names.ts), and the names closest to
 * a wrong one.
 */

import { type ToolId, toolId } from '../core/tool-id.js';
import { aliasOf, type ResolvedName, splitName, ToolNames } from '../core/tool-names.js';
import type { ToolInfo } from '../core/types.js';
import { editDistance } from '../neighbors/similarity.js';

/** A server's identity as recorded (MCP `initialize`): name, version, instructions. */
export interface ServerIdentity {
  name?: string;
  version?: string;
  instructions?: string;
}

/** What the catalog is read from (the Store). */
export interface CatalogSource {
  catalog(): ToolInfo[];
  serverInfo(server: string): ServerIdentity | undefined;
}

export class Catalog {
  /** Every tool, in catalog order (server, then name). */
  readonly tools: readonly ToolInfo[];
  /** Every server that has a tool, in catalog order. */
  readonly servers: readonly string[];
  readonly #byId = new Map<ToolId, ToolInfo>();
  readonly #serversByTool = new Map<string, string[]>();
  readonly #serverInfo = new Map<string, ServerIdentity>();
  readonly #servers: ReadonlySet<string>;
  /** The names the catalog hands out, and what any name given back means, on every route. */
  readonly names: ToolNames<ToolInfo>;

  constructor(source: CatalogSource) {
    this.tools = source.catalog();
    this.names = new ToolNames(this.tools);
    const servers = new Set<string>();
    for (const info of this.tools) {
      const { server, tool } = info;
      const list = this.#serversByTool.get(tool);
      if (list) list.push(server);
      else this.#serversByTool.set(tool, [server]);
      this.#byId.set(toolId(server, tool), info);
      servers.add(server);
    }
    this.servers = [...servers];
    this.#servers = servers;
    for (const server of this.servers) {
      const info = source.serverInfo(server);
      if (info) this.#serverInfo.set(server, info);
    }
  }

  /** The record of one tool, or undefined when it was never recorded. */
  tool(server: string, tool: string): ToolInfo | undefined {
    return this.#byId.get(toolId(server, tool));
  }

  has(server: string, tool: string): boolean {
    return this.#byId.has(toolId(server, tool));
  }

  hasServer(server: string): boolean {
    return this.#servers.has(server);
  }

  /** The identity recorded for a server, if any. */
  serverInfo(server: string): ServerIdentity | undefined {
    return this.#serverInfo.get(server);
  }

  serversOf(tool: string): readonly string[] {
    return this.#serversByTool.get(tool) ?? [];
  }

  /** What a tool name given by a client (with or without a server) means. */
  resolve(name: string, server?: string): ResolvedName {
    return this.names.resolve(name, server);
  }

  /**
   * Up to `count` names closest to `tool`, each one a route accepts: of a known `server`, its tools'
   * own names; for an `mcp__<server>__<tool>` name of a known server, that server's tools in the
   * same form; otherwise the names the catalog lists (matched by the tool's own name too, so that
   * `get_user_detail` finds `mcp__retail__get_user_details`).
   */
  closestNames(tool: string, server: string | undefined, count = 3): string[] {
    const named = splitName(tool).server;
    const pool: { name: string; plain: string }[] =
      server !== undefined && this.hasServer(server)
        ? this.tools.filter((t) => t.server === server).map((t) => ({ name: t.tool, plain: t.tool }))
        : server === undefined && named !== undefined && this.hasServer(named)
          ? this.tools.filter((t) => t.server === named).map((t) => ({ name: aliasOf(t.server, t.tool), plain: aliasOf(t.server, t.tool) }))
          : this.names.listed.map((l) => ({ name: l.name, plain: l.tool.tool }));
    const needle = tool.toLowerCase();
    const best = new Map<string, number>();
    for (const { name, plain } of pool) {
      const distance = Math.min(editDistance(needle, name.toLowerCase()), editDistance(needle, plain.toLowerCase()));
      if (distance > Math.max(3, Math.ceil(Math.max(plain.length, tool.length) / 2))) continue;
      best.set(name, Math.min(distance, best.get(name) ?? distance));
    }
    return [...best]
      .sort(([a, da], [b, db]) => da - db || (a < b ? -1 : 1))
      .slice(0, count)
      .map(([name]) => name);
  }
}
