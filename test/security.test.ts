/**
 * Admin routes need the bearer token and do not exist without one; the server binds 127.0.0.1 by
 * default; credentials in headers never reach the log.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { describeOptions, OPTIONS } from '../src/config.js';
import { bearerMatches } from '../src/http/admin.js';
import { ingest } from '../src/ingest/ingest.js';
import { startServer } from '../src/server.js';
import { Store } from '../src/store/store.js';
import { onCleanup, tempDir, writeLog } from './helpers.js';
import { serveConfig } from './server-process.js';

const TOKEN = 'admin-token-3b1f9c0e7d2a4f68';

async function cache(): Promise<string> {
  const dir = tempDir();
  const db = join(dir, 'cache.db');
  const store = Store.open(db);
  await ingest({ store, inputs: [writeLog(dir, 'a.jsonl', [{ server: 'kv', tool: 'get', arguments: { k: 1 }, output: 1 }])] });
  store.close();
  return db;
}

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

describe('security', () => {
  it('has no admin routes without a token (404), and checks the bearer token with one', async () => {
    const db = await cache();
    const off = await startServer(serveConfig({ db }));
    onCleanup(() => off.close());
    const offReply = await off.app.inject({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(offReply.statusCode).toBe(404);
    expect(offReply.json()).toMatchObject({ error: { code: 'not_found' } });

    const on = await startServer(serveConfig({ db, adminToken: TOKEN }));
    onCleanup(() => on.close());
    const wrong = [
      undefined,
      '',
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN}x`,
      `Bearer ${TOKEN.toUpperCase()}`,
      `Basic ${TOKEN}`,
      TOKEN,
      'Bearer ',
      `Bearer ${TOKEN} extra`,
    ];
    for (const authorization of wrong) {
      const reply = await on.app.inject({
        method: 'POST',
        url: '/admin/reload',
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(reply.statusCode, String(authorization)).toBe(401);
      expect(reply.headers['www-authenticate']).toMatch(/^Bearer/);
      expect(reply.json()).toMatchObject({ error: { code: 'unauthorized' } });
    }
    const right = await on.app.inject({ method: 'POST', url: '/admin/reload', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(right.statusCode).toBe(200);
    expect(right.json()).toMatchObject({ reloaded: false });
  });

  it('compares tokens as digests, so a prefix or a longer string never matches', () => {
    const expected = createHash('sha256').update(TOKEN).digest();
    expect(bearerMatches(`Bearer ${TOKEN}`, expected)).toBe(true);
    expect(bearerMatches(`bearer ${TOKEN}`, expected)).toBe(true);
    expect(bearerMatches(`Bearer ${TOKEN.slice(0, 8)}`, expected)).toBe(false);
    expect(bearerMatches(undefined, createHash('sha256').update('').digest())).toBe(false);
  });

  it('binds 127.0.0.1 unless told otherwise', async () => {
    expect(OPTIONS.host.default).toBe('127.0.0.1');
    const server = await startServer(serveConfig({ db: await cache() }));
    onCleanup(() => server.close());
    expect(server.app.server.address()).toMatchObject({ address: '127.0.0.1' });
  });

  it('keeps the admin token secret in help text', () => {
    expect(OPTIONS.adminToken.secret).toBe(true);
    expect(describeOptions(['adminToken'])).toMatch(/env TOOLSIM_ADMIN_TOKEN/);
  });

  it('never writes Authorization, X-Api-Key or the admin token to the log', async () => {
    const log = capture();
    const server = await startServer(serveConfig({ db: await cache(), adminToken: TOKEN, logLevel: 'trace' }), { logStream: log.stream });
    onCleanup(() => server.close());
    const secrets = ['sk-ant-api03-SECRET-KEY-ONE', 'sk-ant-api03-SECRET-KEY-TWO', 'wrong-admin-token-XYZ', TOKEN];
    await fetch(new URL('/v1/call', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': secrets[0]!, authorization: `Bearer ${secrets[1]}` },
      body: JSON.stringify({ tool: 'get', arguments: { k: 1 } }),
    });
    await fetch(new URL('/v1/call', server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': secrets[0]! },
      body: '{bad',
    });
    await fetch(new URL('/admin/reload', server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${secrets[2]}`, 'x-api-key': secrets[0]! },
    });
    await fetch(new URL('/admin/reload', server.url), { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    await server.close();
    const text = log.text();
    expect(text).toMatch(/admin request refused/);
    // The refusal says what was wrong, never what the request carried.
    expect(text).toMatch(/"authorization":"wrong"/);
    expect(text).toMatch(/snapshot (reloaded|unchanged)|"reloaded"/);
    for (const secret of secrets) expect(text).not.toContain(secret);
  });
});
