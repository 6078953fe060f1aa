/** The recorded tools, held in memory: which servers have a tool, and names close to a wrong one. */

import type { ToolInfo } from '../core/types.js';
import { editDistance } from '../neighbors/similarity.js';
import type { Store } from '../store/store.js';

export class Catalog {
  readonly tools: readonly ToolInfo[];
  readonly #serversByTool = new Map<string, string[]>();
  readonly #known = new Set<string>();
  readonly #servers = new Set<string>();
  readonly #annotations = new Map<string, unknown>();

  constructor(store: Store) {
    this.tools = store.catalog();
    for (const info of this.tools) {
      const { server, tool } = info;
      const servers = this.#serversByTool.get(tool);
      if (servers) servers.push(server);
      else this.#serversByTool.set(tool, [server]);
      this.#known.add(`${server}\0${tool}`);
      const annotations = (info as { annotations?: unknown }).annotations;
      if (annotations !== undefined) this.#annotations.set(`${server}\0${tool}`, annotations);
      this.#servers.add(server);
    }
  }

  /**
   * A tool's MCP annotations as its tool record gave them (anything, or undefined). The catalog's
   * `annotations` field comes with the tool records' annotations; until a record carries them, the
   * write rule reads the tool's name.
   */
  annotationsOf(server: string, tool: string): unknown {
    return this.#annotations.get(`${server}\0${tool}`);
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

  /** Up to `count` recorded tool names closest to `tool`, from `server` when it is known. */
  closestNames(tool: string, server: string | undefined, count = 3): string[] {
    const pool = this.tools.filter((t) => server === undefined || !this.#servers.has(server) || t.server === server);
    const needle = tool.toLowerCase();
    const ranked = [...new Set(pool.map((t) => t.tool))]
      .map((name) => ({ name, distance: editDistance(needle, name.toLowerCase()) }))
      .filter(({ name, distance }) => distance <= Math.max(3, Math.ceil(Math.max(name.length, tool.length) / 2)))
      .sort((a, b) => a.distance - b.distance || (a.name < b.name ? -1 : 1));
    return ranked.slice(0, count).map((r) => r.name);
  }
}
