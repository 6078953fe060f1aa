/**
 * The recorded tools as a trainer's tool config wants them: OpenAI function tools, Anthropic tools,
 * or an MCP `tools/list` result. Pure. A tool name recorded on several servers is written
 * `mcp__<server>__<tool>` (which every route, toolsim's verl-tool adapter and transcript ingest read
 * back); names are given by `listedTools` (tool-names.ts), never one name to two tools.
 */
import type { JsonObject, ToolInfo } from '../../core/types.js';
import { listedTools } from './tool-names.js';

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
  return {
    tools: listedTools(tools).map(({ name, tool: t }) => {
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
