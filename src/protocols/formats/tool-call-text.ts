/**
 * Hermes / Qwen style tool calls written in model text: `<tool_call>{"name": ..., "arguments":
 * {...}}</tool_call>` blocks. Pure; shared by transcript ingest and the verl-tool adapter.
 */
import { measureJson } from '../../core/json-size.js';
import { parseJson } from '../../core/json-text.js';

export interface TextToolCall {
  name: string;
  /** An object, or a JSON string of one, as the model wrote it. */
  arguments: unknown;
  /** The server the block names (`"server"` beside `"name"`, as verl-tool's MCP examples write it). */
  server?: string;
}

export type ParsedBlock = { ok: true; call: TextToolCall } | { ok: false; reason: string };

/** Nesting a counted block may have (as a request body). */
const MAX_BLOCK_DEPTH = 128;

const BLOCK = /<tool_call>([\s\S]*?)(?:<\/tool_call>|$)/g;

/**
 * Keys and array items the blocks may hold, all together, shared by several `parseToolCalls` (one
 * request's actions): each block is counted before it is parsed and takes its share. Once a block
 * does not fit, `exceeded` is set and nothing more is parsed.
 */
export interface KeyBudget {
  left: number;
  exceeded: boolean;
}

/** Every `<tool_call>` block in `text`, in order; a block that is not a call gives its reason. */
export function parseToolCalls(text: string, budget?: KeyBudget): ParsedBlock[] {
  const out: ParsedBlock[] = [];
  for (const match of text.matchAll(BLOCK)) {
    const closed = match[0].endsWith('</tool_call>');
    if (!closed) {
      out.push({ ok: false, reason: '<tool_call> is not closed by </tool_call>' });
      continue;
    }
    const body = match[1]!.trim();
    if (budget) {
      const entries = budget.exceeded ? undefined : measureJson(body, { depth: MAX_BLOCK_DEPTH, entries: budget.left });
      if (typeof entries === 'object' && entries.kind === 'depth') {
        out.push({ ok: false, reason: `<tool_call> nests arrays and objects deeper than ${MAX_BLOCK_DEPTH} levels` });
        continue;
      }
      if (typeof entries !== 'number') {
        budget.exceeded = true;
        return out;
      }
      budget.left -= entries;
    }
    out.push(parseCallJson(body));
  }
  return out;
}

function parseCallJson(body: string): ParsedBlock {
  let value: unknown;
  try {
    value = parseJson(body, 'value');
  } catch (error) {
    return { ok: false, reason: `<tool_call> does not hold JSON (${(error as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: '<tool_call> must hold a JSON object' };
  const record = value as Record<string, unknown>;
  const name = record['name'];
  if (typeof name !== 'string' || name.length === 0) return { ok: false, reason: '<tool_call> needs a non-empty string "name"' };
  const server = record['server'];
  if (server !== undefined && (typeof server !== 'string' || server.length === 0))
    return { ok: false, reason: '<tool_call> "server" must be a non-empty string' };
  const call: TextToolCall = { name, arguments: record['arguments'] ?? record['parameters'] ?? {} };
  if (server !== undefined) call.server = server;
  return { ok: true, call };
}

/** The bodies of `<tag>...</tag>` blocks in `text`, trimmed, in order. */
export function taggedBlocks(text: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}>([\\s\\S]*?)</${tag}>`, 'g');
  return [...text.matchAll(pattern)].map((m) => m[1]!.trim());
}
