/**
 * The serving process under signals: SIGHUP reloads a newly ingested snapshot; SIGTERM under load
 * lets in-flight requests finish, refuses new ones, and exits 0 within the grace period.
 */
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLoad } from '../bench/load.js';
import { ingest } from '../src/ingest/ingest.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir, writeLog } from './helpers.js';
import { serveProcess } from './server-process.js';
import { settled, untilServed } from './support/ready.js';
import { kvRecord } from './support/records.js';

interface Outcome {
  status?: number;
  error?: string;
  body?: string;
}

/** One request on a fresh connection, so that "refused" means the listener is gone. */
function call(url: string, path: string, body: unknown): Promise<Outcome> {
  const target = new URL(path, url);
  const payload = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end(payload);
  });
}

const record = (i: number): object => kvRecord(i, `v${i}`, { n: i });

describe('signals', () => {
  it('SIGHUP reloads; SIGTERM under load finishes in-flight work, refuses new requests and exits 0', async () => {
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
          Array.from({ length: 3000 }, (_, i) => record(i)),
        ),
      ],
    });
    const server = await serveProcess(['--db', db]);

    // SIGHUP: a newly ingested call is served only after the reload.
    const fresh = { tool: 'get', arguments: { key: 'k-new', n: -1 } };
    await ingest({ store: writer, inputs: [writeLog(dir, 'b.jsonl', [{ ...record(0), arguments: fresh.arguments, output: 'fresh' }])] });
    expect(JSON.parse((await call(server.url, '/v1/call', fresh)).body!)).toMatchObject({ tier: 'miss' });
    server.child.kill('SIGHUP');
    await server.waitForLog(/^snapshot reloaded$/);
    expect(JSON.parse((await call(server.url, '/v1/call', fresh)).body!)).toMatchObject({ tier: 'exact', output: 'fresh' });

    // SIGTERM while a load runs and slow batches (misses scored against 3,000 recordings) are in flight.
    const load = runLoad({
      url: server.url,
      connections: 20,
      seconds: 4,
      calls: [{ path: '/v1/call', body: { tool: 'get', arguments: { key: 'k1', n: 1 } } }],
    });
    await untilServed(server.url, 100, settled(load));
    const batch = { calls: Array.from({ length: 100 }, (_, i) => ({ tool: 'get', arguments: { key: `missing-${i}`, n: i + 0.5 } })) };
    const inFlight = Array.from({ length: 4 }, () => call(server.url, '/v1/calls', batch));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const sentAt = performance.now();
    server.child.kill('SIGTERM');
    await server.waitForLog(/^shutting down$/);
    const late = await Promise.all(
      Array.from({ length: 5 }, () => call(server.url, '/v1/call', { tool: 'get', arguments: { key: 'k1', n: 1 } })),
    );
    const finished = await Promise.all(inFlight);
    const exit = await server.exited;
    const loadResult = await load;

    // A batch the server had begun is answered in full; one still unread in its socket when the
    // shutdown began is refused with a 503 (retryable), never reset or cut short.
    expect(finished[0]!.status, JSON.stringify(finished.map((o) => o.error ?? o.status))).toBe(200);
    for (const outcome of finished) expect(outcome.error, JSON.stringify(finished.map((o) => o.error ?? o.status))).toBeUndefined();
    for (const outcome of finished) {
      expect([200, 503]).toContain(outcome.status);
      if (outcome.status === 200) expect((JSON.parse(outcome.body!) as { results: unknown[] }).results).toHaveLength(100);
      else expect(['shutting_down', 'overloaded']).toContain((JSON.parse(outcome.body!) as { error: { code: string } }).error.code);
    }
    for (const outcome of late) expect(outcome.error === 'ECONNREFUSED' || outcome.status === 503).toBe(true);
    expect(exit.code).toBe(0);
    const seconds = (exit.at - sentAt) / 1000;
    expect(seconds).toBeLessThan(10);
    const non200 = Object.entries(loadResult.statuses).filter(([code]) => code !== '200' && code !== '503');
    expect(non200).toEqual([]);
    console.info(
      `[figures] SIGTERM under load: batches sent before it: ${finished.map((o) => o.status).join(',')}, ${late.length}/${late.length} new requests refused ` +
        `(${late.map((o) => o.error ?? o.status).join(',')}), exit 0 after ${seconds.toFixed(2)} s; load before it: ${JSON.stringify(loadResult.statuses)}, ${loadResult.errors} connection errors after close`,
    );
  }, 60_000);
});
