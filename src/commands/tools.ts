/**
 * `toolsim tools`: the recorded tool schemas, ready for a trainer's tool config; with `--json`,
 * toolsim's own listing (as `GET /v1/tools` gives it) with each tool's learnt output shape and
 * whether it writes; with `--writes`, which tools write and why.
 */
import { resolveConfig } from '../config.js';
import { unknownServer } from '../core/closest.js';
import { table } from '../core/format.js';
import { ToolNames } from '../core/tool-names.js';
import type { JsonObject } from '../core/types.js';
import { OutputShapes } from '../neighbors/output-shapes.js';
import { toolSchemas } from '../protocols/formats/tool-schemas.js';
import { WriteRule } from '../rollouts/write-rule.js';
import { disagreements, shapeJson } from '../shapes/describe.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

const TOOLS_OPTIONS = ['db', 'toolsFormat', 'toolsServer', 'writes', 'writeTools', 'readOnlyTools', 'json'] as const;

export const toolsCommand: Command = {
  usage:
    'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME] [--json] [--writes] [--write-tools RE] [--read-only-tools RE]',
  summary:
    "print the recorded tool schemas, ready for a trainer's tool config (--json: toolsim's listing with learnt output shapes; --writes: which tools write)",
  options: TOOLS_OPTIONS,
  async run(values) {
    const config = resolveConfig(TOOLS_OPTIONS, values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const catalog = store.catalog();
      const servers = [...new Set(catalog.map((t) => t.server))].sort();
      if (config.toolsServer !== '' && !servers.includes(config.toolsServer)) {
        process.stderr.write(`toolsim tools: ${unknownServer(config.toolsServer, servers)}\n`);
        return 1;
      }
      const tools = catalog.filter((t) => config.toolsServer === '' || t.server === config.toolsServer);
      // As `serve` decides it (docs/canonical-key.md, "State within a rollout").
      const rule = new WriteRule({ writeTools: config.writeTools, readOnlyTools: config.readOnlyTools });
      const writes = (t: (typeof tools)[number]) => rule.classify(t.server, t.tool, (t as { annotations?: unknown }).annotations);
      if (config.writes) {
        const rows = tools.map((t) => {
          const verdict = writes(t);
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
      }
      if (!config.json) {
        process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat), null, 2)}\n`);
        // A cache ingested before names were checked may hold tools that would share one name.
        for (const { name, tools: sharing } of new ToolNames(tools).collisions)
          process.stderr.write(
            `toolsim tools: ${sharing.length} tools would be named ${name} (${sharing.map((t) => `${t.server}/${t.tool}`).join(', ')}); only ${sharing[0]!.server}/${sharing[0]!.tool} is listed\n`,
          );
        return 0;
      }
      // Learnt here, one tool after another: a command has no requests to keep answering.
      const shapes = new OutputShapes(store, tools, { worker: false });
      const listed: JsonObject[] = [];
      for (const tool of tools) {
        await shapes.ready(tool.server, tool.tool);
        const guide = shapes.guideOf(tool.server, tool.tool)!;
        const verdict = writes(tool);
        const entry: JsonObject = {
          ...(tool as unknown as JsonObject),
          writes: { writes: verdict.writes, why: verdict.why },
          output_shape: shapeJson(guide.shape),
        };
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
