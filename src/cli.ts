#!/usr/bin/env node
/**
 * toolsim's command line: ingest, serve, stats. Flags fall back to environment variables, then to
 * defaults (src/config.ts).
 */
import { parseArgs } from 'node:util';
import { describeOptions, FUZZY_OPTIONS, parseArgsOptions, resolveConfig, type OptionName } from './config.js';
import { createFuzzy } from './fuzzy.js';
import { createMetrics } from './metrics.js';
import { Simulator } from './simulator.js';
import type { RepeatPolicy } from './types.js';
import { ConfigError } from './errors.js';
import { clearProgress, formatNumber, percent, perSecond, progressLine, table, writeProblem } from './format.js';
import { ingest } from './ingest/ingest.js';
import { REPLAY_OPTIONS, replayCommand } from './replay/command.js';
import { SERVE_OPTIONS, serveForever } from './server.js';
import { Store } from './store.js';
import { toolSchemas, type ToolFormat } from './tool-schemas.js';
import { VERSION } from './version.js';

interface Command {
  usage: string;
  summary: string;
  options: readonly OptionName[];
  positionals?: boolean;
  run(values: Record<string, string | boolean | (string | boolean)[] | undefined>, positionals: string[]): Promise<number>;
}

const EXPLAIN_OPTIONS = ['db', 'tool', 'callServer', 'arguments', 'json', 'repeatPolicy', 'neighbors', ...FUZZY_OPTIONS] as const;

