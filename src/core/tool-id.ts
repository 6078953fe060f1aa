/**
 * One tool's identity inside toolsim: its server and its name, joined so that no two pairs meet
 * (names may hold any character, `\0` included, so the pair is written as a JSON array). Every
 * per-tool map (the catalog, the neighbour index, the eligibility shapes, the fuzzy tier's tool
 * records, the ingest writer's counts, replay's report) keys by it.
 */

/** A `toolId(server, tool)`: a string no other (server, tool) pair gives. */
export type ToolId = string & { readonly __toolId: unique symbol };

export function toolId(server: string, tool: string): ToolId {
  return JSON.stringify([server, tool]) as ToolId;
}
