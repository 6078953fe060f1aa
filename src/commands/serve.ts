/** `toolsim serve`: answer tool calls over HTTP until a signal. */
import { resolveConfig } from '../config.js';
import { SERVE_OPTIONS, serveForever } from '../server.js';
import type { Command } from './command.js';
import { boundHeapGrowth } from './heap.js';

export const serveCommand: Command = {
  usage: 'toolsim serve [--db PATH] [--host 127.0.0.1] [--port 8080] [--repeat-policy first|last|most-common]',
  summary: 'answer tool calls over HTTP from the cache',
  options: SERVE_OPTIONS,
  async run(values) {
    const config = resolveConfig(SERVE_OPTIONS, values);
    // Only a server that improvises: its long runs keep promoting and evicting answers and prompts.
    // One that only replays keeps V8's own heap growth, and its exact answers the CPU that a tighter
    // heap costs them (src/commands/heap.ts).
    if (config.fuzzy === 'on' || (config.fuzzy === 'auto' && config.apiKey !== '')) boundHeapGrowth();
    await serveForever(config);
    return -1; // keeps running until a signal
  },
};
