/**
 * Splits a byte stream into lines without ever holding more than one line (up to `maxLineBytes`).
 * Each line is decoded as strict UTF-8, so invalid bytes are reported instead of silently replaced.
 */
import type { Readable } from 'node:stream';

export type Line = { number: number; text: string } | { number: number; error: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

export async function* readLines(stream: Readable, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let oversized = false;
  let number = 0;

  function* finish(): Generator<Line> {
    number++;
    if (oversized) {
      yield { number, error: `line longer than ${maxLineBytes} bytes` };
    } else if (partBytes > 0) {
      const bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, partBytes);
      const end = bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
      try {
        yield { number, text: decoder.decode(bytes.subarray(0, end)) };
      } catch {
        yield { number, error: 'invalid UTF-8' };
      }
    } else {
      yield { number, text: '' };
    }
    parts = [];
    partBytes = 0;
    oversized = false;
  }

  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (;;) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      if (!oversized && end > start) {
        if (partBytes + (end - start) > maxLineBytes) {
          oversized = true;
          parts = [];
          partBytes = 0;
        } else {
          parts.push(chunk.subarray(start, end));
          partBytes += end - start;
        }
      }
      if (newline === -1) break;
      yield* finish();
      start = newline + 1;
    }
  }
  if (partBytes > 0 || oversized) yield* finish();
}
