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
    boundHeapGrowth();
    await serveForever(resolveConfig(SERVE_OPTIONS, values));
    return -1; // keeps running until a signal
  },
};
