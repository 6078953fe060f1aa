/**
 * The recorded tools of one snapshot, read from the store once: each tool's record (server, name,
 * description, input schema, calls; a field added to `ToolInfo` and to the store's catalog rows is
 * here for every reader), each server's recorded identity, which servers have a tool, and the
 * names closest to a wrong one.
 */

import { type ToolId, toolId } from '../core/tool-id.js';
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

  constructor(source: CatalogSource) {
    this.tools = source.catalog();
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

  /** Up to `count` recorded tool names closest to `tool`, from `server` when it is known. */
  closestNames(tool: string, server: string | undefined, count = 3): string[] {
    const pool = this.tools.filter((t) => server === undefined || !this.hasServer(server) || t.server === server);
    const needle = tool.toLowerCase();
    const ranked = [...new Set(pool.map((t) => t.tool))]
      .map((name) => ({ name, distance: editDistance(needle, name.toLowerCase()) }))
      .filter(({ name, distance }) => distance <= Math.max(3, Math.ceil(Math.max(name.length, tool.length) / 2)))
      .sort((a, b) => a.distance - b.distance || (a.name < b.name ? -1 : 1));
    return ranked.slice(0, count).map((r) => r.name);
  }
}
