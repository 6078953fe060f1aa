#!/usr/bin/env node
/**
 * toolsim's command line: the table of commands (src/commands/) and their help. Flags fall back to environment variables, then to
 * defaults (src/config.ts).
 */
import { parseArgs } from 'node:util';
import type { Command } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import { describeOptions, OPTIONS, parseArgsOptions } from './config.js';
import { closest } from './core/closest.js';
import { ConfigError } from './core/errors.js';
import { VERSION } from './core/version.js';

function help(): string {
  const lines = [`toolsim ${VERSION}: a replay simulator for tool-using agents`, '', 'Commands:'];
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${command.summary}`);
  lines.push('', 'Run `toolsim COMMAND --help` for its options.');
  return lines.join('\n');
}

function commandHelp(command: Command): string {
  return [`usage: ${command.usage}`, '', command.summary, '', 'Options:', describeOptions(command.options)].join('\n');
}

/** An unknown flag, with the command's closest flags, or the commands whose flag it is. */
function unknownOption(message: string, name: string, command: Command): string {
  const given = /'(-[^'=]*)/.exec(message)?.[1] ?? message;
  const flags = [...command.options.map((o) => OPTIONS[o].flag), 'help'];
  const near = closest(given.replace(/^-+/, ''), flags).map((f) => `--${f}`);
  if (near.length > 0) return `unknown option ${given}; did you mean ${near.join(' or ')}?`;
  const elsewhere = Object.entries(COMMANDS)
    .filter(([, other]) => other.options.some((o) => `--${OPTIONS[o].flag}` === given))
    .map(([other]) => other);
  if (elsewhere.length > 0)
    return `unknown option ${given}: it is an option of ${elsewhere.map((c) => `toolsim ${c}`).join(', ')}, not of toolsim ${name}`;
  return `unknown option ${given}; \`toolsim ${name} --help\` lists its options`;
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
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`toolsim ${name}: ${unknownOption(e.message, name, command)}\nusage: ${command.usage}\n`);
      return 2;
    }
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
