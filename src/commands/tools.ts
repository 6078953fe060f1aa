/** `toolsim tools`: the recorded tool schemas, ready for a trainer's tool config. */
import { resolveConfig } from '../config.js';
import { toolSchemas } from '../protocols/formats/tool-schemas.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

export const toolsCommand: Command = {
  usage: 'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME]',
  summary: "print the recorded tool schemas, ready for a trainer's tool config",
  options: ['db', 'toolsFormat', 'server'],
  async run(values) {
    const config = resolveConfig(['db', 'toolsFormat', 'server'], values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const tools = store.catalog().filter((t) => config.server === '' || t.server === config.server);
      process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat), null, 2)}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
