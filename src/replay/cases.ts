/**
 * A test set as a stream of calls to replay: the exploration-log format (docs/log-format.md), read by the
 * ingest reader and record parser, with "output" optional (when present it is the expected answer).
 */
import type { Readable } from 'node:stream';
import { DEFAULT_MAX_LINE_BYTES, openInput } from '../ingest/ingest.js';
import { readLines } from '../ingest/lines.js';
import { parseRecord } from '../ingest/record.js';
import { transientMatcher } from '../ingest/transient.js';

export interface ReplayCase {
  /** Index into the list of inputs, and the 1-based line number: where the call came from. */
  input: number;
  line: number;
  server: string;
  tool: string;
  /** Canonical JSON of the arguments (nothing dropped: the target applies its own --ignore-arg). */
  arguments: string;
  trajectoryId: string | null;
  /** The recorded answer, when the test set has one. */
  expected: { outputJson: string; isError: boolean } | null;
}

export interface ReadStats {
  lines: number;
  rejected: number;
  toolRecords: number;
  failedInputs: number;
  /** Calls whose recorded output is an infrastructure failure (transient): replayed, never compared. */
  expectedFailures: number;
}

const NOTHING_IGNORED: ReadonlySet<string> = new Set();
const PARSE_OPTIONS = { outputOptional: true, isTransient: transientMatcher() };

/** Yields every call of the inputs in order; bad lines go to `onProblem` as `FILE:LINE: reason`. */
export async function* readCases(
  inputs: readonly string[],
  stats: ReadStats,
  onProblem: (message: string) => void,
  stdin?: Readable,
): AsyncGenerator<ReplayCase> {
  for (const [index, input] of inputs.entries()) {
    const label = input === '-' ? '<stdin>' : input;
    let stream: Readable;
    try {
      stream = openInput(input, stdin);
    } catch (error) {
      onProblem(`${label}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
      stats.failedInputs++;
      continue;
    }
    let lineNumber = 0;
    try {
      for await (const line of readLines(stream, DEFAULT_MAX_LINE_BYTES)) {
        lineNumber = line.number;
        stats.lines++;
        if ('error' in line) {
          onProblem(`${label}:${line.number}: ${line.error}`);
          stats.rejected++;
          continue;
        }
        if (line.text.trim() === '') continue;
        const parsed = parseRecord(line.text, NOTHING_IGNORED, PARSE_OPTIONS);
        if (parsed.kind === 'error') {
          onProblem(`${label}:${line.number}: ${parsed.reason}`);
          stats.rejected++;
        } else if (parsed.kind === 'tool' || parsed.kind === 'server') {
          // Catalog records describe tools and servers; there is nothing to replay in them.
          stats.toolRecords++;
        } else if (parsed.kind === 'call') {
          const { row } = parsed;
          // An outage recorded in place of the answer is no answer to compare with.
          if (row.transient && parsed.hasOutput) stats.expectedFailures++;
          yield {
            input: index,
            line: line.number,
            server: row.server,
            tool: row.tool,
            arguments: row.arguments,
            trajectoryId: row.trajectoryId,
            expected: parsed.hasOutput && !row.transient ? { outputJson: row.output, isError: row.isError } : null,
          };
        }
      }
    } catch (error) {
      onProblem(`${label}:${lineNumber + 1}: input ends here: ${(error as Error).message}`);
      stats.failedInputs++;
    }
  }
}
