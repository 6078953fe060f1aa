/**
 * How far an ingest has read, where the inputs' sizes are known: the bytes of each input file
 * (compressed bytes for a .gz, whose size on disk is what is known), standard input when it is a
 * regular file. A pipe has no size: then progress says lines and rates only.
 */
import { fstatSync, type ReadStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';

/** The file a stream reads (the file under a gunzip), for its `bytesRead`. */
const FILES = new WeakMap<Readable, { bytesRead: number }>();

/** Remembers that `stream` reads `file` (so far `file.bytesRead` bytes of it). */
export function readsFile(stream: Readable, file: ReadStream | { bytesRead: number }): Readable {
  FILES.set(stream, file);
  return stream;
}

/** The size in bytes of an input, or undefined when it has none (a pipe, a terminal). */
export function inputSize(input: string): number | undefined {
  try {
    const stat = input === '-' ? fstatSync(0) : statSync(input);
    return stat.isFile() ? stat.size : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes read so far from one input: a counter for a file read with blocking reads, else its stream's file. */
export function bytesReadOf(source: Readable | number, counter: { bytes: number }): () => number | undefined {
  if (typeof source === 'number') return () => counter.bytes;
  const file = FILES.get(source) ?? (typeof (source as Partial<ReadStream>).bytesRead === 'number' ? (source as ReadStream) : undefined);
  return () => file?.bytesRead;
}

/** `1m 05s`, `12s`, `2h 03m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** `927 MB`, `1.2 GB`, `512 KB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** The share read and the time left, from bytes read of a known total; undefined without a total. */
export function completion(
  bytes: number | undefined,
  totalBytes: number | undefined,
  seconds: number,
): { percent: string; eta: string } | undefined {
  if (bytes === undefined || totalBytes === undefined || totalBytes <= 0) return undefined;
  const share = Math.min(1, bytes / totalBytes);
  // Read-ahead can run past what was parsed; never promise 100% before the end.
  const percent = `${(Math.min(share, 0.999) * 100).toFixed(1)}%`;
  const eta = share <= 0 || seconds <= 0 ? '?' : formatDuration((seconds * (1 - share)) / share);
  return { percent, eta };
}
