/**
 * Hot reload: while under load, a newly ingested snapshot is swapped in with zero failed requests;
 * the new recordings are served afterwards; until the reload, the served snapshot is pinned (an
 * ingest writing into the same file is invisible); a reload during an unfinished ingest keeps the
 * last complete snapshot;
 * improvisations memoized for the old snapshot are not served for the new one.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type MixedCall, runLoad } from '../bench/load.js';
import { ingest } from '../src/ingest/ingest.js';
import { parseRecordValue } from '../src/ingest/record.js';
import { startServer } from '../src/server.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';
import { startFakeAnthropic } from './support/fake-anthropic.js';
import { settled, untilServed } from './support/ready.js';
import { kvRecord } from './support/records.js';

const TOKEN = 'reload-test-token-0123456789';
const record = (i: number, output: string): object => kvRecord(i, output);

async function post(
  url: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, url), {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

describe('hot reload', () => {
  it('swaps in a new snapshot under load with zero failed requests', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const writer = Store.open(db);
    onCleanup(() => writer.close());
    await ingest({
      store: writer,
      inputs: [
        writeLog(
          dir,
          'a.jsonl',
          Array.from({ length: 200 }, (_, i) => record(i, `old-${i}`)),
        ),
      ],
    });

    const server = await startServer(serveConfig({ db, adminToken: TOKEN }));
    onCleanup(() => server.close());
    const first = server.snapshots.current;
    const auth = { authorization: `Bearer ${TOKEN}` };
    const newCall = { tool: 'get', arguments: { key: 'k999' } };
    expect((await post(server.url, '/v1/call', newCall)).json).toMatchObject({ tier: 'miss' });

    const calls: MixedCall[] = [
      { path: '/v1/call', body: { tool: 'get', arguments: { key: 'k1' } } },
      { path: '/v1/call', body: newCall },
      {
        path: '/v1/calls',
        body: {
          calls: [
            { tool: 'get', arguments: { key: 'k2' } },
            { tool: 'nope', arguments: {} },
          ],
        },
      },
      { path: '/v1/servers/kv/tools/get', body: { key: 'k3' } },
    ];
    const load = runLoad({ url: server.url, connections: 20, seconds: 4, calls });

    // While the load runs: an ingest writes part of its rows and stops (a reload meanwhile keeps the
    // last complete snapshot), another one finishes (pinned until reload), reload.
    const loadOver = settled(load);
    await untilServed(server.url, 50, loadOver);
    const pending = writer.beginIngest();
    const parsed = parseRecordValue(record(999, 'half-ingested'), new Set());
    if (parsed.kind !== 'call') throw new Error('a call record');
    expect(pending.writeBatch([{ ...parsed.row, ordinal: 0 }], []).added).toBe(1);
    const during = await post(server.url, '/admin/reload', {}, auth);
    expect(during.status).toBe(200);
    expect(during.json).toMatchObject({ reloaded: false, snapshot: first.snapshotId });
    expect((await post(server.url, '/v1/call', newCall)).json).toMatchObject({ tier: 'miss' });
    pending.abort();
    await ingest({ store: writer, inputs: [writeLog(dir, 'b.jsonl', [record(999, 'new-999'), record(1, 'second-observation-of-k1')])] });
    expect((await post(server.url, '/v1/call', newCall)).json).toMatchObject({ tier: 'miss' });

    await untilServed(server.url, 50, loadOver);
    const reloaded = await post(server.url, '/admin/reload', {}, auth);
    expect(reloaded.status).toBe(200);
    expect(reloaded.json).toMatchObject({ reloaded: true, previous: first.snapshotId, snapshot: writer.snapshotId, calls: 202 });
    expect((await post(server.url, '/v1/call', newCall)).json).toMatchObject({ tier: 'exact', output: 'new-999' });
    // The repeat policy (first) still serves the first observation of k1.
    expect((await post(server.url, '/v1/call', { tool: 'get', arguments: { key: 'k1' } })).json).toMatchObject({
      tier: 'exact',
      output: 'old-1',
      match: { observations: 2 },
    });
    // A second reload with nothing new is a no-op.
    expect((await post(server.url, '/admin/reload', {}, auth)).json).toMatchObject({ reloaded: false });

    const result = await load;
    console.info(
      `[figures] hot reload under load: ${result.requests} requests at 20 connections, ${result.failed} failed, p99 ${result.p99} ms; statuses ${JSON.stringify(result.statuses)}`,
    );
    expect(result.requests).toBeGreaterThan(100);
    expect(result.failed).toBe(0);
    // The old snapshot's connection is closed once its calls have finished.
    await first.idle();
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.closed).toBe(true);
    const ready = await fetch(new URL('/readyz', server.url)).then((r) => r.json());
    expect(ready).toMatchObject({ status: 'ready', calls: 202, snapshot: writer.snapshotId });
  });

  it('asks the LLM anew after a reload: memo entries of the old snapshot are not served for the new one', async () => {
    const dir = tempDir();
    const db = join(dir, 'cache.db');
    const writer = Store.open(db);
    onCleanup(() => writer.close());
    const weather = (city: string, temp: number): object => ({
      server: 'weather',
      tool: 'get_weather',
      arguments: { city, unit: 'C' },
      output: { city, temp, unit: 'C' },
    });
    await ingest({
      store: writer,
      inputs: [writeLog(dir, 'a.jsonl', [weather('Paris', 18), weather('London', 14), weather('Berlin', 16)])],
    });

    const answerA = { city: 'Pariss', temp: 19, unit: 'C' };
    const answerB = { city: 'Pariss', temp: 21, unit: 'C' };
    const stand = await startFakeAnthropic({ kind: 'answer', output: answerA });
    onCleanup(() => stand.close());
    const server = await startServer(serveConfig({ db, adminToken: TOKEN, apiKey: 'sk-test-secret', baseUrl: stand.url, llmRetries: 0 }));
    onCleanup(() => server.close());
    const readyz = (): Promise<{ snapshot: string; calls: number }> =>
      fetch(new URL('/readyz', server.url)).then((r) => r.json() as Promise<{ snapshot: string; calls: number }>);
    const before = await readyz();

    const near = { tool: 'get_weather', arguments: { city: 'Pariss', unit: 'C' } };
    expect((await post(server.url, '/v1/call', near)).json).toMatchObject({ tier: 'fuzzy', output: answerA, match: { memoized: false } });
    expect((await post(server.url, '/v1/call', near)).json).toMatchObject({ tier: 'fuzzy', output: answerA, match: { memoized: true } });
    expect(stand.requests).toHaveLength(1);

    // A new recording (another argument) changes the snapshot; the reload serves it.
    await ingest({ store: writer, inputs: [writeLog(dir, 'b.jsonl', [weather('Rome', 22)])] });
    const reloaded = await post(server.url, '/admin/reload', {}, { authorization: `Bearer ${TOKEN}` });
    expect(reloaded.status).toBe(200);
    expect(reloaded.json).toMatchObject({ reloaded: true, previous: before.snapshot, calls: 4 });
    const after = await readyz();
    expect(after.snapshot).not.toBe(before.snapshot);
    expect(after).toMatchObject({ snapshot: writer.snapshotId, calls: 4 });

    stand.setDefault({ kind: 'answer', output: answerB });
    expect((await post(server.url, '/v1/call', near)).json).toMatchObject({ tier: 'fuzzy', output: answerB, match: { memoized: false } });
    expect(stand.requests).toHaveLength(2);
    expect((await post(server.url, '/v1/call', near)).json).toMatchObject({ tier: 'fuzzy', output: answerB, match: { memoized: true } });
    expect(stand.requests).toHaveLength(2);
  });
});
