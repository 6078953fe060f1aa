/** `toolsim replay FILE...`: options to a target, the replay, then the report and the gates. */
import { accessSync, constants, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Config } from '../config.js';
import { ConfigError } from '../errors.js';
import { clearProgress, formatNumber, perSecond, progressLine, writeProblem } from '../format.js';
import { createMetrics } from '../metrics.js';
import { Simulator } from '../simulator.js';
import { Store } from '../store.js';
import type { RepeatPolicy } from '../types.js';
import { checkGates } from './gates.js';
import { reportHtml } from './html.js';
import { replay } from './replay.js';
import { reportText } from './text.js';
import { HttpTarget, SimulatorTarget, type ReplayTarget } from './targets.js';

export const REPLAY_OPTIONS = [
  'db', 'url', 'repeatPolicy', 'cacheSize', 'json', 'html', 'batch', 'concurrency', 'minExact', 'maxMiss', 'maxFuzzy', 'maxDiffer',
] as const;
export type ReplayConfig = Config<(typeof REPLAY_OPTIONS)[number]>;

/** Runs the replay and prints the report; the exit code is 1 when a gate fails or a line was rejected. */
export async function replayCommand(config: ReplayConfig, files: readonly string[], dbGiven: boolean): Promise<number> {
  if (files.length === 0) throw new ConfigError('replay needs at least one FILE (or - for standard input)');
  const url: string | undefined = config.url;
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
    const simulator = new Simulator({ store, metrics, repeatPolicy: config.repeatPolicy as RepeatPolicy, cacheSize: config.cacheSize });
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
    report.gates = checkGates(report, { minExact: config.minExact, maxMiss: config.maxMiss, maxFuzzy: config.maxFuzzy, maxDiffer: config.maxDiffer });
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
