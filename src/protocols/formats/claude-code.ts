/**
 * Claude Code session logs: JSON Lines, one event per line (`{"type": "assistant"|"user", "message":
 * {...}, "sessionId": ...}`). A `tool_use` and its `tool_result` sit on different lines, so calls are
 * paired across the whole file; the session id becomes the trajectory id.
 */
import { anthropicBlocks } from './anthropic.js';
import { type Format, isObject, Pairing, type Reader, str } from './format.js';

export const claudeCode: Format = {
  name: 'claude-code',
  detect(value) {
    // Message lines carry a session id; a session file may open with a summary line instead.
    if (!isObject(value) || typeof value['type'] !== 'string') return false;
    return (
      (isObject(value['message']) && ('sessionId' in value || 'uuid' in value)) || (value['type'] === 'summary' && 'leafUuid' in value)
    );
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
