/**
 * Ingest progress with a share and a time left where the inputs' sizes are known: plain files (by
 * the bytes read), gzip files (by the compressed bytes gunzip has consumed, not the file stream's
 * read-ahead), several inputs together; none for a pipe. Then the progress line itself, on a real
 * terminal (util-linux `script` gives the CLI a pty).
 */
import { spawnSync } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ingestProgressText } from '../src/commands/ingest.js';
import { type IngestProgress, ingest } from '../src/ingest/ingest.js';
import { completion, formatBytes, formatDuration } from '../src/ingest/progress.js';
import { Store } from '../src/store/store.js';
import { onCleanup, ROOT, tempDir } from './helpers.js';

/** A log of `count` distinct calls, about 200 bytes each. */
function log(count: number, from = 0): string {
  const lines: string[] = [];
  for (let i = from; i < from + count; i++)
    lines.push(
      JSON.stringify({ server: 's', tool: `t${i % 5}`, arguments: { id: i, q: 'x'.repeat(40) }, output: { v: i, text: 'y'.repeat(80) } }),
    );
  return `${lines.join('\n')}\n`;
}

async function progressOf(inputs: string[], stdin?: Readable): Promise<IngestProgress[]> {
  const store = Store.open(join(tempDir(), 'cache.db'));
  onCleanup(() => store.close());
  const seen: IngestProgress[] = [];
  await ingest({ store, inputs, ...(stdin ? { stdin } : {}), progressEveryMs: 0, onProgress: (p) => seen.push(p) });
  return seen;
}

describe('ingest progress', () => {
  it('counts the bytes read of plain files against their total size, across inputs', async () => {
    const dir = tempDir();
    const a = join(dir, 'a.jsonl');
    const b = join(dir, 'b.jsonl');
    writeFileSync(a, log(30_000));
    writeFileSync(b, log(30_000, 30_000));
    const [sizeA, sizeB] = [statSync(a).size, statSync(b).size];
    const seen = await progressOf([a, b]);
    expect(seen.length).toBeGreaterThan(20);
    for (const p of seen) {
      expect(p.totalBytes).toBe(sizeA + sizeB);
      expect(p.bytes).toBeGreaterThan(0);
      expect(p.bytes).toBeLessThanOrEqual(sizeA + sizeB);
    }
    const bytes = seen.map((p) => p.bytes!);
    expect(bytes).toEqual([...bytes].sort((x, y) => x - y));
    // The second input's progress starts past the first's whole size.
    expect(seen.filter((p) => p.input === b).every((p) => p.bytes! > sizeA)).toBe(true);
    expect(seen.filter((p) => p.input === a).every((p) => p.bytes! <= sizeA)).toBe(true);
  });

  it('counts a gzip file by the compressed bytes consumed, not by the read-ahead', async () => {
    const path = join(tempDir(), 'log.jsonl.gz');
    writeFileSync(path, gzipSync(log(60_000)));
    const size = statSync(path).size;
    // Smaller than one read-ahead chunk: the file stream has read it all at the first progress.
    expect(size).toBeLessThan(1 << 20);
    const seen = await progressOf([path]);
    expect(seen.length).toBeGreaterThan(20);
    expect(seen.every((p) => p.totalBytes === size)).toBe(true);
    const shares = seen.map((p) => p.bytes! / size);
    expect(shares[0]).toBeLessThan(0.2);
    expect(shares.at(-1)).toBeGreaterThan(0.8);
    expect(shares).toEqual([...shares].sort((x, y) => x - y));
  });

  it('gives no share for a pipe, whose size is unknown, nor when any input has none', async () => {
    const path = join(tempDir(), 'a.jsonl');
    writeFileSync(path, log(5_000));
    for (const seen of [
      await progressOf(['-'], Readable.from([Buffer.from(log(5_000))])),
      await progressOf([path, '-'], Readable.from([Buffer.from(log(5_000, 5_000))])),
    ]) {
      expect(seen.length).toBeGreaterThan(0);
      for (const p of seen) expect([p.bytes, p.totalBytes]).toEqual([undefined, undefined]);
    }
  });

  it('writes the share, the total and the time left in the progress line, and leaves them out without a size', () => {
    const base = { input: 'calls.jsonl', lines: 412_345, added: 400_000, rejected: 2, seconds: 30 };
    expect(ingestProgressText({ ...base, bytes: 250_000_000, totalBytes: 1_000_000_000 })).toBe(
      'ingest: 25.0% of 1.0 GB, ETA 1m 30s; 412,345 lines, 400,000 calls, 2 rejected, 13,745 lines/s  calls.jsonl',
    );
    expect(ingestProgressText(base)).toBe('ingest: 412,345 lines, 400,000 calls, 2 rejected, 13,745 lines/s  calls.jsonl');
    expect(completion(1000, 1000, 5)).toEqual({ percent: '99.9%', eta: '0s' });
    expect(completion(0, 1000, 5)).toEqual({ percent: '0.0%', eta: '?' });
    expect(completion(10, undefined, 5)).toBeUndefined();
    expect([formatDuration(0.4), formatDuration(59), formatDuration(65), formatDuration(7380)]).toEqual(['0s', '59s', '1m 05s', '2h 03m']);
    expect([formatBytes(512), formatBytes(36_077_781), formatBytes(927_000_000), formatBytes(1_240_000_000)]).toEqual([
      '512 B',
      '36.1 MB',
      '927 MB',
      '1.2 GB',
    ]);
  });

  const hasScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!hasScript)('shows the share and the time left on a terminal (the CLI under a pty)', () => {
    const dir = tempDir();
    const path = join(dir, 'big.jsonl');
    writeFileSync(path, log(60_000));
    const command = `${process.execPath} ${join(ROOT, 'dist/src/cli.js')} ingest ${path} --db ${join(dir, 'cache.db')}`;
    const result = spawnSync('script', ['-qfec', command, '/dev/null'], { encoding: 'utf8', timeout: 120_000 });
    expect(result.status, result.stdout).toBe(0);
    const lines = result.stdout.split(/\r|\n/).filter((l) => l.includes('ingest: '));
    expect(lines.length).toBeGreaterThan(0);
    expect(lines[0]).toMatch(/ingest: \d+\.\d% of 1[0-9]\.\d MB, ETA (\d+s|\d+m \d\ds); [\d,]+ lines/);
  });
});
