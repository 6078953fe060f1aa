/**
 * Tool output as the MCP SDK shapes it, shared by the protocols that speak it (MCP) or carry its
 * results as text (verl-tool): the SDK itself, loaded once on first use; whether a recorded output
 * is a CallToolResult; its content blocks; its text.
 */
import type { CallToolResult, ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import { parseJson } from '../core/json-text.js';
import { MAX_NAME_LENGTH } from '../http/schemas.js';

/**
 * The SDK, loaded on the first MCP request: its zod schemas cost about 0.4 s of start-up, which a
 * server that is never asked MCP should not pay before it is ready.
 */
export type Sdk = typeof import('@modelcontextprotocol/sdk/server/index.js') &
  typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js') &
  typeof import('@modelcontextprotocol/sdk/shared/protocol.js') &
  typeof import('@modelcontextprotocol/sdk/types.js');
let sdkLoading: Promise<Sdk> | undefined;
export function loadSdk(): Promise<Sdk> {
  return (sdkLoading ??= Promise.all([
    import('@modelcontextprotocol/sdk/server/index.js'),
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/shared/protocol.js'),
    import('@modelcontextprotocol/sdk/types.js'),
  ]).then((modules) => Object.assign({}, ...modules) as Sdk));
}

/** A name cut for an error message: a client's 1 MB name is not echoed back whole. */
export function truncated(name: string): string {
  return name.length > MAX_NAME_LENGTH ? `${name.slice(0, 64)}… (${name.length} characters)` : name;
}

/** A recorded output that already is an MCP tool result (it has a `content` array of valid blocks). */
export function isCallToolResult(sdk: Sdk, value: unknown): value is CallToolResult {
  return (
    typeof value === 'object' &&
    value !== null &&
    Array.isArray((value as { content?: unknown }).content) &&
    sdk.CallToolResultSchema.safeParse(value).success
  );
}

/**
 * An output (JSON text) as plain text for text-only protocols: a string as it is, the text blocks
 * of a CallToolResult (or of an array of content blocks) joined by newlines, other JSON as the
 * recorded JSON text (numbers as written).
 */
export async function outputText(outputJson: string): Promise<string> {
  const output = parseJson(outputJson, 'text');
  if (typeof output === 'string') return output;
  const sdk = await loadSdk();
  const blocks = isCallToolResult(sdk, output)
    ? output.content
    : Array.isArray(output) && output.length > 0
      ? contentOf(sdk, output, outputJson)
      : undefined;
  if (!blocks) return outputJson;
  return blocks.map((b) => (b.type === 'text' ? b.text : JSON.stringify(b))).join('\n');
}

/** Text for a string, the blocks themselves for an array of content blocks, the JSON text (`outputJson`) otherwise. */
export function contentOf(sdk: Sdk, output: unknown, outputJson: string): ContentBlock[] {
  if (typeof output === 'string') return [{ type: 'text', text: output }];
  if (Array.isArray(output) && output.length > 0 && output.every((item) => sdk.ContentBlockSchema.safeParse(item).success))
    return output as ContentBlock[];
  return [{ type: 'text', text: outputJson }];
}
