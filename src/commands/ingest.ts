/** `toolsim ingest`: exploration logs and transcripts into the cache, with a progress line and a summary table. */
import { resolveConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { clearProgress, formatNumber, perSecond, progressLine, table, writeProblem } from '../core/format.js';
import { type IngestProgress, ingestInto } from '../ingest/ingest.js';
import { completion, formatBytes } from '../ingest/progress.js';
import type { Command } from './command.js';

/** The progress line: with a share and the time left when every input's size is known. */
export function ingestProgressText(p: IngestProgress): string {
  const done = completion(p.bytes, p.totalBytes, p.seconds);
  const share = done ? `${done.percent} of ${formatBytes(p.totalBytes!)}, ETA ${done.eta}; ` : '';
  return (
    `ingest: ${share}${formatNumber(p.lines)} lines, ${formatNumber(p.added)} calls, ${formatNumber(p.rejected)} rejected, ` +
    `${perSecond(p.lines, p.seconds)} lines/s  ${p.input}`
  );
}

export const ingestCommand: Command = {
  usage:
    'toolsim ingest FILE... [--db PATH] [--ignore-arg NAME]... [--transient-pattern REGEX]... [--format auto|toolsim|openai-chat|openai-responses|anthropic|claude-code|mcp-jsonrpc|hermes] [--server NAME]',
  summary: 'add exploration logs or agent transcripts (.jsonl, .json, .gz, - for stdin) to the cache',
  options: ['db', 'ignoreArg', 'transientPattern', 'ingestFormat', 'ingestServer'],
  positionals: true,
  async run(values, files) {
    if (files.length === 0) throw new ConfigError('ingest needs at least one FILE (or - for standard input)');
    const config = resolveConfig(['db', 'ignoreArg', 'transientPattern', 'ingestFormat', 'ingestServer'], values);
    let summary: Awaited<ReturnType<typeof ingestInto>>;
    try {
      summary = await ingestInto(config.db, {
        inputs: files,
        ignoreArgs: config.ignoreArg,
        transientPatterns: config.transientPattern,
        format: config.ingestFormat,
        ...(config.ingestServer === '' ? {} : { server: config.ingestServer }),
        onProblem: (message) => writeProblem(message),
        onProgress: (p) => progressLine(process.stderr, ingestProgressText(p)),
      });
    } catch (error) {
      clearProgress(process.stderr);
      // An ingest commits once, at its end: a failed one has written nothing.
      process.stderr.write(
        `toolsim ingest: ${(error as Error).message}\nnothing was added: the cache ${config.db} is as it was before this ingest\n`,
      );
      return 1;
    }
    clearProgress(process.stderr);
    const rows: [string, number][] = [
      ['lines read', summary.lines],
      ['calls added', summary.callsAdded],
      ['calls already present', summary.callsPresent],
      ['recorded failures read (transient)', summary.transient],
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
    if (formats.length > 0 && Object.values(summary.formats).some((f) => f !== 'toolsim'))
      process.stdout.write(`formats: ${formats.join(', ')}\n`);
    process.stdout.write(
      `${table(['ingest', 'count'], rows)}\n${summary.seconds.toFixed(2)} s, ` +
        `${perSecond(summary.lines, summary.seconds)} lines/s; cache ${config.db}, snapshot ${summary.snapshotId}\n`,
    );
    return summary.rejected > 0 || summary.failedInputs > 0 ? 1 : 0;
  },
};
