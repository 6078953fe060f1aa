/** `toolsim tools`: the recorded tool schemas, ready for a trainer's tool config; or which of them write. */
import { resolveConfig } from '../config.js';
import { table } from '../core/format.js';
import { toolSchemas } from '../protocols/formats/tool-schemas.js';
import { WriteRule } from '../rollouts/write-rule.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

const TOOLS_OPTIONS = ['db', 'toolsFormat', 'server', 'writes', 'writeTools', 'readOnlyTools', 'json'] as const;

export const toolsCommand: Command = {
  usage:
    'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME] [--writes [--write-tools RE] [--read-only-tools RE] [--json]]',
  summary: "print the recorded tool schemas, ready for a trainer's tool config (or, with --writes, which tools write)",
  options: TOOLS_OPTIONS,
  async run(values) {
    const config = resolveConfig(TOOLS_OPTIONS, values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const tools = store.catalog().filter((t) => config.server === '' || t.server === config.server);
      if (!config.writes) {
        process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat), null, 2)}\n`);
        return 0;
      }
      // As `serve` decides it (docs/canonical-key.md, "State within a rollout").
      const rule = new WriteRule({ writeTools: config.writeTools, readOnlyTools: config.readOnlyTools });
      const rows = tools.map((t) => {
        const verdict = rule.classify(t.server, t.tool, (t as { annotations?: unknown }).annotations);
        return { server: t.server, tool: t.tool, writes: verdict.writes, rule: verdict.reason, why: verdict.why };
      });
      if (config.json) process.stdout.write(`${JSON.stringify({ tools: rows }, null, 2)}\n`);
      else
        process.stdout.write(
          `${table(
            ['server', 'tool', 'writes', 'why'],
            rows.map((r) => [r.server, r.tool, r.writes ? 'yes' : 'no', r.why]),
          )}\n`,
        );
      return 0;
    } finally {
      store.close();
    }
  },
};
