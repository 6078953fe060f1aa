/**
 * A newcomer's first hour, through the built CLI and a real server on loopback: each option and
 * environment variable means one thing for one command, a mistyped flag or server name is answered
 * with the closest real ones, a missing cache says what to run, the server says where its docs
 * are, and every recorded server has an MCP URL ending in /mcp (the MCP Inspector rewrites other
 * URLs to /mcp) that the SDK's own client can use.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { describe, expect, it } from 'vitest';
import { OPTIONS, type OptionSpec } from '../src/config.js';
import { closest, distance, unknownServer } from '../src/core/closest.js';
import { appOf, cacheOf, onCleanup, ROOT, TAU_BENCH, TAU_BENCH_TOOLS, tempDir } from './helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');

function toolsim(args: string[], env: NodeJS.ProcessEnv = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TOOLSIM_')));
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: { ...clean, ...env } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A cache of the tau-bench sample (two servers), ingested by the CLI. */
function sampleCache(): string {
  const db = join(tempDir(), 'sample.db');
  const result = toolsim(['ingest', TAU_BENCH, TAU_BENCH_TOOLS, '--db', db]);
  expect(result.status, result.stderr).toBe(0);
  return db;
}

describe('options per command', () => {
  it('gives each environment variable one option (one meaning)', () => {
    const byEnv = new Map<string, string[]>();
    for (const [name, spec] of Object.entries(OPTIONS) as [string, OptionSpec][])
      if (spec.env) byEnv.set(spec.env, [...(byEnv.get(spec.env) ?? []), name]);
    const shared = [...byEnv].filter(([, names]) => names.length > 1);
    expect(shared).toEqual([]);
  });

  it('TOOLSIM_INGEST_SERVER names ingest servers and leaves `toolsim tools` whole', () => {
    const db = sampleCache();
    const count = (stdout: string): number => (JSON.parse(stdout) as { tools: unknown[] }).tools.length;
    expect(count(toolsim(['tools', '--db', db]).stdout)).toBe(30);
    // Set for an ingest, the variable once cut `toolsim tools` to one server's 16 tools.
    for (const env of [{ TOOLSIM_INGEST_SERVER: 'tau-bench-retail' }, { TOOLSIM_SERVER: 'tau-bench-retail' }]) {
      const listed = toolsim(['tools', '--db', db], env);
      expect(listed.status).toBe(0);
      expect(count(listed.stdout)).toBe(30);
    }
    expect(count(toolsim(['tools', '--db', db, '--server', 'tau-bench-retail']).stdout)).toBe(16);
  });

  it('ingest still reads the former TOOLSIM_SERVER, saying it is deprecated', () => {
    const dir = tempDir();
    const log = join(dir, 'calls.jsonl');
    writeFileSync(
      log,
      `${JSON.stringify({
        messages: [
          { role: 'assistant', tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_time', arguments: '{}' } }] },
          { role: 'tool', tool_call_id: 'c1', content: '12:00' },
        ],
      })}\n`,
    );
    const db = join(dir, 'cache.db');
    const result = toolsim(['ingest', log, '--db', db, '--format', 'openai-chat'], { TOOLSIM_SERVER: 'clock' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('toolsim: TOOLSIM_SERVER is deprecated; use TOOLSIM_INGEST_SERVER');
    const listed = JSON.parse(toolsim(['tools', '--db', db, '--format', 'mcp'], { TOOLSIM_SERVER: 'elsewhere' }).stdout) as {
      tools: { name: string }[];
    };
    expect(listed.tools.map((t) => t.name)).toEqual(['get_time']);
    expect(toolsim(['tools', '--db', db, '--server', 'clock']).status).toBe(0);
  });

  it('`tools --help` describes its own --server, without an environment variable', () => {
    const help = toolsim(['tools', '--help']).stdout;
    const line = help.split('\n').find((l) => l.startsWith('  --server'));
    expect(line).toMatch(/only the tools of this recorded server/);
    expect(line).not.toMatch(/transcript|env /);
    expect(toolsim(['ingest', '--help']).stdout).toMatch(/--server VALUE +server of transcript calls .*env TOOLSIM_INGEST_SERVER/);
  });

  it('`tools --server` with an unknown server fails (exit 1) naming the recorded ones', () => {
    const db = sampleCache();
    const typo = toolsim(['tools', '--db', db, '--server', 'tau-bench-retial']);
    expect(typo.status).toBe(1);
    expect(typo.stdout).toBe('');
    expect(typo.stderr).toBe(
      'toolsim tools: no recorded server "tau-bench-retial"; did you mean "tau-bench-retail"? (recorded: tau-bench-airline, tau-bench-retail)\n',
    );
    const far = toolsim(['tools', '--db', db, '--server', 'nope']);
    expect(far.status).toBe(1);
    expect(far.stderr).toBe('toolsim tools: no recorded server "nope"; recorded: tau-bench-airline, tau-bench-retail\n');
  });

  it('GET /v1/tools?server= of an unknown server is a 404 like /mcp/nope, in every format', async () => {
    const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
    const { app } = await appOf(cache.store);
    for (const url of ['/v1/tools?server=nope', '/v1/tools?server=nope&format=openai', '/mcp/nope', '/servers/nope/mcp']) {
      const response = await app.inject({
        method: url.startsWith('/v1') ? 'GET' : 'POST',
        url,
        headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        ...(url.startsWith('/v1') ? {} : { payload: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}' }),
      });
      expect(response.statusCode, url).toBe(404);
      expect(response.json(), url).toEqual({
        error: { code: 'not_found', message: 'no recorded server "nope"; recorded: tau-bench-airline, tau-bench-retail' },
      });
    }
    // A name longer than any recorded one is refused by the schema, before any comparison.
    const long = await app.inject({ url: `/v1/tools?server=${'x'.repeat(300)}` });
    expect([long.statusCode, long.json().error.code]).toEqual([400, 'invalid_request']);
    const near = await app.inject({ url: '/v1/tools?server=tau-bench-airlines' });
    expect(near.json().error.message).toMatch(/did you mean "tau-bench-airline"\?/);
    const known = await app.inject({ url: '/v1/tools?server=tau-bench-airline' });
    expect(known.statusCode).toBe(200);
    expect(known.json().tools).toHaveLength(14);
  });
});

describe('first errors say what to do', () => {
  it('a missing cache names the commands that make one, for every command that reads it', () => {
    const db = join(tempDir(), 'none.db');
    for (const command of [['serve', '--port', '0'], ['stats'], ['tools'], ['explain', '--tool', 'x'], ['replay', TAU_BENCH]]) {
      const result = toolsim([...command, '--db', db]);
      expect(result.status, command[0]).toBe(1);
      expect(result.stderr, command[0]).toContain(`no cache at ${db}: run \`npm run sample\` or \`toolsim ingest FILE --db ${db}\` first`);
      expect(result.stderr, command[0]).not.toMatch(/unable to open database file/);
    }
  });

  it('a --db that names a directory says so, for reading and ingesting alike', () => {
    const dir = tempDir();
    for (const args of [
      ['stats', '--db', dir],
      ['ingest', TAU_BENCH_TOOLS, '--db', dir],
    ]) {
      const result = toolsim(args);
      expect(result.status, args[0]).toBe(1);
      expect(result.stderr, args[0]).toContain(`${dir} is a directory; --db names the cache file (e.g. ${join(dir, 'toolsim.db')})`);
    }
  });

  it('an unknown flag is answered with the closest flags of the command, or the commands that have it', () => {
    const cases: [string[], string][] = [
      [['serve', '--prot', '9090'], 'toolsim serve: unknown option --prot; did you mean --port?'],
      [['serve', '--llm-concurency', '2'], 'toolsim serve: unknown option --llm-concurency; did you mean --llm-concurrency?'],
      [['replay', '--max-mis', '0.1', 'x'], 'toolsim replay: unknown option --max-mis; did you mean --max-miss?'],
      [['tools', '--servr', 'x'], 'toolsim tools: unknown option --servr; did you mean --server?'],
      [
        ['tools', '--price-input', '1'],
        'toolsim tools: unknown option --price-input: it is an option of toolsim report, not of toolsim tools',
      ],
      [['stats', '--colour'], 'toolsim stats: unknown option --colour; `toolsim stats --help` lists its options'],
    ];
    for (const [args, first] of cases) {
      const result = toolsim(args);
      expect(result.status, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0], args.join(' ')).toBe(first);
      expect(result.stderr.split('\n')[1], args.join(' ')).toMatch(/^usage: toolsim /);
    }
  });

  it('an unknown server message stays bounded: the name cut, the recorded ones counted past 20', () => {
    const servers = Array.from({ length: 50 }, (_, i) => `server-${String(i).padStart(2, '0')}`);
    const message = unknownServer('y'.repeat(5000), servers);
    expect(message.length).toBeLessThan(400);
    expect(message).toContain(`"${'y'.repeat(100)}…"`);
    expect(message).toMatch(/server-19 and 30 more$/);
    expect(unknownServer('server-7', servers)).toMatch(/did you mean "server-07"/);
    // Past 256 characters nothing is compared (no recorded name is that long).
    expect(closest('z'.repeat(100_000), servers)).toEqual([]);
    expect(closest(`server-07${'z'.repeat(300)}`, servers)).toEqual([]);
  });

  it('closest() ranks by edits (a transposition is one), and offers nothing far', () => {
    expect(distance('prot', 'port')).toBe(1);
    expect(distance('kitten', 'sitting')).toBe(3);
    expect(closest('prot', ['port', 'host', 'db'])).toEqual(['port', 'host'].slice(0, 1));
    expect(closest('x', ['db', 'json'])).toEqual([]);
    expect(closest('retail', ['tau-bench-retail', 'tau-bench-airline'])).toEqual(['tau-bench-retail']);
  });

  it('the server says where its Swagger UI is when it is ready', async () => {
    const db = sampleCache();
    const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--db', db, '--port', '0', '--fuzzy', 'off'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    const ready = await new Promise<{ msg: string; url: string; docs: string }>((resolve, reject) => {
      child.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n').find((l) => l.includes('"docs"'));
        if (line) resolve(JSON.parse(line) as { msg: string; url: string; docs: string });
      });
      child.on('exit', () => reject(new Error(`server exited: ${out}`)));
    });
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.docs).toBe(`${ready.url}/docs`);
    expect(ready.msg).toBe(`toolsim serving on ${ready.url}; Swagger UI at ${ready.url}/docs`);
    const docs = await fetch(ready.docs);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
    child.kill('SIGTERM');
  });
});

