/**
 * The README cannot drift: every `curl` example in it is run, in order, against a real server on
 * the bundled sample (calls and tool schemas, the fuzzy tier off), and the output shown under it
 * (`# ` lines) must match the answer, `…` standing for anything left out. The sample's Swagger
 * examples are held to the same answers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MISS_ANSWER, REQUEST_EXAMPLES, RESPONSE_EXAMPLES } from '../src/http/schemas.js';
import { appOf, cacheOf, ROOT, TAU_BENCH, TAU_BENCH_TOOLS } from './helpers.js';

interface Example {
  line: number;
  command: string;
  expected?: string;
}

/** The curl commands of the README's ```sh blocks, with the output shown in the `# ` lines after each. */
function curlExamples(markdown: string): Example[] {
  const examples: Example[] = [];
  const lines = markdown.split('\n');
  let inBlock = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      inBlock = !inBlock && line.trim() === '```sh';
      continue;
    }
    if (!inBlock || !line.startsWith('curl ')) continue;
    const start = i;
    let command = line;
    while (command.endsWith('\\')) command = `${command.slice(0, -1)} ${lines[++i]!.trim()}`;
    const shown: string[] = [];
    while (lines[i + 1]?.startsWith('#')) shown.push(lines[++i]!.replace(/^#\s*/, ''));
    examples.push({ line: start + 1, command, ...(shown.length > 0 ? { expected: shown.join('') } : {}) });
  }
  return examples;
}

/** Words of a shell command line: single and double quotes, no expansions (the README uses none). */
function shellWords(text: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of text.matchAll(pattern)) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!);
  return words;
}

/** The request a curl command line makes (-s, -H, -d, the URL), up to a pipe. */
function request(command: string, base: string): { url: string; init: RequestInit } {
  const words = shellWords(command.split(' | ')[0]!);
  const headers: Record<string, string> = {};
  let body: string | undefined;
  let url = '';
  for (let i = 1; i < words.length; i++) {
    const word = words[i]!;
    if (word === '-s') continue;
    if (word === '-H') {
      const [name, ...value] = words[++i]!.split(':');
      headers[name!.trim().toLowerCase()] = value.join(':').trim();
    } else if (word === '-d') body = words[++i]!;
    else if (word.startsWith('-')) throw new Error(`curl option ${word} is not understood by this test`);
    else url = word.replace(/^(localhost|127\.0\.0\.1):8080/, base);
  }
  return { url, init: { method: body === undefined ? 'GET' : 'POST', headers, ...(body === undefined ? {} : { body }) } };
}

/** A regular expression for a shown output: literal text, `…` for anything. */
function shownPattern(expected: string): RegExp {
  const literal = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(
    `^${expected
      .split('…')
      .map((part) => literal(part.trim()))
      .join('[\\s\\S]*?')}$`,
  );
}

async function sampleServer() {
  const { store } = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
  const served = await appOf(store);
  const url = await served.app.listen({ host: '127.0.0.1', port: 0 });
  return { ...served, url };
}

describe('README', () => {
  it('its curl examples give the outputs it shows, against the bundled sample', async () => {
    const examples = curlExamples(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(examples.length).toBeGreaterThanOrEqual(5);
    const { url } = await sampleServer();
    for (const example of examples) {
      const { url: target, init } = request(example.command, url);
      const response = await fetch(target, init);
      const text = await response.text();
      expect(response.status, `README.md:${example.line}: ${text.slice(0, 300)}`).toBe(200);
      if (example.expected !== undefined) expect(text, `README.md:${example.line}`).toMatch(shownPattern(example.expected));
    }
  });

  it('the elision pattern matches only what it shows', () => {
    expect('{"a":1,"b":[1,2]}').toMatch(shownPattern('{"a":1,…}'));
    expect('{"a":2,"b":[1,2]}').not.toMatch(shownPattern('{"a":1,…}'));
    expect(shellWords(`curl -s 'a b' -d '{"x": "y"}'`)).toEqual(['curl', '-s', 'a b', '-d', '{"x": "y"}']);
  });
});

describe('Swagger examples', () => {
  it('every request example answers on the sample, and call responses are the ones documented', async () => {
    const { app } = await sampleServer();
    const ignoreKey = (answer: Record<string, unknown>) => ({
      ...answer,
      match: { ...(answer['match'] as object), key: expect.any(String) },
    });
    for (const [route, example] of Object.entries(REQUEST_EXAMPLES)) {
      const [method, path] = route.split(' ') as ['GET' | 'POST', string];
      const url = path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(example.params?.[name] ?? ''));
      const query = new URLSearchParams(example.querystring ?? {}).toString();
      for (const body of example.body ? Object.values(example.body) : [undefined]) {
        const response = await app.inject({
          method,
          url: query ? `${url}?${query}` : url,
          ...(body === undefined ? {} : { payload: body as object }),
        });
        expect(response.statusCode, `${route}: ${response.body.slice(0, 200)}`).toBe(200);
      }
    }
    const call = async (body: unknown) => (await app.inject({ method: 'POST', url: '/v1/call', payload: body as object })).json();
    const [exact, miss] = Object.values(RESPONSE_EXAMPLES['POST /v1/call']![200]!) as Record<string, unknown>[];
    const [exactCall, missCall] = Object.values(REQUEST_EXAMPLES['POST /v1/call']!.body!);
    expect(await call(exactCall)).toEqual(ignoreKey(exact!));
    expect(exact).not.toHaveProperty('reason');
    const missAnswer = await call(missCall);
    expect({ ...missAnswer, match: { ...missAnswer.match, neighbors: missAnswer.match.neighbors.slice(0, 2) } }).toEqual(ignoreKey(miss!));
    expect(miss).toEqual(MISS_ANSWER);
  });

  it('the OpenAPI document carries the examples and documents the 503 answers', async () => {
    const { app } = await sampleServer();
    const spec = (await app.inject({ method: 'GET', url: '/openapi.json' })).json();
    const call = spec.paths['/v1/call'].post;
    expect(call.requestBody.content['application/json'].examples['exact answer'].value).toEqual(
      REQUEST_EXAMPLES['POST /v1/call']!.body!['exact answer'],
    );
    expect(call.responses['200'].content['application/json'].examples['exact answer'].value.reason).toBeUndefined();
    for (const path of ['/v1/call', '/v1/calls', '/v1/servers/{server}/tools/{tool}', '/get_observation', '/mcp'])
      expect(Object.keys(spec.paths[path].post.responses), path).toContain('503');
    const params = spec.paths['/v1/servers/{server}/tools/{tool}'].post.parameters.filter((p: { in: string }) => p.in === 'path');
    expect(params.map((p: { example: string }) => p.example)).toEqual(['tau-bench-retail', 'find_user_id_by_name_zip']);
  });
});
