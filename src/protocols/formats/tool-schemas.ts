/**
 * The recorded tools as a trainer's tool config wants them: OpenAI function tools, Anthropic tools,
 * or an MCP `tools/list` result. Pure. A tool name recorded on several servers is written
 * `mcp__<server>__<tool>` (which toolsim's verl-tool adapter and transcript ingest read back).
 */
import type { JsonObject, ToolInfo } from '../../core/types.js';

export const TOOL_FORMATS = ['openai', 'anthropic', 'mcp'] as const;
export type ToolFormat = (typeof TOOL_FORMATS)[number];

const DEFAULT_SCHEMA: JsonObject = { type: 'object' };

/**
 * A tool's input schema as the formats require it: an object schema. A recorded schema that leaves
 * `type` out gets `"type": "object"` (MCP clients refuse a whole tools/list over one such tool).
 */
export function objectSchema(schema: JsonObject | undefined): JsonObject {
  if (schema === undefined) return DEFAULT_SCHEMA;
  return schema['type'] === 'object' ? schema : { ...schema, type: 'object' };
}

export function toolSchemas(tools: readonly ToolInfo[], format: ToolFormat): { tools: JsonObject[] } {
  const servers = new Map<string, Set<string>>();
  for (const t of tools) servers.set(t.tool, (servers.get(t.tool) ?? new Set()).add(t.server));
  return {
    tools: tools.map((t) => {
      const name = (servers.get(t.tool)?.size ?? 0) > 1 ? `mcp__${t.server}__${t.tool}` : t.tool;
      const schema = objectSchema(t.input_schema);
      const description = t.description === undefined ? {} : { description: t.description };
      switch (format) {
        case 'openai':
          return { type: 'function', function: { name, ...description, parameters: schema } };
        case 'anthropic':
          return { name, ...description, input_schema: schema };
        default:
          return { name, ...description, inputSchema: schema };
      }
    }),
  };
}
