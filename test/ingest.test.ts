import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { cacheOf, onCleanup, tempDir, writeLog } from './helpers.js';

const call = (domain: string, output: unknown = { ok: domain }, extra: object = {}) => ({
  server: 'whois',
  tool: 'whois_lookup',
  arguments: { domain },
  output,
  ...extra,
});

describe('ingest', () => {
  it('reports each bad line as FILE:LINE: reason and ingests every good one', async () => {
    const dir = tempDir();
    const file = writeLog(dir, 'mixed.jsonl', [
      call('a.com'),
      'not json at all',
      { server: 'whois', arguments: {}, output: 1 },
      call('b.com'),
      { tool: 'whois_lookup', arguments: [1, 2], output: 1 },
      { tool: 'whois_lookup', arguments: {} },
      { tool: 'whois_lookup', arguments: '{"domain": "c.com"}', output: 'from a string', is_error: 'no' },
      '[1, 2, 3]',
      call('c.com'),
    ]);
    const { summary, problems, store } = await cacheOf([file]);
    expect(problems[0]).toMatch(/:2: not JSON \(.+\)$/);
    expect(problems[0]!.startsWith(`${file}:2: `)).toBe(true);
    expect(problems.slice(1)).toEqual([
      `${file}:3: missing "tool"`,
      `${file}:5: arguments must be an object, got an array`,
      `${file}:6: missing "output"`,
      `${file}:7: "is_error" must be a boolean`,
      `${file}:8: a record must be a JSON object`,
    ]);
    expect(summary).toMatchObject({ lines: 9, callsAdded: 3, rejected: 6, tools: 1, servers: 1, totalCalls: 3 });
    expect(store.callCount()).toBe(3);
  });

  it('adds nothing when the same file is ingested again, and keeps the snapshot id', async () => {
    const dir = tempDir();
    const file = writeLog(dir, 'log.jsonl', [call('a.com'), call('b.com'), call('a.com')]);
    const { store, summary: first } = await cacheOf([file]);
    const second = await ingest({ store, inputs: [file] });
    expect(first.callsAdded).toBe(3);
    expect(second).toMatchObject({ callsAdded: 0, callsPresent: 3, totalCalls: 3, snapshotId: first.snapshotId });
  });

  it('keeps a call recorded twice in one log as two observations', async () => {
    const { store } = await cacheOf([call('a.com'), call('a.com'), call('a.com', 'later')]);
    expect(store.stats()).toMatchObject({ calls: 3, keys: 1, repeatedKeys: 1, disagreeingKeys: 1 });
  });

  it('moves the snapshot id when recordings change, and names contents not history', async () => {
    const one = await cacheOf([call('a.com'), call('b.com')]);
    const other = await cacheOf([call('b.com'), call('a.com')]);
    const more = await cacheOf([call('a.com'), call('b.com'), call('c.com')]);
    expect(one.store.snapshotId).toBe(other.store.snapshotId);
    expect(more.store.snapshotId).not.toBe(one.store.snapshotId);
  });

  it('reads gzip (by extension or by magic bytes) and standard input', async () => {
    const dir = tempDir();
    const lines = `${JSON.stringify(call('gz.com'))}\n`;
    writeFileSync(join(dir, 'a.jsonl.gz'), gzipSync(lines));
    writeFileSync(join(dir, 'b.log'), gzipSync(`${JSON.stringify(call('magic.com'))}\n`));
    const store = Store.open(join(dir, 'cache.db'));
    onCleanup(() => store.close());
    const summary = await ingest({
      store,
      inputs: [join(dir, 'a.jsonl.gz'), join(dir, 'b.log'), '-'],
      stdin: Readable.from([Buffer.from(`${JSON.stringify(call('stdin.com'))}\r\n`)]),
    });
    expect(summary).toMatchObject({ callsAdded: 3, rejected: 0, failedInputs: 0 });
  });

  it('reports a missing file and a cut-short gzip, keeping what came before', async () => {
    const dir = tempDir();
    const whole = gzipSync(Array.from({ length: 2000 }, (_, i) => JSON.stringify(call(`d${i}.com`))).join('\n'));
    writeFileSync(join(dir, 'cut.jsonl.gz'), whole.subarray(0, Math.floor(whole.length * 0.6)));
    const problems: string[] = [];
    const store = Store.open(join(dir, 'cache.db'));
    onCleanup(() => store.close());
    const summary = await ingest({
      store,
      inputs: [join(dir, 'missing.jsonl'), join(dir, 'cut.jsonl.gz')],
      onProblem: (p) => problems.push(p),
    });
    expect(problems[0]).toBe(`${join(dir, 'missing.jsonl')}: cannot read (ENOENT)`);
    expect(problems[1]).toMatch(/cut\.jsonl\.gz:\d+: input ends here: /);
    expect(summary.failedInputs).toBe(2);
    expect(summary.callsAdded).toBeGreaterThan(100);
    expect(summary.callsAdded).toBeLessThan(2000);
  });

  it('fills the catalog from tool records, and keeps extra keys as metadata', async () => {
    const { store } = await cacheOf([
      { kind: 'tool', server: 'whois', tool: 'whois_lookup', description: 'Look up a domain', input_schema: { type: 'object' } },
      { kind: 'tool', server: 'whois', tool: 'never_called', description: 'Unused' },
      call('a.com', 'x', { trajectory_id: 't-1', node_id: 'n3', parents: ['n1'], cost_usd: 0.01 }),
    ]);
    expect(store.catalog()).toEqual([
      { server: 'whois', tool: 'never_called', description: 'Unused', calls: 0 },
      { server: 'whois', tool: 'whois_lookup', description: 'Look up a domain', input_schema: { type: 'object' }, calls: 1 },
    ]);
    const [recorded, ...more] = store.recordedCalls();
    expect(more).toEqual([]);
    expect(recorded).toMatchObject({ trajectoryId: 't-1', nodeId: 'n3', metadata: '{"cost_usd":0.01,"parents":["n1"]}' });
  });

  it('defaults the server to "default" and rejects an unknown kind', async () => {
    const { store, problems } = await cacheOf([
      { tool: 't', arguments: {}, output: 1 },
      { kind: 'weird', tool: 't' },
    ]);
    expect(store.catalog().map((t) => t.server)).toEqual(['default']);
    expect(problems[0]).toMatch(/:2: unknown "kind" "weird"/);
  });

  it('drops --ignore-arg arguments before hashing and storing, and holds the cache to them', async () => {
    const { store } = await cacheOf([{ tool: 't', arguments: { q: 'x', api_key: 'sk-secret' }, output: 1 }], ['api_key']);
    expect([...store.recordedCalls()].map((c) => c.arguments)).toEqual(['{"q":"x"}']);
    await expect(ingest({ store, inputs: [], ignoreArgs: [] })).rejects.toThrow(/--ignore-arg \["api_key"\]/);
  });

  it('ingests the bundled tau-bench sample whole', async () => {
    const { summary } = await cacheOf([join(process.cwd(), 'cache/samples/tau-bench/calls.jsonl')]);
    expect(summary).toMatchObject({ lines: 1957, callsAdded: 1957, rejected: 0, servers: 2, tools: 30 });
  });
});
