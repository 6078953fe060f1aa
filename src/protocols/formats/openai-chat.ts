/**
 * OpenAI Chat Completions transcripts: `{"messages": [...], "tools": [...]}` (or a bare message
 * array). Assistant `tool_calls` pair with `role: "tool"` messages by `tool_call_id`.
 */
import {
  asArray,
  conversationId,
  type Format,
  isObject,
  nativeTool,
  Pairing,
  type Reader,
  type ReaderOptions,
  resolveServer,
  type Sink,
  str,
} from './format.js';

const messagesOf = (value: unknown): unknown[] | undefined =>
  Array.isArray(value) ? value : isObject(value) && Array.isArray(value['messages']) ? value['messages'] : undefined;

/** OpenAI function tools: `{"type": "function", "function": {name, description, parameters}}`. */
export function openAiTools(tools: unknown, server: string | undefined, options: ReaderOptions, sink: Sink, line: number): void {
  for (const tool of asArray(tools)) {
    if (!isObject(tool)) continue;
    const fn = isObject(tool['function']) ? tool['function'] : tool;
    const name = str(fn['name']);
    if (name === undefined) continue;
    const where = resolveServer(name, server, options);
    sink.record(nativeTool(where.server, where.tool, fn['description'], fn['parameters']), line);
  }
}

export const openAiChat: Format = {
  name: 'openai-chat',
  detect(value) {
    const messages = messagesOf(value);
    if (!messages) return false;
    const tools = isObject(value) ? asArray(value['tools']) : [];
    return (
      messages.some((m) => isObject(m) && (Array.isArray(m['tool_calls']) || (m['role'] === 'tool' && 'tool_call_id' in m))) ||
      tools.some((t) => isObject(t) && isObject(t['function']))
    );
  },
  reader(sink, options): Reader {
    return {
      value(value, line) {
        const messages = messagesOf(value);
        if (!messages) {
          sink.problem('not an OpenAI chat transcript (no "messages" array)', line);
          return;
        }
        const meta = isObject(value) ? value : {};
        const server = str(meta['server']);
        const trajectoryId = conversationId(meta);
        openAiTools(meta['tools'], server, options, sink, line);
        const pairing = new Pairing(sink, 'openai-chat');
        for (const message of messages) {
          if (!isObject(message)) continue;
          for (const call of asArray(message['tool_calls'])) {
            if (!isObject(call) || !isObject(call['function'])) continue;
            const id = str(call['id']);
            const name = str(call['function']['name']);
            if (id === undefined || name === undefined) {
              sink.problem('a tool call without "id" or "function.name"; not stored', line);
              continue;
            }
            pairing.call(id, {
              ...resolveServer(name, server, options),
              arguments: call['function']['arguments'] ?? {},
              trajectoryId,
              line,
            });
          }
          if (message['role'] === 'tool') {
            const id = str(message['tool_call_id']);
            if (id === undefined) sink.problem('a tool message without "tool_call_id"; not stored', line);
            else pairing.result(id, message['content'] ?? '', false, line, message['transient']);
          }
        }
        pairing.flush();
      },
      end() {},
    };
  },
};
