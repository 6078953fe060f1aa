/**
 * A test set as a stream of calls to replay: any log ingest reads (docs/log-format.md, and the
 * agent transcripts of src/protocols/formats/), through the same reader and record parser, with
 * "output" optional (when present it is the expected answer).
 */
import type { Readable } from 'node:stream';
import { inputLabel, readLog } from '../ingest/log-reader.js';
import { parseRecordValue } from '../ingest/record.js';
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
    const label = inputLabel(input);
    const progress = { lines: 0, format: undefined };
    let counted = 0;
    for await (const events of readLog(input, { stdin }, progress)) {
      stats.lines += progress.lines - counted;
      counted = progress.lines;
      for (const event of events) {
        if (event.kind === 'failed') {
          onProblem(event.line === undefined ? `${label}: ${event.reason}` : `${label}:${event.line}: ${event.reason}`);
          stats.failedInputs++;
          continue;
        }
        if (event.kind !== 'record') {
          onProblem(`${label}:${event.line}: ${event.reason}`);
          stats.rejected++;
          continue;
        }
        const parsed = parseRecordValue(event.record, NOTHING_IGNORED, PARSE_OPTIONS);
        if (parsed.kind === 'error') {
          onProblem(`${label}:${event.line}: ${parsed.reason}`);
          stats.rejected++;
        } else if (parsed.kind === 'tool' || parsed.kind === 'server') {
          // Catalog records describe tools and servers; there is nothing to replay in them.
          stats.toolRecords++;
        } else {
          const { row } = parsed;
          // An outage recorded in place of the answer is no answer to compare with.
          if (row.transient && parsed.hasOutput) stats.expectedFailures++;
          yield {
            input: index,
            line: event.line,
            server: row.server,
            tool: row.tool,
            arguments: row.arguments,
            trajectoryId: row.trajectoryId,
            expected: parsed.hasOutput && !row.transient ? { outputJson: row.output, isError: row.isError } : null,
          };
        }
      }
    }
  }
}
