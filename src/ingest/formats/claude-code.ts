/**
 * Claude Code session logs: JSON Lines, one event per line (`{"type": "assistant"|"user", "message":
 * {...}, "sessionId": ...}`). A `tool_use` and its `tool_result` sit on different lines, so calls are
 * paired across the whole file; the session id becomes the trajectory id.
 */
import { anthropicBlocks } from './anthropic.js';
import { Pairing, isObject, str, type Format, type Reader } from './format.js';

export const claudeCode: Format = {
  name: 'claude-code',
  detect(value) {
    return isObject(value) && isObject(value['message']) && typeof value['type'] === 'string' && ('sessionId' in value || 'uuid' in value);
  },
  reader(sink, options): Reader {
    const pairing = new Pairing(sink, 'claude-code');
    return {
      value(value, line) {
        // Summaries, snapshots and other bookkeeping lines carry no tool traffic.
        if (!isObject(value) || !isObject(value['message'])) return;
        const context = { server: str(value['server']), trajectoryId: str(value['sessionId']), options };
        anthropicBlocks(value['message'], pairing, context, sink, line);
      },
      end() {
        pairing.flush();
      },
    };
  },
};
