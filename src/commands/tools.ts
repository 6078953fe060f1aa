/**
 * `toolsim tools`: the recorded tool schemas, ready for a trainer's tool config; with `--json`,
 * toolsim's own listing (as `GET /v1/tools` gives it) with each tool's learnt output shape.
 */
import { resolveConfig } from '../config.js';
import type { JsonObject } from '../core/types.js';
import { OutputShapes } from '../neighbors/output-shapes.js';
import { toolSchemas } from '../protocols/formats/tool-schemas.js';
import { disagreements, shapeJson } from '../shapes/describe.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

const OPTIONS = ['db', 'toolsFormat', 'server', 'json'] as const;

export const toolsCommand: Command = {
  usage: 'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME] [--json]',
  summary: "print the recorded tool schemas, ready for a trainer's tool config (--json: toolsim's listing with learnt output shapes)",
  options: OPTIONS,
  async run(values) {
    const config = resolveConfig(OPTIONS, values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const tools = store.catalog().filter((t) => config.server === '' || t.server === config.server);
      if (!config.json) {
        process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat), null, 2)}\n`);
        return 0;
      }
      // Learnt here, one tool after another: a command has no requests to keep answering.
      const shapes = new OutputShapes(store, tools, { worker: false });
      const listed: JsonObject[] = [];
      for (const tool of tools) {
        await shapes.ready(tool.server, tool.tool);
        const guide = shapes.guideOf(tool.server, tool.tool)!;
        const entry: JsonObject = { ...(tool as unknown as JsonObject), output_shape: shapeJson(guide.shape) };
        const disagree = disagreements(guide.shape);
        if (disagree.length > 0) entry['output_shape_disagreements'] = disagree;
        if (guide.schemaProblem) entry['output_schema_problem'] = guide.schemaProblem;
        listed.push(entry);
      }
      process.stdout.write(`${JSON.stringify({ tools: listed }, null, 2)}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
