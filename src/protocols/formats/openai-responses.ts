/**
 * OpenAI Responses transcripts: items `{"type": "function_call", call_id, name, arguments}` and
 * `{"type": "function_call_output", call_id, output}`, in `input`, `output` or `items` arrays (or a
 * bare item array). A call and its output are often in different request/response records, so
 * they are paired across the whole file. Remote MCP items (`mcp_call`, `mcp_list_tools`) carry their
 * server label and, for calls, their own output.
 */
import {
  asArray,
  conversationId,
  type Format,
  isObject,
  nativeCall,
  nativeTool,
  Pairing,
  type Reader,
  resolveServer,
  str,
} from './format.js';
import { openAiTools } from './openai-chat.js';

const ITEM_TYPES = new Set(['function_call', 'function_call_output', 'mcp_call', 'mcp_list_tools']);

function itemsOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (!isObject(value)) return [];
  if (isObject(value['type']) || typeof value['type'] === 'string') return [value];
  return [...asArray(value['input']), ...asArray(value['output']), ...asArray(value['items'])];
}

export const openAiResponses: Format = {
  name: 'openai-responses',
  detect(value) {
    if (itemsOf(value).some((item) => isObject(item) && ITEM_TYPES.has(String(item['type'])))) return true;
    const tools = isObject(value) ? asArray(value['tools']) : [];
    return tools.some((t) => isObject(t) && t['type'] === 'function' && typeof t['name'] === 'string');
  },
  reader(sink, options): Reader {
    const pairing = new Pairing(sink, 'openai-responses');
    return {
      value(value, line) {
        const meta = isObject(value) && !('type' in value) ? value : {};
        const server = str(meta['server']);
        const trajectoryId = conversationId(meta);
        openAiTools(meta['tools'], server, options, sink, line);
        for (const item of itemsOf(value)) {
          if (!isObject(item)) continue;
          switch (item['type']) {
            case 'function_call': {
              const id = str(item['call_id']);
              const name = str(item['name']);
              if (id === undefined || name === undefined) {
                sink.problem('a function_call without "call_id" or "name"; not stored', line);
                break;
              }
              pairing.call(id, { ...resolveServer(name, server, options), arguments: item['arguments'] ?? {}, trajectoryId, line });
              break;
            }
            case 'function_call_output': {
              const id = str(item['call_id']);
              if (id === undefined) sink.problem('a function_call_output without "call_id"; not stored', line);
              else pairing.result(id, item['output'] ?? '', false, line, item['transient']);
              break;
            }
            case 'mcp_call': {
              const name = str(item['name']);
              const failed = item['error'] !== undefined && item['error'] !== null;
              if (name === undefined) {
                sink.problem('an mcp_call without "name"; not stored', line);
              } else if (!failed && (item['output'] === undefined || item['output'] === null)) {
                sink.unpaired(`mcp_call of ${name} has no output; not stored`, line);
              } else {
                const where = resolveServer(name, str(item['server_label']) ?? server, options);
                const call = { ...where, arguments: item['arguments'] ?? {}, trajectoryId };
                sink.record(nativeCall(call, failed ? item['error'] : item['output'], failed, 'openai-responses'), line);
              }
              break;
            }
            case 'mcp_list_tools':
              for (const tool of asArray(item['tools'])) {
                const name = isObject(tool) ? str(tool['name']) : undefined;
                if (name === undefined || !isObject(tool)) continue;
                const where = resolveServer(name, str(item['server_label']) ?? server, options);
                sink.record(
                  nativeTool(where.server, where.tool, tool['description'], tool['input_schema'] ?? tool['inputSchema'], {
                    outputSchema: tool['output_schema'] ?? tool['outputSchema'],
                    annotations: tool['annotations'],
                  }),
                  line,
                );
              }
              break;
          }
        }
      },
      end() {
        pairing.flush();
      },
    };
  },
};
