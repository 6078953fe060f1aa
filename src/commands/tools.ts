/** `toolsim tools`: the recorded tool schemas, ready for a trainer's tool config. */
import { resolveConfig } from '../config.js';
import { unknownServer } from '../core/closest.js';
import { toolSchemas } from '../protocols/formats/tool-schemas.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

export const toolsCommand: Command = {
  usage: 'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME]',
  summary: "print the recorded tool schemas, ready for a trainer's tool config",
  options: ['db', 'toolsFormat', 'toolsServer'],
  async run(values) {
    const config = resolveConfig(['db', 'toolsFormat', 'toolsServer'], values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const catalog = store.catalog();
      const servers = [...new Set(catalog.map((t) => t.server))].sort();
      if (config.toolsServer !== '' && !servers.includes(config.toolsServer)) {
        process.stderr.write(`toolsim tools: ${unknownServer(config.toolsServer, servers)}\n`);
        return 1;
      }
      const tools = catalog.filter((t) => config.toolsServer === '' || t.server === config.toolsServer);
      process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat), null, 2)}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
