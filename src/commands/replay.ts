/** `toolsim replay FILE...`: options to a target, the replay, then the report and the gates. */
import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type Config, resolveConfig } from '../config.js';
import { ConfigError } from '../core/errors.js';
import { clearProgress, formatNumber, perSecond, progressLine, writeProblem } from '../core/format.js';
import { createMetrics } from '../core/metrics.js';
import { checkGates } from '../replay/gates.js';
import { reportHtml } from '../replay/html.js';
import { replay } from '../replay/replay.js';
import { HttpTarget, type ReplayTarget, SimulatorTarget } from '../replay/targets.js';
import { reportText } from '../replay/text.js';
import { Simulator } from '../simulator/simulator.js';
import { Store } from '../store/store.js';
import type { Command } from './command.js';

export const REPLAY_OPTIONS = [
  'db',
  'url',
  'repeatPolicy',
  'lruSize',
  'json',
  'html',
  'batch',
  'concurrency',
  'minExact',
  'maxMiss',
  'maxFuzzy',
  'maxDiffer',
] as const;
export type ReplayConfig = Config<(typeof REPLAY_OPTIONS)[number]>;

/** Runs the replay and prints the report; the exit code is 1 when a gate fails or a line was rejected. */
export async function runReplay(config: ReplayConfig, files: readonly string[], dbGiven: boolean): Promise<number> {
  if (files.length === 0) throw new ConfigError('replay needs at least one FILE (or - for standard input)');
  const { url } = config;
  if (url !== undefined && dbGiven) throw new ConfigError('give --url (a running server) or --db (a cache file), not both');

  // Fail before the replay, not after it, when the page cannot be written.
  if (config.html !== undefined) {
    try {
      accessSync(dirname(resolve(config.html)), constants.W_OK);
    } catch {
      throw new ConfigError(`--html ${config.html}: its folder does not exist or is not writable`);
    }
  }
  let store: Store | undefined;
  let target: ReplayTarget;
  if (url !== undefined) {
    target = new HttpTarget(url);
  } else {
    store = Store.open(config.db, { readonly: true });
    const metrics = createMetrics({ cacheCalls: () => 0, processMetrics: false });
    const simulator = new Simulator({ store, metrics, repeatPolicy: config.repeatPolicy, lruSize: config.lruSize });
    target = new SimulatorTarget(simulator, config.db);
  }
  try {
    const report = await replay({
      inputs: files,
      target,
      batchSize: config.batch,
      concurrency: config.concurrency,
      onProblem: (message) => writeProblem(message),
      onProgress: (p) =>
        progressLine(
          process.stderr,
          `replay: ${formatNumber(p.calls)} calls, ${formatNumber(p.exact)} exact, ${formatNumber(p.fuzzy)} fuzzy, ${formatNumber(p.miss)} miss, ` +
            `${perSecond(p.calls, p.seconds)} calls/s`,
        ),
    });
    clearProgress(process.stderr);
    report.gates = checkGates(report, {
      minExact: config.minExact,
      maxMiss: config.maxMiss,
      maxFuzzy: config.maxFuzzy,
      maxDiffer: config.maxDiffer,
    });
    if (config.html !== undefined) writeFileSync(config.html, reportHtml(report));
    process.stdout.write(config.json ? `${JSON.stringify(report, null, 2)}\n` : `${reportText(report)}\n`);
    const failed = report.gates.filter((g) => !g.passed);
    for (const g of failed) process.stderr.write(`toolsim replay: gate ${g.gate} failed\n`);
    if (config.html !== undefined && !config.json) process.stdout.write(`HTML report: ${config.html}\n`);
    return failed.length > 0 || report.rejected > 0 || report.failedInputs > 0 ? 1 : 0;
  } finally {
    store?.close();
  }
}

export const replayCommand: Command = {
  usage: 'toolsim replay FILE... [--url URL | --db PATH] [--json] [--html FILE] [--min-exact 0.9] [--max-miss 0.1] [--max-differ N]',
  summary: 'replay a test set against a server or cache and report its coverage (a gate with --min-exact etc.)',
  options: REPLAY_OPTIONS,
  positionals: true,
  async run(values, files) {
    return runReplay(resolveConfig(REPLAY_OPTIONS, values), files, values['db'] !== undefined);
  },
};
