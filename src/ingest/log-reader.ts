/**
 * One reader of exploration logs and agent transcripts, for ingest and replay alike: opens an input
 * (a file, gzip or not, or stdin), reads it as JSON Lines or as one JSON document (`.json`), finds
 * its format (src/protocols/formats/) and turns every value into native records
 * (docs/log-format.md). What it reads comes out in chunks of events, so a consumer pays one await
 * per chunk, not per line, and memory stays bounded by a chunk.
 */
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parseJson } from '../core/json-text.js';
import type { Format, NativeRecord, Reader } from '../protocols/formats/format.js';
import { detectFormat } from '../protocols/formats/index.js';
import { type Line, readLines, readLinesSync } from './lines.js';
import { bytesReadOf, readsFile } from './progress.js';

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

/** Lines read between two chunks handed to the consumer. */
const CHUNK_LINES = 1024;

export type LogEvent =
  /** `format`: the format that read it; undefined for a native record no format claimed. */
  | { kind: 'record'; record: NativeRecord; line: number; format: string | undefined }
  /** A line that is not a record (not JSON, too long, refused by its format). */
  | { kind: 'problem'; reason: string; line: number }
  /** A transcript call without a result (or a result without its call): never stored. */
  | { kind: 'unpaired'; reason: string; line: number }
  /** The input cannot be read (`line` undefined) or ends early here (corrupt gzip, a read error). */
  | { kind: 'failed'; reason: string; line?: number };

export interface LogReadOptions {
  /** The format of every input; undefined: detected per input, values no format claims read as native records. */
  format?: Format | undefined;
  /** The server of transcript calls whose tool names and records do not name one. */
  server?: string | undefined;
  stdin?: Readable | undefined;
  maxLineBytes?: number | undefined;
}

/** What the reader has seen of one input so far (updated as chunks are handed out). */
export interface LogProgress {
  lines: number;
  /** The format read, once known. */
  format: string | undefined;
  /** Bytes of the input read so far (compressed bytes of a gzip), where they can be counted (src/ingest/progress.ts). */
  bytes?: number | undefined;
}

/** An input as it names itself in messages: its path, or `<stdin>` for `-`. */
export const inputLabel = (input: string): string => (input === '-' ? '<stdin>' : input);

/** Reads one input, handing out its events in chunks; `progress` is updated before each chunk. */
export async function* readLog(input: string, options: LogReadOptions, progress: LogProgress): AsyncGenerator<LogEvent[]> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  let events: LogEvent[] = [];
  let source: Readable | number;
  try {
    // A plain file is read with blocking reads (faster per line); streams for the rest.
    source = isDocument(input) ? openInput(input, options.stdin) : openLineSource(input, options.stdin);
  } catch (error) {
    yield [{ kind: 'failed', reason: `cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})` }];
    return;
  }
  let format = options.format;
  if (format) progress.format = format.name;
  let reader: Reader | undefined;
  const sink = {
    record: (record: NativeRecord, line: number): void => void events.push({ kind: 'record', record, line, format: format?.name }),
    problem: (reason: string, line: number): void => void events.push({ kind: 'problem', reason, line }),
    unpaired: (reason: string, line: number): void => void events.push({ kind: 'unpaired', reason, line }),
  };
  /** Feeds one JSON value; until a format is known, values no format claims are read as native records. */
  const feed = (value: unknown, line: number): void => {
    if (!format) {
      format = detectFormat(value);
      if (!format) {
        sink.record(value as NativeRecord, line);
        return;
      }
      progress.format = format.name;
    }
    reader ??= format.reader(sink, { server: options.server });
    reader.value(value, line);
  };
  const counter = { bytes: 0 };
  const bytesRead = bytesReadOf(source, counter);
  const take = (): LogEvent[] => {
    const out = events;
    events = [];
    progress.bytes = bytesRead();
    return out;
  };
  let lineNumber = 0;
  try {
    if (isDocument(input)) {
      // One JSON document: read whole (bounded like a line), then its items or itself.
      const parts: string[] = [];
      let size = 0;
      for await (const line of readLines(source as Readable, maxLineBytes)) {
        lineNumber = line.number;
        progress.lines++;
        if ('error' in line) throw new Error(line.error);
        size += line.text.length + 1;
        if (size > maxLineBytes)
          throw new Error(`a JSON document larger than ${maxLineBytes} characters; write it as JSON Lines, one conversation a line`);
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
        for (const [i, text] of parts.entries()) {
          readValue({ number: i + 1, text }, sink, feed);
          if (events.length >= CHUNK_LINES) yield take();
        }
      }
    } else {
      const onLine = (line: Line): void => {
        lineNumber = line.number;
        progress.lines++;
        readValue(line, sink, feed);
      };
      if (typeof source === 'number') {
        for (const line of readLinesSync(source, maxLineBytes, counter)) {
          onLine(line);
          if ((line.number & (CHUNK_LINES - 1)) === 0) yield take();
        }
      } else {
        for await (const line of readLines(source, maxLineBytes)) {
          onLine(line);
          if ((line.number & (CHUNK_LINES - 1)) === 0) yield take();
        }
      }
    }
    reader?.end();
  } catch (error) {
    // A stream that breaks (corrupt gzip, read error) ends this input; what came before it stays.
    events.push({ kind: 'failed', reason: `input ends here: ${describeStreamError(error)}`, line: lineNumber + 1 });
  } finally {
    if (typeof source === 'number') closeSync(source);
  }
  if (events.length > 0) yield take();
}

/** One line: a JSON value fed on, or a problem. Blank lines are skipped. */
function readValue(line: Line, sink: { problem(reason: string, line: number): void }, feed: (value: unknown, line: number) => void): void {
  if ('error' in line) {
    sink.problem(line.error, line.number);
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
}

/** A plain file as an open descriptor (read with blocking reads); gzip and `-` as a stream. */
function openLineSource(input: string, stdin: Readable | undefined): Readable | number {
  if (input === '-' || input.endsWith('.gz') || hasGzipMagic(input)) return openInput(input, stdin);
  return openSync(input, 'r');
}

/** A log file as a byte stream, gunzipped when it is gzip; `-` is `stdin`. */
export function openInput(input: string, stdin: Readable | undefined): Readable {
  if (input === '-') return stdin ?? process.stdin;
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
