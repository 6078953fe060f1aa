/** The recorded tools, held in memory: which servers have a tool, what a name means, and names close to a wrong one. */

import type { ToolInfo } from '../core/types.js';
import { editDistance } from '../neighbors/similarity.js';
import { aliasOf, type ResolvedName, splitName, ToolNames } from '../protocols/tool-names.js';
import type { Store } from '../store/store.js';

export class Catalog {
  readonly tools: readonly ToolInfo[];
  /** The names the catalog hands out, and what any name given back means (src/protocols/tool-names.ts). */
  readonly names: ToolNames<ToolInfo>;

  constructor(store: Store) {
    this.tools = store.catalog();
    this.names = new ToolNames(this.tools);
  }

  has(server: string, tool: string): boolean {
    return this.names.has(server, tool);
  }

  hasServer(server: string): boolean {
    return this.names.hasServer(server);
  }

  serversOf(tool: string): readonly string[] {
    return this.names.serversOf(tool);
  }

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
