/**
 * docs/cli.md, generated from the command table and src/config.ts's OPTIONS so that it cannot
 * drift from them (a test compares the committed file). Run directly (`npm run docs`), it writes
 * the file.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OPTIONS, type OptionName, type OptionSpec } from '../config.js';
import { COMMANDS } from './index.js';

const cell = (text: string): string => text.replaceAll('|', '\\|');

function defaultOf(spec: OptionSpec): string {
  const value = spec.default;
  if (spec.secret || value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) return 'none';
  return `\`${Array.isArray(value) ? value.join(',') : String(value)}\``;
}

function flagOf(spec: OptionSpec): string {
  if (spec.kind === 'boolean') return `\`--${spec.flag}\``;
  return `\`--${spec.flag} ${spec.kind === 'list' ? 'NAME' : 'VALUE'}\``;
}

function describe(spec: OptionSpec): string {
  const choices = spec.choices
    ? `; one of ${spec.choices
        .filter((c) => c !== '')
        .map((c) => `\`${c}\``)
        .join(', ')}`
    : '';
  const number = spec.kind === 'integer' ? 'a whole number' : 'a number';
  const range =
    spec.min !== undefined && spec.max !== undefined
      ? `; ${number} from ${spec.min} to ${spec.max}`
      : spec.min !== undefined
        ? `; ${number}, at least ${spec.min}`
        : spec.max !== undefined
          ? `; ${number}, at most ${spec.max}`
          : '';
  const secret = spec.secret ? '; secret: never printed' : '';
  return cell(`${spec.help}${choices}${range}${secret}`);
}

export function cliReference(): string {
  const lines = [
    '# Command line',
    '',
    '<!-- Generated from src/commands/ and src/config.ts by `npm run docs`; edit those, not this file. -->',
    '',
    '`npx toolsim COMMAND [FILE...] [--flag VALUE]...` (or `node dist/src/cli.js COMMAND ...`). `toolsim --help` lists the',
    'commands, `toolsim COMMAND --help` the options of one, `toolsim --version` the version.',
    '',
    '- Every option is read from, in order: its flag, its environment variable (when it has one), its default. An',
    '  empty environment variable counts as unset. A list option takes its flag once per value, or its environment',
    '  variable as comma-separated values.',
    '- An environment variable has one meaning, for one option: a variable set for one command never changes what',
    '  another does (`TOOLSIM_INGEST_SERVER` names the server of ingested transcripts; `toolsim tools --server`, a',
    '  filter, has no variable).',
    '- Values are checked once, at start-up; a bad one stops the command with a message that names the flag or the',
    '  variable. An unknown flag is answered with the closest flags of the command (`--prot`: did you mean `--port`?),',
    '  or the commands that have it; a cache file that does not exist, with the commands that make one.',
    '- Exit status: `0` success; `1` the command ran but failed (a rejected line or unreadable input in `ingest` or',
    '  `replay`, a failed `replay` gate, any runtime error); `2` a usage error (no or unknown command, unknown flag,',
    '  invalid value, missing argument). `serve` runs until `SIGTERM` or `SIGINT`, then closes gracefully and exits 0;',
    '  `SIGHUP` makes it reload the cache.',
    '',
    '| command | what it does |',
    '| --- | --- |',
  ];
  for (const [name, command] of Object.entries(COMMANDS)) lines.push(`| [\`${name}\`](#toolsim-${name}) | ${cell(command.summary)} |`);
  for (const [name, command] of Object.entries(COMMANDS)) {
    lines.push(
      '',
      `## toolsim ${name}`,
      '',
      `${command.summary[0]!.toUpperCase()}${command.summary.slice(1)}.`,
      '',
      '```',
      command.usage,
      '```',
      '',
    );
    lines.push('| flag | environment | default | |', '| --- | --- | --- | --- |');
    for (const option of command.options) {
      const spec: OptionSpec = OPTIONS[option];
      lines.push(`| ${flagOf(spec)} | ${spec.env ? `\`${spec.env}\`` : ''} | ${defaultOf(spec)} | ${describe(spec)} |`);
    }
  }
  lines.push('', '## Environment variables', '', '| variable | flag | used by |', '| --- | --- | --- |');
  const byEnv = new Map<string, { flag: string; commands: string[] }>();
  for (const [name, command] of Object.entries(COMMANDS)) {
    for (const option of command.options as readonly OptionName[]) {
      const spec: OptionSpec = OPTIONS[option];
      if (!spec.env) continue;
      const entry = byEnv.get(spec.env) ?? { flag: spec.flag, commands: [] };
      if (!entry.commands.includes(name)) entry.commands.push(name);
      byEnv.set(spec.env, entry);
    }
  }
  for (const [env, { flag, commands }] of [...byEnv].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    lines.push(`| \`${env}\` | \`--${flag}\` | ${commands.join(', ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const path = new URL('../../../docs/cli.md', import.meta.url);
  writeFileSync(path, cliReference());
  process.stdout.write(`wrote ${path.pathname}\n`);
}
