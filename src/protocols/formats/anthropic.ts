/**
 * Anthropic Messages transcripts: `{"messages": [...], "tools": [...]}` (or a bare message array).
 * `tool_use` blocks pair with `tool_result` blocks by id; `mcp_tool_use` blocks name their server.
 */
import {
  asArray,
  conversationId,
  type Format,
  isObject,
  nativeTool,
  Pairing,
  type Reader,
  resolveServer,
  type Sink,
  str,
} from './format.js';

const messagesOf = (value: unknown): unknown[] | undefined =>
  Array.isArray(value) ? value : isObject(value) && Array.isArray(value['messages']) ? value['messages'] : undefined;

const blocksOf = (message: unknown): Record<string, unknown>[] => (isObject(message) ? asArray(message['content']).filter(isObject) : []);

const CALLS = new Set(['tool_use', 'mcp_tool_use']);
const RESULTS = new Set(['tool_result', 'mcp_tool_result']);

/** Reads the tool blocks of one message list into `pairing` (Claude Code shares this). */
export function anthropicBlocks(
  message: unknown,
  pairing: Pairing,
  context: { server: string | undefined; trajectoryId: string | undefined; options: { server?: string | undefined } },
  sink: Sink,
  line: number,
): void {
  for (const block of blocksOf(message)) {
    const type = block['type'];
    if (typeof type === 'string' && CALLS.has(type)) {
      const id = str(block['id']);
      const name = str(block['name']);
      if (id === undefined || name === undefined) {
        sink.problem(`a ${type} block without "id" or "name"; not stored`, line);
        continue;
      }
      const server = str(block['server_name']) ?? context.server;
      pairing.call(id, {
        ...resolveServer(name, server, context.options),
        arguments: block['input'] ?? {},
        trajectoryId: context.trajectoryId,
        line,
      });
    } else if (typeof type === 'string' && RESULTS.has(type)) {
      const id = str(block['tool_use_id']);
      if (id === undefined) sink.problem(`a ${type} block without "tool_use_id"; not stored`, line);
      else pairing.result(id, block['content'] ?? '', block['is_error'] === true, line, block['transient']);
    }
  }
}

export const anthropic: Format = {
  name: 'anthropic',
  detect(value) {
    const messages = messagesOf(value);
    if (!messages) return false;
    const tools = isObject(value) ? asArray(value['tools']) : [];
    return (
      messages.some((m) => blocksOf(m).some((b) => CALLS.has(String(b['type'])) || RESULTS.has(String(b['type'])))) ||
      tools.some((t) => isObject(t) && 'input_schema' in t)
    );
  },
  reader(sink, options): Reader {
    return {
      value(value, line) {
        const messages = messagesOf(value);
        if (!messages) {
          sink.problem('not an Anthropic transcript (no "messages" array)', line);
          return;
        }
        const meta = isObject(value) ? value : {};
        const server = str(meta['server']);
        for (const tool of asArray(meta['tools'])) {
          const name = isObject(tool) ? str(tool['name']) : undefined;
          if (name === undefined || !isObject(tool)) continue;
          const where = resolveServer(name, server, options);
          sink.record(nativeTool(where.server, where.tool, tool['description'], tool['input_schema']), line);
        }
        const pairing = new Pairing(sink, 'anthropic');
        const context = { server, trajectoryId: conversationId(meta), options };
        for (const message of messages) anthropicBlocks(message, pairing, context, sink, line);
        pairing.flush();
      },
      end() {},
    };
  },
};
