/**
 * Streams exploration logs into the store: bounded memory (one batch plus a small counter per
 * distinct record of the current input), one transaction for the whole ingest (the cache goes
 * from one complete snapshot to the next, or stays as it was), every bad line reported and skipped.
 */
import { closeSync, createReadStream, existsSync, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parseJson } from '../core/json-text.js';
import { type CallRow, StoreWriteError, type ToolRow } from '../store/ingest-writer.js';
import { Store } from '../store/store.js';
import type { Format, NativeRecord, Reader } from './formats/format.js';
import { detectFormat, formatNamed } from './formats/index.js';
import { type Line, readLines, readLinesSync } from './lines.js';
import { bytesReadOf, inputSize, readsFile } from './progress.js';
import { parseRecordValue } from './record.js';
import { transientMatcher } from './transient.js';

export interface IngestOptions {
  store: Store;
  /** Paths; `-` reads `stdin`. */
  inputs: readonly string[];
  ignoreArgs?: readonly string[];
  /** Regular expressions of recorded infrastructure failures, beside the built-in ones (transient.ts). */
  transientPatterns?: readonly string[];
  /** A format name of src/ingest/formats, or `auto` (the default): detected per input. */
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

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export async function ingest(options: IngestOptions): Promise<IngestSummary> {
  const { store } = options;
  const started = performance.now();
  const batchSize = options.batchSize ?? 2000;
  const report = options.onProblem ?? (() => {});
  const everyMs = options.progressEveryMs ?? 250;
  const parseOptions = { isTransient: transientMatcher(options.transientPatterns) };
  const writer = store.beginIngest(options.ignoreArgs ?? []);
  const ignored = new Set(store.ignoredArguments);
  const wanted = options.format === undefined || options.format === 'auto' ? undefined : formatNamed(options.format);
  if (options.format !== undefined && options.format !== 'auto' && !wanted)
    throw new Error(`unknown --format ${JSON.stringify(options.format)}`);
  const toolsimFormat = formatNamed('toolsim');

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
  let calls: CallRow[] = [];
  let tools: ToolRow[] = [];
  const flush = (): void => {
    if (calls.length === 0 && tools.length === 0) return;
    const result = writer.writeBatch(calls, tools);
    summary.callsAdded += result.added;
    summary.callsPresent += result.present;
    calls = [];
    tools = [];
  };

  let lastProgress = performance.now();
  const sizes = options.onProgress ? options.inputs.map(inputSize) : [];
  const totalBytes = sizes.every((size) => size !== undefined) ? sizes.reduce((a, b) => a + b, 0) : undefined;
  let bytesBefore = 0;
  try {
    for (const [inputIndex, input] of options.inputs.entries()) {
      if (inputIndex > 0) bytesBefore += sizes[inputIndex - 1] ?? 0;
      const label = input === '-' ? '<stdin>' : input;
      writer.beginInput();
      // Identical records within one input are distinct observations; count them by a 48-bit
      // fingerprint of the record hash (a rare collision only shifts an ordinal, deterministically).
      const seen = new Map<number, number>();
      // A plain file is read with blocking reads (faster per line); streams for the rest.
      let source: Readable | number;
      try {
        source = isDocument(input) ? openInput(input, options.stdin) : openLineSource(input, options.stdin);
      } catch (error) {
        report(`${label}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
        summary.failedInputs++;
        continue;
      }
      let lineNumber = 0;
      let format: Format | undefined = wanted;
      let reader: Reader | undefined;
      const toolsSeen = new Set<string>();
      const sink = {
        record(native: NativeRecord, line: number): void {
          const parsed = parseRecordValue(native, ignored, parseOptions);
          if (parsed.kind === 'error') {
            report(`${label}:${line}: ${parsed.reason}`);
            summary.rejected++;
          } else if (parsed.kind === 'tool') {
            // Transcripts repeat their tool list in every conversation; one copy per input is enough.
            const id = JSON.stringify(parsed.row);
            if (format !== toolsimFormat && toolsSeen.has(id)) return;
            toolsSeen.add(id);
            summary.toolRecords++;
            tools.push(parsed.row);
          } else if (parsed.kind === 'server') {
            summary.serverRecords++;
            writer.setServerInfo(parsed.server, parsed.info);
          } else {
            if (parsed.row.transient) summary.transient++;
            const fingerprint = parsed.row.record.readUIntBE(0, 6);
            const ordinal = seen.get(fingerprint) ?? 0;
            seen.set(fingerprint, ordinal + 1);
            calls.push({ ...parsed.row, ordinal });
          }
          if (calls.length + tools.length >= batchSize) flush();
        },
        problem(reason: string, line: number): void {
          report(`${label}:${line}: ${reason}`);
          summary.rejected++;
        },
        unpaired(reason: string, line: number): void {
          report(`${label}:${line}: ${reason}`);
          summary.unpaired++;
        },
      };
      /** Feeds one JSON value; until a format is known, values no format claims are read as native records. */
      const feed = (value: unknown, line: number): void => {
        if (!format) {
          format = detectFormat(value);
          if (!format) {
            sink.record(value as NativeRecord, line);
            return;
          }
          summary.formats[label] = format.name;
        }
        reader ??= format.reader(sink, { server: options.server });
        reader.value(value, line);
      };
      if (wanted) summary.formats[label] = wanted.name;
      try {
        if (isDocument(input)) {
          // One JSON document: read whole (bounded like a line), then its items or itself.
          const limit = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
          const parts: string[] = [];
          let size = 0;
          for await (const line of readLines(source as Readable, limit)) {
            lineNumber = line.number;
            summary.lines++;
            if ('error' in line) throw new Error(line.error);
            size += line.text.length + 1;
            if (size > limit)
              throw new Error(`a JSON document larger than ${limit} characters; write it as JSON Lines, one conversation a line`);
            parts.push(line.text);
          }
          let document: unknown;
          let parsed = true;
          try {
            document = parseJson(parts.join('\n'), 'text');
          } catch {
            parsed = false;
          }
          if (parsed) {
            const items = Array.isArray(document) && document.length > 0 && (format ?? detectFormat(document[0]))?.detect(document[0]);
            if (items) for (const [i, item] of (document as unknown[]).entries()) feed(item, i + 1);
            else feed(document, 1);
          } else {
            // Not one document: JSON Lines under a .json name, read line by line like any other.
            parts.forEach((text, i) => {
              if (text.trim() === '') return;
              let value: unknown;
              try {
                value = parseJson(text, 'text');
              } catch (error) {
                sink.problem(`not JSON (${(error as Error).message})`, i + 1);
                return;
              }
              feed(value, i + 1);
            });
          }
        } else {
          const onLine = (line: Line): void => {
            lineNumber = line.number;
            summary.lines++;
            if ('error' in line) {
              report(`${label}:${line.number}: ${line.error}`);
              summary.rejected++;
              return;
            }
            if (line.text.trim() === '') return;
            let value: unknown;
            try {
              value = parseJson(line.text, 'text');
            } catch (error) {
              sink.problem(`not JSON (${(error as Error).message})`, line.number);
              return;
            }
            feed(value, line.number);
            if (options.onProgress && (summary.lines & 1023) === 0 && performance.now() - lastProgress >= everyMs) {
              lastProgress = performance.now();
              const read = totalBytes === undefined ? undefined : bytesRead();
              options.onProgress({
                input: label,
                lines: summary.lines,
                added: summary.callsAdded + calls.length,
                rejected: summary.rejected,
                seconds: (lastProgress - started) / 1000,
                ...(read === undefined || totalBytes === undefined ? {} : { bytes: bytesBefore + read, totalBytes }),
              });
            }
          };
          const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
          const counter = { bytes: 0 };
          const bytesRead = bytesReadOf(source, counter);
          if (typeof source === 'number') {
            for (const line of readLinesSync(source, maxLineBytes, counter)) onLine(line);
          } else {
            for await (const line of readLines(source, maxLineBytes)) onLine(line);
          }
        }
        reader?.end();
      } catch (error) {
        // The cache failing (disk full) ends the whole ingest, below.
        if (error instanceof StoreWriteError) throw error;
        // A stream that breaks (corrupt gzip, read error) ends this input; what came before it stays.
        report(`${label}:${lineNumber + 1}: input ends here: ${describeStreamError(error)}`);
        summary.failedInputs++;
      } finally {
        if (typeof source === 'number') closeSync(source);
      }
      flush();
    }
    flush();
    writer.finish();
  } catch (error) {
    // Nothing of this ingest is kept: the cache stays at its last complete snapshot.
    writer.abort();
    throw error;
  }

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
}

/** A plain file as an open descriptor (read with blocking reads); gzip and `-` as a stream. */
function openLineSource(input: string, stdin: Readable | undefined): Readable | number {
  if (input === '-' || input.endsWith('.gz') || hasGzipMagic(input)) return openInput(input, stdin);
  return openSync(input, 'r');
}

/** A log file as a byte stream, gunzipped when it is gzip; `-` is `stdin`. */
export function openInput(input: string, stdin: Readable | undefined): Readable {
  if (input === '-') {
    const source = stdin ?? process.stdin;
    return source;
  }
  const gzip = input.endsWith('.gz') || hasGzipMagic(input);
  const file = createReadStream(input, { highWaterMark: 1 << 20 });
  if (!gzip) return file;
  const gunzip = createGunzip();
  file.on('error', (error) => gunzip.destroy(error));
  // The compressed bytes gunzip has consumed: the file stream itself reads megabytes ahead.
  return readsFile(file.pipe(gunzip), {
    get bytesRead() {
      return gunzip.bytesWritten;
    },
  });
}

/** `.json` (and `.json.gz`) files hold one JSON document (or, failing that, JSON Lines); everything else is JSON Lines. */
function isDocument(input: string): boolean {
  return /\.json(\.gz)?$/i.test(input);
}

function hasGzipMagic(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

function describeStreamError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e.code === 'Z_BUF_ERROR' || e.code === 'Z_DATA_ERROR') return `gzip: ${e.message}`;
  return e.message ?? String(error);
}
