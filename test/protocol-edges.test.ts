/**
 * Protocol edges: nesting checked before parsing, escaped `__proto__`, caps on `<tool_call>` blocks
 * and on tool names in every protocol, Node's and Fastify's own refusals in the JSON error shape,
 * request timeouts (a slow body cannot hold a shutdown), and a bounded log line for refused admin
 * requests.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { startServer } from '../src/server.js';
import { appOf, cacheOf, onCleanup } from './helpers.js';
import { serveConfig } from './server-process.js';

const RECORDS = [
  { server: 'kv', tool: 'get', arguments: { key: 'a' }, output: 'A' },
  { server: 'kv', tool: 'get', arguments: { key: 'b' }, output: 'B' },
];

/** Raw bytes on a fresh socket; resolves with everything the server wrote before closing. */
function raw(url: string, bytes: string, keepOpenMs = 0): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(text) : reject(error)));
    socket.on('close', () => resolve(text));
    socket.write(bytes);
    if (keepOpenMs === 0) setTimeout(() => socket.end(), 2_000).unref();
  });
}

function errorOf(response: string): { status: number; code: string; connection?: string } {
  const [head, body] = response.split('\r\n\r\n');
  expect(body, response.slice(0, 300)).toBeDefined();
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head!)?.[1]);
  const parsed = JSON.parse(body!) as { error: { code: string; message: string } };
  const connection = /\r\nconnection: ([^\r]*)/i.exec(head!)?.[1];
  return { status, code: parsed.error.code, ...(connection ? { connection } : {}) };
}

async function server(overrides: Parameters<typeof serveConfig>[0] = {}, logStream?: Writable) {
  const { path } = await cacheOf(RECORDS);
  const running = await startServer(serveConfig({ db: path, ...overrides }), logStream ? { logStream } : {});
  onCleanup(() => running.close());
  return running;
}

describe('bodies', () => {
  it('refuses 1.5M nested arrays before parsing them: 400 too_deep, never 503', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app } = await appOf(store);
    const depth = 1_500_000;
    const payload = `{"tool":"get","arguments":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`;
    const started = performance.now();
    const response = await app.inject({ method: 'POST', url: '/v1/call', headers: { 'content-type': 'application/json' }, payload });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'too_deep' } });
    expect(performance.now() - started).toBeLessThan(1_000);
    // Brackets inside strings are not nesting.
    const inString = await app.inject({
      method: 'POST',
      url: '/v1/call',
      payload: { server: 'kv', tool: 'get', arguments: { key: '['.repeat(1_000) } },
    });
    expect(inString.statusCode, inString.body.slice(0, 300)).toBe(200);
  });

  it('refuses an escaped __proto__ key on /get_observation and leaves every prototype alone', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app } = await appOf(store);
    const payload =
      '{"trajectory_ids":["t"],"actions":["<tool_call>{\\"name\\":\\"get\\",\\"arguments\\":{\\"key\\":\\"a\\"}}</tool_call>"],"\\u005f\\u005fproto__":[{"polluted":true}]}';
    const response = await app.inject({
      method: 'POST',
      url: '/get_observation',
      headers: { 'content-type': 'application/json' },
      payload,
    });
    expect(response.statusCode, response.body).toBe(400);
    expect(response.json()).toMatchObject({ error: { code: 'forbidden_key' } });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});