const COMMANDS: Record<string, Command> = {
  ingest: {
    usage: 'toolsim ingest FILE... [--db PATH] [--ignore-arg NAME]... [--format auto|toolsim|openai-chat|openai-responses|anthropic|claude-code|mcp-jsonrpc|hermes] [--server NAME]',
    summary: 'add exploration logs or agent transcripts (.jsonl, .json, .gz, - for stdin) to the cache',
    options: ['db', 'ignoreArg', 'ingestFormat', 'server'],
    positionals: true,
    async run(values, files) {
      if (files.length === 0) throw new ConfigError('ingest needs at least one FILE (or - for standard input)');
      const config = resolveConfig(['db', 'ignoreArg', 'ingestFormat', 'server'], values);
      const store = Store.open(config.db);
      try {
        const summary = await ingest({
          store,
          inputs: files,
          ignoreArgs: config.ignoreArg,
          format: config.ingestFormat,
          ...(config.server === '' ? {} : { server: config.server }),
          onProblem: (message) => writeProblem(message),
          onProgress: (p) =>
            progressLine(
              process.stderr,
              `ingest: ${formatNumber(p.lines)} lines, ${formatNumber(p.added)} calls, ${formatNumber(p.rejected)} rejected, ` +
                `${perSecond(p.lines, p.seconds)} lines/s  ${p.input}`,
            ),
        });
        clearProgress(process.stderr);
        const rows: [string, number][] = [
          ['lines read', summary.lines],
          ['calls added', summary.callsAdded],
          ['calls already present', summary.callsPresent],
          ['tool records', summary.toolRecords],
          ['server records', summary.serverRecords],
          ['lines rejected', summary.rejected],
          ['calls without result (not stored)', summary.unpaired],
          ['inputs unreadable or cut short', summary.failedInputs],
          ['calls in cache', summary.totalCalls],
          ['tools in cache', summary.tools],
          ['servers in cache', summary.servers],
        ];
        const formats = Object.entries(summary.formats).map(([input, format]) => `${input}: ${format}`);
        if (formats.length > 0 && Object.values(summary.formats).some((f) => f !== 'toolsim')) process.stdout.write(`formats: ${formats.join(', ')}\n`);
        process.stdout.write(
          `${table(['ingest', 'count'], rows)}\n${summary.seconds.toFixed(2)} s, ` +
            `${perSecond(summary.lines, summary.seconds)} lines/s; cache ${config.db}, snapshot ${summary.snapshotId}\n`,
        );
        return summary.rejected > 0 || summary.failedInputs > 0 ? 1 : 0;
      } finally {
        store.close();
      }
    },
  },
  serve: {
    usage: 'toolsim serve [--db PATH] [--host 127.0.0.1] [--port 8080] [--repeat-policy first|last|most-common]',
    summary: 'answer tool calls over HTTP from the cache',
    options: SERVE_OPTIONS,
    async run(values) {
      await serveForever(resolveConfig(SERVE_OPTIONS, values));
      return -1; // keeps running until a signal
    },
  },
  explain: {
    usage: "toolsim explain --tool NAME [--server NAME] --arguments '{...}' [--db PATH] [--json]",
    summary: 'show the key, tier, neighbours and LLM prompt of a call, without calling the LLM',
    options: EXPLAIN_OPTIONS,
    async run(values) {
      const config = resolveConfig(EXPLAIN_OPTIONS, values);
      if (config.tool === '') throw new ConfigError('explain needs --tool');
      const store = Store.open(config.db, { readonly: true });
      const fuzzy = createFuzzy(config);
      try {
        const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
        const simulator = new Simulator({
          store,
          metrics,
          repeatPolicy: config.repeatPolicy as RepeatPolicy,
          neighbors: config.neighbors,
          fuzzy: fuzzy.tier,
        });
        const explanation = simulator.explain({
          ...(config.callServer === '' ? {} : { server: config.callServer }),
          tool: config.tool,
          arguments: config.arguments,
        });
        if (config.json) {
          process.stdout.write(`${JSON.stringify(explanation, null, 2)}\n`);
          return 0;
        }
        const lines = [
          `call     ${explanation.server} / ${explanation.tool} ${JSON.stringify(explanation.arguments)}`,
          `key      ${explanation.key}`,
          `tier     ${explanation.tier}${explanation.reason ? ` (${explanation.reason})` : ''}${explanation.memoized ? ', memoized' : ''}`,
          `why      ${explanation.why}`,
          '',
          explanation.neighbors.length === 0
            ? 'neighbours: none'
            : table(['similarity', 'arguments'], explanation.neighbors.map((n) => [n.similarity.toFixed(4), JSON.stringify(n.arguments)])),
        ];
        if (explanation.prompt) {
          lines.push('', `prompt (${explanation.prompt.version}, ${explanation.prompt.examples} example(s)); system, cached:`, '', explanation.prompt.system, '', 'user:', '', explanation.prompt.user);
        }
        process.stdout.write(`${lines.join('\n')}\n`);
        return 0;
      } finally {
        fuzzy.close();
        store.close();
      }
    },
  },
  replay: {
    usage: 'toolsim replay FILE... [--url URL | --db PATH] [--json] [--html FILE] [--min-exact 0.9] [--max-miss 0.1] [--max-differ N]',
    summary: 'replay a test set against a server or cache and report its coverage (a gate with --min-exact etc.)',
    options: REPLAY_OPTIONS,
    positionals: true,
    async run(values, files) {
      return replayCommand(resolveConfig(REPLAY_OPTIONS, values), files, values['db'] !== undefined);
    },
  },
  tools: {
    usage: 'toolsim tools [--db PATH] [--format openai|anthropic|mcp] [--server NAME]',
    summary: 'print the recorded tool schemas, ready for a trainer\'s tool config',
    options: ['db', 'toolsFormat', 'server'],
    async run(values) {
      const config = resolveConfig(['db', 'toolsFormat', 'server'], values);
      const store = Store.open(config.db, { readonly: true });
      try {
        const tools = store.catalog().filter((t) => config.server === '' || t.server === config.server);
        process.stdout.write(`${JSON.stringify(toolSchemas(tools, config.toolsFormat as ToolFormat), null, 2)}\n`);
        return 0;
      } finally {
        store.close();
      }
    },
  },
  stats: {
    usage: 'toolsim stats [--db PATH] [--json]',
    summary: 'calls, tools, servers, repeated keys and per-tool coverage of a cache',
    options: ['db', 'json'],
    async run(values) {
      const config = resolveConfig(['db', 'json'], values);
      const store = Store.open(config.db, { readonly: true });
      try {
        const stats = store.stats();
        if (config.json) {
          process.stdout.write(`${JSON.stringify({ db: config.db, snapshot: store.snapshotId, ...stats }, null, 2)}\n`);
          return 0;
        }
        const summary = table(
          ['cache', 'count'],
          [
            ['calls', stats.calls],
            ['distinct calls (keys)', stats.keys],
            ['servers', stats.servers],
            ['tools', stats.tools],
            ['keys recorded once', stats.singleKeys],
            ['keys recorded more than once', stats.repeatedKeys],
            ['... whose outputs disagree', stats.disagreeingKeys],
          ],
        );
        // Coverage per tool: few distinct argument sets, or many seen once, mean a test set will miss.
        const perTool = table(
          ['server', 'tool', 'calls', 'share', 'arg sets', 'seen once', 'repeated', 'disagree', 'calls/set'],
          stats.perTool.map((t) => [
            t.server, t.tool, t.calls, percent(t.calls, stats.calls), t.keys, t.singleKeys, t.repeatedKeys, t.disagreeingKeys,
            t.keys === 0 ? '-' : (t.calls / t.keys).toFixed(1),
          ]),
        );
        const note =
          'arg sets: distinct argument sets (keys); seen once: recorded a single time; disagree: keys whose recorded outputs differ (hidden state)';
        process.stdout.write(`${config.db} (snapshot ${store.snapshotId})\n\n${summary}\n\n${perTool}\n${note}\n`);
        return 0;
      } finally {
        store.close();
      }
    },
  },
};

function help(): string {
  const lines = [`toolsim ${VERSION}: a replay simulator for tool-using agents`, '', 'Commands:'];
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${command.summary}`);
  lines.push('', 'Run `toolsim COMMAND --help` for its options.');
  return lines.join('\n');
}

function commandHelp(command: Command): string {
  return [`usage: ${command.usage}`, '', command.summary, '', 'Options:', describeOptions(command.options)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === 'version') {
    process.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`toolsim: unknown command "${name}"\n\n${help()}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: parseArgsOptions(command.options),
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
    return await command.run(values, positionals);
  } catch (error) {
    const e = error as Error & { code?: string };
    if (error instanceof ConfigError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`toolsim ${name}: ${e.message}\nusage: ${command.usage}\n`);
      return 2;
    }
    process.stderr.write(`toolsim ${name}: ${e.message}\n`);
    return 1;
  }
}

// Output piped into `head` and closed early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`toolsim: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  },
);
