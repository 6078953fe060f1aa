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

/**
 * Whether MCP `tools/list` lists a tool's declared output schema: only when it is an object schema
 * (MCP's `outputSchema` must be; a client refuses a whole tools/list over one that is not) and every
 * recorded successful answer fits it as `structuredContent` (a client rejects a result that does not).
 */
export function listsOutputSchema(tool: ToolInfo): boolean {
  return (
    tool.output_schema !== undefined &&
    tool.output_schema['type'] === 'object' &&
    tool.output_check !== undefined &&
    tool.output_check.misfits === 0
  );
}

/**
 * The tools in one format. Each entry is what that API takes (OpenAI and Anthropic refuse fields
 * they do not know), so the declared output schemas and MCP annotations also go beside the list,
 * under `toolsim`, by listed name; an MCP entry carries its annotations, and its `outputSchema`
 * where `listsOutputSchema`.
 */
export function toolSchemas(tools: readonly ToolInfo[], format: ToolFormat): { tools: JsonObject[]; toolsim?: JsonObject } {
  const records: JsonObject = {};
  let any = false;
  const listed = listedTools(tools).map(({ name, tool: t }) => {
    const schema = objectSchema(t.input_schema);
    const description = t.description === undefined ? {} : { description: t.description };
    if (t.output_schema !== undefined || t.annotations !== undefined) {
      any = true;
      Object.defineProperty(records, name, {
        value: {
          server: t.server,
          tool: t.tool,
          ...(t.output_schema === undefined ? {} : { output_schema: t.output_schema }),
          ...(t.annotations === undefined ? {} : { annotations: t.annotations as JsonObject }),
        },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    switch (format) {
      case 'openai':
        return { type: 'function', function: { name, ...description, parameters: schema } };
      case 'anthropic':
        return { name, ...description, input_schema: schema };
      default:
        return {
          name,
          ...description,
          inputSchema: schema,
          ...(listsOutputSchema(t) ? { outputSchema: t.output_schema! } : {}),
          ...(t.annotations === undefined ? {} : { annotations: t.annotations as JsonObject }),
        };
    }
  });
  return any ? { tools: listed, toolsim: records } : { tools: listed };
}