describe('caps', () => {
  it('answers an action of 40,000 <tool_call> blocks as one invalid item, in a small answer', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app } = await appOf(store);
    const block = '<tool_call>{"name":"get","arguments":{"key":"a"}}</tool_call>';
    const response = await app.inject({
      method: 'POST',
      url: '/get_observation',
      payload: { trajectory_ids: ['t1', 't2'], actions: [block.repeat(40_000), block.repeat(3)] },
    });
    expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
    expect(response.body.length).toBeLessThan(2_000);
    const body = response.json() as { observations: unknown[]; valids: boolean[] };
    expect(body.valids).toEqual([false, true]);
    expect(body.observations[0]).toMatchObject({ invalid_reason: expect.stringMatching(/at most 64/) });
  });

  it('never looks up nor echoes a 1 MB tool name, in verl-tool and MCP', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app } = await appOf(store);
    const name = 'g'.repeat(1_000_000);
    const started = performance.now();
    const verl = await app.inject({
      method: 'POST',
      url: '/get_observation',
      payload: { trajectory_ids: ['t'], actions: [`<tool_call>{"name":"${name}","arguments":{}}</tool_call>`] },
    });
    expect(verl.statusCode, verl.body.slice(0, 300)).toBe(200);
    expect(verl.body.length).toBeLessThan(1_000);
    expect(verl.json()).toMatchObject({ valids: [false], observations: [expect.stringMatching(/unknown tool/)] });
    const mcp = await app.inject({
      method: 'POST',
      url: '/mcp/kv',
      headers: { accept: 'application/json, text/event-stream' },
      payload: { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name, arguments: {} } },
    });
    expect(mcp.body.length).toBeLessThan(1_000);
    expect(mcp.json()).toMatchObject({ error: { code: -32602, message: expect.stringMatching(/^Unknown tool/) } });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('answers MCP arguments given as an array with -32602 and a clear message', async () => {
    const { store } = await cacheOf(RECORDS);
    const { app } = await appOf(store);
    const mcp = await app.inject({
      method: 'POST',
      url: '/mcp/kv',
      headers: { accept: 'application/json, text/event-stream' },
      payload: { jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'get', arguments: ['a'] } },
    });
    expect(mcp.json(), mcp.body).toMatchObject({
      id: 7,
      error: { code: -32602, message: '"arguments" must be an object of named arguments; got an array' },
    });
    const ok = await app.inject({
      method: 'POST',
      url: '/mcp/kv',
      headers: { accept: 'application/json, text/event-stream' },
      payload: { jsonrpc: '2.0', id: 8, method: 'tools/call', params: { name: 'get', arguments: { key: 'a' } } },
    });
    expect(ok.json(), ok.body).toMatchObject({ id: 8, result: { content: [{ type: 'text', text: 'A' }] } });
  });
});

describe("Node's and Fastify's own refusals", () => {
  it('answer in the JSON error shape: bad percent-encoding, a long path parameter, huge headers, duplicate Content-Length', async () => {
    const { url } = await server();
    const bad = errorOf(await raw(url, 'GET /v1/%E0%A4%A HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    expect(bad).toMatchObject({ status: 400, code: 'invalid_url' });
    const long = errorOf(await raw(url, `POST /v1/servers/kv/tools/${'t'.repeat(300)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    expect(long).toMatchObject({ status: 414, code: 'uri_too_long' });
    const headers = errorOf(await raw(url, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'h'.repeat(20_000)}\r\n\r\n`));
    expect(headers).toMatchObject({ status: 431, code: 'headers_too_large', connection: 'close' });
    const body = '{"tool":"get","arguments":{}}';
    const twice = errorOf(
      await raw(
        url,
        `POST /v1/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nContent-Length: 5\r\n\r\n${body}`,
      ),
    );
    expect(twice).toMatchObject({ status: 400, code: 'invalid_http', connection: 'close' });
  });

  it('answers a body dribbled past --request-timeout-ms with 408 and closes; a shutdown is not held by it', async () => {
    const running = await server({ requestTimeoutMs: 300 });
    const started = performance.now();
    const { hostname, port } = new URL(running.url);
    const socket = connect(Number(port), hostname);
    let text = '';
    socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write('POST /v1/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"tool":');
    const dribble = setInterval(() => socket.writable && socket.write(' '), 50);
    onCleanup(() => clearInterval(dribble));
    await closed;
    clearInterval(dribble);
    expect(errorOf(text)).toMatchObject({ status: 408, code: 'request_timeout', connection: 'close' });
    expect(performance.now() - started).toBeLessThan(3_000);

    // A second dribbler while the server shuts down: close() still finishes, well within a grace period.
    // Ready when the server holds the connection.
    const accepted = new Promise((resolve) => running.app.server.once('connection', resolve));
    const again = connect(Number(port), hostname);
    again.on('error', () => {});
    again.write('POST /v1/call HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const slow = setInterval(() => again.writable && again.write(' '), 50);
    onCleanup(() => clearInterval(slow));
    await accepted;
    const closing = performance.now();
    await running.close();
    clearInterval(slow);
    expect(performance.now() - closing).toBeLessThan(5_000);
  });
});

describe('admin refusals', () => {
  it('log one bounded line, without the headers the request carried', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const running = await server({ adminToken: 'secret-token', logLevel: 'info' }, sink);
    const headers: Record<string, string> = { authorization: 'Bearer wrong-token' };
    for (let i = 0; i < 50; i++) headers[`x-junk-${i}`] = 'j'.repeat(200);
    const response = await fetch(new URL('/admin/reload', running.url), { method: 'POST', headers });
    expect(response.status).toBe(401);
    await expect.poll(() => lines.find((l) => l.includes('admin request refused'))).toBeDefined();
    const line = lines.find((l) => l.includes('admin request refused'))!;
    expect(line.length).toBeLessThan(600);
    expect(line).not.toContain('x-junk');
    expect(line).not.toContain('wrong-token');
  });
});