describe('a per-server MCP URL ending in /mcp', () => {
  it('/servers/{server}/mcp is that server, as /mcp/{server} is, for the SDK client', async () => {
    const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
    const { app } = await appOf(cache.store);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const listed: Record<string, string[]> = {};
    for (const path of ['/servers/tau-bench-retail/mcp', '/mcp/tau-bench-retail', '/mcp']) {
      const client = new Client({ name: 'first-hour', version: '1.0.0' });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${url}${path}`)));
      onCleanup(() => client.close());
      listed[path] = (await client.listTools()).tools.map((t) => t.name);
      if (path !== '/mcp') {
        const answer = await client.callTool({ name: 'get_user_details', arguments: { user_id: 'yusuf_rossi_9620' } });
        expect(answer.isError, path).toBe(false);
        expect(answer._meta, path).toBeUndefined(); // an exact replay
      }
    }
    expect(listed['/servers/tau-bench-retail/mcp']).toHaveLength(16);
    expect(listed['/servers/tau-bench-retail/mcp']).toEqual(listed['/mcp/tau-bench-retail']);
    // The combined server is another one: 30 tools, shared names written mcp__<server>__<tool>.
    expect(listed['/mcp']).toHaveLength(30);
    expect(listed['/mcp']).toContain('mcp__tau-bench-retail__get_user_details');
    for (const method of ['GET', 'DELETE']) {
      const response = await fetch(`${url}/servers/tau-bench-retail/mcp`, { method });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('POST');
    }
  });
});
