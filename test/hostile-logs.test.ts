/**
 * Hostile exploration logs: truncated gzip, binary garbage, a 50 MB line, invalid UTF-8, deep
 * nesting. Each gets a clear `FILE:LINE: reason`, nothing crashes, and every valid line around
 * them is ingested.
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir } from './helpers.js';
import { runCli } from './support/cli.js';

const valid = (i: number): string => JSON.stringify({ server: 'logs', tool: 'echo', arguments: { i }, output: { i } });

/** A deterministic byte stream (xorshift), so the garbage is the same on every run. */
function garbage(bytes: number, seed: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = seed;
  for (let i = 0; i < bytes; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

async function ingestInto(files: string[]): Promise<{ store: Store; problems: string[]; summary: Awaited<ReturnType<typeof ingest>> }> {
  const store = Store.open(join(tempDir(), 'cache.db'));
  onCleanup(() => store.close());
  const problems: string[] = [];
  const summary = await ingest({ store, inputs: files, onProblem: (p) => problems.push(p) });
  return { store, problems, summary };
}

function recordedIs(store: Store): number[] {
  return [...store.recordedCalls()].filter((call) => call.tool === 'echo').map((call) => (JSON.parse(call.arguments) as { i: number }).i);
}

describe('hostile logs', () => {
  it('keeps what came before a truncated gzip and reads the next file', async () => {
    const dir = tempDir();
    const lines = `${Array.from({ length: 2000 }, (_, i) => valid(i)).join('\n')}\n`;
    const zipped = gzipSync(lines);
    const cut = join(dir, 'cut.jsonl.gz');
    writeFileSync(cut, zipped.subarray(0, Math.floor(zipped.length * 0.6)));
    const after = join(dir, 'after.jsonl');
    writeFileSync(after, `${valid(5000)}\n`);

    const { store, problems, summary } = await ingestInto([cut, after]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cut\.jsonl\.gz:\d+: input ends here: gzip: unexpected end of file/);
    expect(summary.failedInputs).toBe(1);
    const got = recordedIs(store);
    // Every complete line before the cut, in order, then the next file.
    expect(got.length).toBeGreaterThan(100);
    expect(got.slice(0, -1)).toEqual(Array.from({ length: got.length - 1 }, (_, i) => i));
    expect(got.at(-1)).toBe(5000);
  });

  it('reports binary garbage, invalid UTF-8, deep nesting and a 50 MB line, and ingests every valid line', async () => {
    const dir = tempDir();
    const path = join(dir, 'hostile.jsonl');
    const out = createWriteStream(path);
    const write = (chunk: string | Buffer): void => {
      out.write(chunk);
    };
    let i = 0;
    const expectedValid: number[] = [];
    const validLine = (): void => {
      expectedValid.push(i);
      write(`${valid(i++)}\n`);
    };
    validLine();
    // Binary garbage: 64 KiB of random bytes (newlines inside split it into many bad lines).
    write(garbage(64 * 1024, 0x9e3779b9));
    write('\n');
    validLine();
    // Invalid UTF-8 inside an otherwise valid record.
    write(
      Buffer.concat([Buffer.from('{"tool":"echo","arguments":{"q":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"},"output":1}\n')]),
    );
    validLine();
    // Deep nesting, in arguments, output and metadata.
    const deep = (n: number): string => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    write(`{"tool":"echo","arguments":${deep(100_000)},"output":1}\n`);
    validLine();
    write(`{"tool":"echo","arguments":{},"output":${deep(100_000)}}\n`);
    validLine();
    write(`{"tool":"echo","arguments":{},"output":1,"extra":${deep(1000)}}\n`);
    validLine();
    // A 50 MB single line that never closes its JSON.
    write('{"tool":"echo","arguments":{},"output":"');
    const mb = Buffer.alloc(1024 * 1024, 0x78);
    for (let m = 0; m < 50; m++) write(mb);
    write('\n');
    validLine();
    // A line with a NUL byte and a line of only a carriage return.
    write('\u0000\n\r\n');
    validLine();
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));

    const { store, problems, summary } = await ingestInto([path]);
    expect(recordedIs(store)).toEqual(expectedValid);
    expect(summary.callsAdded).toBe(expectedValid.length);
    expect(summary.rejected).toBe(problems.length);
    const reasons = problems.map((p) => p.replace(/^.*?hostile\.jsonl:\d+: /, ''));
    expect(reasons.some((r) => r === 'invalid UTF-8')).toBe(true);
    expect(reasons.filter((r) => r.startsWith('arguments: nested deeper than 64 levels'))).toHaveLength(1);
    expect(reasons.filter((r) => r === '"output" is nested too deeply to store')).toHaveLength(1);
    expect(reasons.filter((r) => r === 'metadata is nested too deeply to store')).toHaveLength(1);
    expect(reasons.filter((r) => r.startsWith('not JSON')).length).toBeGreaterThan(1);
    // Every message names its line and is short enough to read, the 50 MB line included.
    for (const problem of problems) {
      expect(problem).toMatch(/hostile\.jsonl:\d+: \S/);
      expect(problem.length).toBeLessThan(300);
    }
    console.info(
      `[figures] hostile logs: ${expectedValid.length} valid lines kept among ${summary.lines} read; ${summary.rejected} rejected with a reason`,
    );
  });

  it('the CLI survives the same file: exit 1 after its summary, no stack trace', async () => {
    const dir = tempDir();
    const path = join(dir, 'mixed.jsonl');
    writeFileSync(path, Buffer.concat([Buffer.from(`${valid(1)}\n`), garbage(4096, 7), Buffer.from(`\n${valid(2)}\n`)]));
    const cut = join(dir, 'cut.jsonl.gz');
    writeFileSync(cut, gzipSync(`${valid(3)}\n${valid(4)}\n`).subarray(0, 20));
    const db = join(dir, 'cache.db');
    const result = await runCli(['ingest', path, cut, '--db', db]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/calls added\s*│?\s*2/);
    expect(result.stderr).toMatch(/cut\.jsonl\.gz:1: input ends here: gzip/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
