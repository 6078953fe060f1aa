/**
 * Streams exploration logs into the store: bounded memory (one batch plus a small counter per
 * distinct record of the current input), one transaction for the whole ingest (the cache goes
 * from one complete snapshot to the next, or stays as it was), every bad line reported and skipped.
 *
 * Three parts: the sources (log-reader.ts: inputs, formats, native records), the records
 * (`Recorder`: native records to rows, counted), the batches (`Batches`: rows to the writer).
 */
import { existsSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { NativeRecord } from '../protocols/formats/format.js';
import { formatNamed } from '../protocols/formats/index.js';
import { IngestLock } from '../store/ingest-lock.js';
import type { CallRow, IngestWriter, ToolRow } from '../store/ingest-writer.js';
import { Store } from '../store/store.js';
import { inputLabel, type LogEvent, type LogProgress, readLog } from './log-reader.js';
import { inputSize } from './progress.js';
import { type ParseOptions, parseRecordValue } from './record.js';
import { transientMatcher } from './transient.js';

export interface IngestOptions {
  store: Store;
  /** Paths; `-` reads `stdin`. */
  inputs: readonly string[];
  ignoreArgs?: readonly string[];
  /** Regular expressions of recorded infrastructure failures, beside the built-in ones (transient.ts). */
  transientPatterns?: readonly string[];
  /** A format name of src/protocols/formats, or `auto` (the default): detected per input. */
  format?: string;
  /** The server of transcript calls whose tool names and records do not name one. */
  server?: string;
  stdin?: Readable;
  batchSize?: number;
  maxLineBytes?: number;
  /** Called with `FILE:LINE: reason` for each rejected line or unreadable input. */
  onProblem?: (message: string) => void;
  /** Called about every `progressEveryMs` while lines are read. */
  onProgress?: (progress: IngestProgress) => void;
  progressEveryMs?: number;
}

export interface IngestProgress {
  input: string;
  lines: number;
  added: number;
  rejected: number;
  seconds: number;
  /** Bytes read of all inputs and their total, when every input's size is known (src/ingest/progress.ts). */
  bytes?: number;
  totalBytes?: number;
}

export interface IngestSummary {
  inputs: number;
  lines: number;
  callsAdded: number;
  callsPresent: number;
  /** Calls read that are recorded infrastructure failures (declared or recognized). */
  transient: number;
  toolRecords: number;
  rejected: number;
  /** Transcript calls without a result (and results without a call): reported, never stored. */
  unpaired: number;
  /** Server identities recorded (MCP `initialize` answers). */
  serverRecords: number;
  /** The format read from each input, by its label. */
  formats: Record<string, string>;
  /** Inputs that could not be read to the end (missing file, corrupt gzip). */
  failedInputs: number;
  tools: number;
  servers: number;
  totalCalls: number;
  seconds: number;
  snapshotId: string;
}

/** Rows on their way to the writer, written `size` at a time. */
class Batches {
  calls: CallRow[] = [];
  tools: ToolRow[] = [];
  added = 0;
  present = 0;
  readonly #writer: IngestWriter;
  readonly #size: number;

  constructor(writer: IngestWriter, size: number) {
    this.#writer = writer;
    this.#size = size;
  }

  call(row: CallRow): void {
    this.calls.push(row);
    if (this.calls.length + this.tools.length >= this.#size) this.flush();
  }

  tool(row: ToolRow): void {
    this.tools.push(row);
    if (this.calls.length + this.tools.length >= this.#size) this.flush();
  }

  flush(): void {
    if (this.calls.length === 0 && this.tools.length === 0) return;
    const result = this.#writer.writeBatch(this.calls, this.tools);
    this.added += result.added;
    this.present += result.present;
    this.calls = [];
    this.tools = [];
  }
}

/** The records of one input: native records parsed into rows, each counted in the summary. */
class Recorder {
  /**
   * Identical records within one input are distinct observations; each is numbered by a 48-bit
   * prefix of its record hash (a rare collision only shifts an ordinal, deterministically).
   */
  readonly #ordinals = new Map<number, number>();
  /** Transcripts repeat their tool list in every conversation; one copy per input is enough. */
  readonly #toolsSeen = new Set<string>();

  constructor(
    readonly label: string,
    readonly summary: IngestSummary,
    readonly batches: Batches,
    readonly writer: IngestWriter,
    readonly ignored: ReadonlySet<string>,
    readonly parseOptions: ParseOptions,
    readonly report: (message: string) => void,
  ) {}

  event(event: LogEvent): void {
    const { summary, label } = this;
    switch (event.kind) {
      case 'record':
        this.#record(event.record, event.line, event.format);
        return;
      case 'problem':
        this.report(`${label}:${event.line}: ${event.reason}`);
        summary.rejected++;
        return;
      case 'unpaired':
        this.report(`${label}:${event.line}: ${event.reason}`);
        summary.unpaired++;
        return;
      case 'failed':
        this.report(event.line === undefined ? `${label}: ${event.reason}` : `${label}:${event.line}: ${event.reason}`);
        summary.failedInputs++;
        return;
    }
  }

  #record(native: NativeRecord, line: number, format: string | undefined): void {
    const { summary } = this;
    const parsed = parseRecordValue(native, this.ignored, this.parseOptions);
    if (parsed.kind === 'error') {
      this.report(`${this.label}:${line}: ${parsed.reason}`);
      summary.rejected++;
    } else if (parsed.kind === 'tool') {
      const id = JSON.stringify(parsed.row);
      if (format !== 'toolsim' && this.#toolsSeen.has(id)) return;
      this.#toolsSeen.add(id);
      summary.toolRecords++;
      this.batches.tool(parsed.row);
    } else if (parsed.kind === 'server') {
      summary.serverRecords++;
      this.writer.setServerInfo(parsed.server, parsed.info);
    } else {
      if (parsed.row.transient) summary.transient++;
      const prefix = parsed.row.record.readUIntBE(0, 6);
      const ordinal = this.#ordinals.get(prefix) ?? 0;
      this.#ordinals.set(prefix, ordinal + 1);
      this.batches.call({ ...parsed.row, ordinal });
    }
  }
}

export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const { store } = options;
  const started = performance.now();
  const report = options.onProblem ?? (() => {});
  const everyMs = options.progressEveryMs ?? 250;
  const parseOptions = { isTransient: transientMatcher(options.transientPatterns) };
  const wanted = options.format === undefined || options.format === 'auto' ? undefined : formatNamed(options.format);
  if (options.format !== undefined && options.format !== 'auto' && !wanted)
    throw new Error(`unknown --format ${JSON.stringify(options.format)}`);
  const writer = store.beginIngest(options.ignoreArgs ?? []);
  const ignored = new Set(store.ignoredArguments);

  const summary: IngestSummary = {
    inputs: options.inputs.length,
    lines: 0,
    callsAdded: 0,
    callsPresent: 0,
    transient: 0,
    toolRecords: 0,
    rejected: 0,
    unpaired: 0,
    serverRecords: 0,
    formats: {},
    failedInputs: 0,
    tools: 0,
    servers: 0,
    totalCalls: 0,
    seconds: 0,
    snapshotId: '',
  };
  const batches = new Batches(writer, options.batchSize ?? 2000);
  let lastProgress = performance.now();
  const sizes = options.onProgress ? options.inputs.map(inputSize) : [];
  const totalBytes = sizes.every((size) => size !== undefined) ? sizes.reduce((a, b) => a + b, 0) : undefined;
  let bytesBefore = 0;
  try {
    for (const [index, input] of options.inputs.entries()) {
      if (index > 0) bytesBefore += sizes[index - 1] ?? 0;
      const label = inputLabel(input);
      writer.beginInput();
      const recorder = new Recorder(label, summary, batches, writer, ignored, parseOptions, report);
      const progress: LogProgress = { lines: 0, format: undefined };
      const read = { format: wanted, server: options.server, stdin: options.stdin, maxLineBytes: options.maxLineBytes };
      let counted = 0;
      for await (const events of readLog(input, read, progress)) {
        for (const event of events) recorder.event(event);
        summary.lines += progress.lines - counted;
        counted = progress.lines;
        if (options.onProgress && performance.now() - lastProgress >= everyMs) {
          lastProgress = performance.now();
          options.onProgress({
            input: label,
            lines: summary.lines,
            added: batches.added + batches.calls.length,
            rejected: summary.rejected,
            seconds: (lastProgress - started) / 1000,
            ...(totalBytes === undefined || progress.bytes === undefined ? {} : { bytes: bytesBefore + progress.bytes, totalBytes }),
          });
        }
      }
      if (progress.format !== undefined) summary.formats[label] = progress.format;
      batches.flush();
    }
    batches.flush();
    // Declared output schemas are checked against every recorded answer, this ingest's included.
    const checker = store.catalog().some((t) => t.output_schema) ? await import('./output-check.js') : undefined;
    writer.finish(checker && (() => checker.checkDeclaredSchemas(store, writer)));
  } catch (error) {
    // Nothing of this ingest is kept: the cache stays at its last complete snapshot.
    writer.abort();
    throw error;
  }
  summary.callsAdded = batches.added;
  summary.callsPresent = batches.present;

  const stats = store.catalog();
  summary.tools = stats.length;
  summary.servers = new Set(stats.map((tool) => tool.server)).size;
  summary.totalCalls = store.callCount();
  summary.snapshotId = store.snapshotId;
  summary.seconds = (performance.now() - started) / 1000;
  return summary;
}

/**
 * Ingests into the cache at `db`: into a new cache built aside and moved into place when complete
 * when there is none yet (the fast path: no journal, indexes built after the rows), else into the
 * existing one in one transaction. Either way a killed or failed ingest leaves the cache as it was.
 */
export async function ingestInto(db: string, options: Omit<IngestOptions, 'store'>): Promise<IngestSummary> {
  // Decided under the cache's ingest lock: an ingest that published a new cache while this one
  // started makes this one ingest into that cache, not fail at its own publish.
  const lock = IngestLock.acquire(db);
  try {
    if (!existsSync(db)) {
      const store = Store.build(db);
      let summary: IngestSummary;
      try {
        summary = await ingest({ ...options, store });
      } catch (error) {
        store.discard();
        throw error;
      }
      store.publish();
      return summary;
    }
    const store = Store.open(db);
    try {
      return await ingest({ ...options, store });
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}
