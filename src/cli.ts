#!/usr/bin/env node
/**
 * toolsim's command line: the table of commands (src/commands/) and their help. Flags fall back to environment variables, then to
 * defaults (src/config.ts).
 */
import { parseArgs } from 'node:util';
import type { Command } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import { describeOptions, parseArgsOptions } from './config.js';
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
