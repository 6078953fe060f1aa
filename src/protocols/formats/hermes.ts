/**
 * Hermes / Qwen function-calling transcripts: ShareGPT `{"conversations": [{"from", "value"}]}` or
 * `{"messages": [{"role", "content"}]}` whose text holds `<tool_call>` and `<tool_response>` blocks,
 * with tool definitions in a `tools` field or a `<tools>` block of the system turn. The format has
 * no call ids, so responses pair with the conversation's waiting calls in order (by name when the
 * response names its tool).
 */
import { parseJson } from '../../core/json-text.js';
import {
  conversationId,
  type Format,
  isObject,
  nativeCall,
  type PendingCall,
  type Reader,
  type ReaderOptions,
  resolveServer,
  type Sink,
  str,
} from './format.js';
import { openAiTools } from './openai-chat.js';
import { parseToolCalls, taggedBlocks } from './tool-call-text.js';

const MODEL_ROLES = new Set(['gpt', 'assistant', 'model']);

interface Turn {
  role: string;
  text: string;
}

function turnsOf(value: unknown): Turn[] | undefined {
  const list = isObject(value) ? (Array.isArray(value['conversations']) ? value['conversations'] : value['messages']) : value;
  if (!Array.isArray(list)) return undefined;
  return list.filter(isObject).map((t) => ({
    role: str(t['from']) ?? str(t['role']) ?? '',
    text: str(t['value']) ?? str(t['content']) ?? '',
  }));
}

function toolDefinitions(
  value: unknown,
  turns: Turn[],
  server: string | undefined,
  options: ReaderOptions,
  sink: Sink,
  line: number,
): void {
  const field = isObject(value) ? value['tools'] : undefined;
  const lists: unknown[] = [];
  if (typeof field === 'string') lists.push(field);
  else if (field !== undefined) lists.push(field);
  for (const turn of turns) if (turn.role === 'system') lists.push(...taggedBlocks(turn.text, 'tools'));
  for (const list of lists) {
    let parsed: unknown = list;
    if (typeof list === 'string') {
      try {
        parsed = JSON.parse(list);
      } catch {
        // Hermes prompts sometimes list one JSON object per line instead of an array.
        parsed = list.split('\n').flatMap((l) => {
          try {
            return [JSON.parse(l) as unknown];
          } catch {
            return [];
          }
        });
      }
    }
    openAiTools(Array.isArray(parsed) ? parsed : [parsed], server, options, sink, line);
  }
}

export const hermes: Format = {
  name: 'hermes',
  detect(value) {
    const turns = turnsOf(value);
    return turns?.some((t) => t.text.includes('<tool_call>') || t.text.includes('<tool_response>')) ?? false;
  },
  reader(sink, options): Reader {
    return {
      value(value, line) {
        const turns = turnsOf(value);
        if (!turns) {
          sink.problem('not a Hermes transcript (no "conversations" or "messages" array)', line);
          return;
        }
        const meta = isObject(value) ? value : {};
        const server = str(meta['server']);
        const trajectoryId = conversationId(meta);
        toolDefinitions(value, turns, server, options, sink, line);
        const waiting: PendingCall[] = [];
        for (const turn of turns) {
          // System prompts describe the tags (`within <tool_call></tool_call> XML tags`); only the model calls.
          if (turn.role === 'system') continue;
          const calls = MODEL_ROLES.has(turn.role) ? parseToolCalls(turn.text) : [];
          for (const block of calls) {
            if (!block.ok) sink.problem(`${block.reason}; not stored`, line);
            else waiting.push({ ...resolveServer(block.call.name, server, options), arguments: block.call.arguments, trajectoryId, line });
          }
          for (const body of taggedBlocks(turn.text, 'tool_response')) {
            const response = responseOf(body);
            const index =
              response.name === undefined ? 0 : waiting.findIndex((c) => c.tool === resolveServer(response.name!, server, options).tool);
            const call = waiting[index];
            if (index < 0 || !call) {
              sink.unpaired(
                `a <tool_response>${response.name ? ` of ${response.name}` : ''} with no call waiting for it; not stored`,
                line,
              );
              continue;
            }
            waiting.splice(index, 1);
            sink.record(nativeCall(call, response.output, false, 'hermes'), line);
          }
        }
        for (const call of waiting) sink.unpaired(`call of ${call.tool} has no <tool_response>; not stored`, line);
      },
      end() {},
    };
  },
};

/** `{"name": ..., "content": ...}` as Hermes writes responses, or the bare text. */
function responseOf(body: string): { name?: string; output: unknown } {
  try {
    const parsed = parseJson(body, 'text');
    if (isObject(parsed) && typeof parsed['name'] === 'string' && 'content' in parsed)
      return { name: parsed['name'], output: parsed['content'] };
    return { output: parsed };
  } catch {
    return { output: body };
  }
}
