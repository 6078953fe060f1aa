import { closeSync, openSync, writeFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/temp.js';
import { readLines, readLinesSync } from '../support/units.js';

async function linesOf(chunks: (string | Buffer)[], max = 1_000): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const line of readLines(Readable.from(chunks.map((c) => Buffer.from(c))), max)) out.push(line);
  return out;
}

describe('the line splitter', () => {
  it('numbers lines across chunk boundaries, strips CR before LF, keeps a last line without newline', async () => {
    expect(await linesOf(['a', 'b\r\nc\n\n', 'd'])).toEqual([
      { number: 1, text: 'ab' },
      { number: 2, text: 'c' },
      { number: 3, text: '' },
      { number: 4, text: 'd' },
    ]);
  });

  it('reports a line over the limit as an error, holding none of it, and goes on', async () => {
    expect(await linesOf(['x'.repeat(6), 'y'.repeat(6), '\nok\n'], 10)).toEqual([
      { number: 1, error: 'line longer than 10 bytes' },
      { number: 2, text: 'ok' },
    ]);
    expect(await linesOf(['0123456789\n'], 10)).toEqual([{ number: 1, text: '0123456789' }]);
  });

  it('decodes strict UTF-8, a character split between chunks included; invalid bytes are an error, not U+FFFD', async () => {
    const euro = Buffer.from('€');
    expect(
      await linesOf([Buffer.concat([Buffer.from('a'), euro.subarray(0, 1)]), Buffer.concat([euro.subarray(1), Buffer.from('\n')])]),
    ).toEqual([{ number: 1, text: 'a€' }]);
    expect(await linesOf([Buffer.from([0x61, 0xff, 0x0a]), 'b\n'])).toEqual([
      { number: 1, error: 'invalid UTF-8' },
      { number: 2, text: 'b' },
    ]);
  });

  it('reads a file the same way with blocking reads', async () => {
    const path = `${tempDir()}/log.jsonl`;
    const text = `${'{"a":1}\n'.repeat(3)}${'z'.repeat(50)}\nlast`;
    writeFileSync(path, text);
    const fd = openSync(path, 'r');
    try {
      expect([...readLinesSync(fd, 20)]).toEqual(await linesOf([text], 20));
    } finally {
      closeSync(fd);
    }
  });
});
