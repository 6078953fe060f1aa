/**
 * A generated corpus of malformed and hostile HTTP requests. Every entry must get a 4xx with a JSON
 * error body; none may reach a 5xx.
 */

export interface HostileRequest {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
}

export interface CorpusLimits {
  bodyLimit: number;
  maxBatch: number;
}

const CALL_ROUTES = ['/v1/call', '/v1/servers/shop/tools/lookup'] as const;
const JSON_TYPE = { 'content-type': 'application/json' };

const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const json = (value: unknown): Buffer => text(JSON.stringify(value));

/** Bodies that are not JSON at all. */
const BROKEN_JSON = [
  '{',
  '}',
  '{"tool":',
  '{"tool":"x",}',
  "{'tool':'x'}",
  '{"tool":"x" "arguments":{}}',
  'undefined',
  'NaN',
  '{"tool":"x","arguments":{}}}',
  '[1,2',
  '"unterminated',
  '{"a":1e}',
  '{"a":-}',
  '{"a":01}',
  '{"a":.5}',
  '{"a":tru}',
  '{"a":nul}',
  '\u0000',
  '{"a":"\\x41"}',
  '{"a":"\\u12"}',
  '{"a":"line\nbreak"}',
  '/* c */ {}',
  '{"tool":"x","arguments":{}} trailing',
  '{,}',
  '{"":}',
  ':',
  '\ufeff{"tool":"x","arguments":{}',
  'Infinity',
  '{"a":[}',
  '{"a":{"b":}}',
];

/** Values of every JSON type but the one a field wants. */
const NOT_A_STRING = [1, 1.5, -0, true, false, null, [], ['x'], {}, { a: 1 }];
const NOT_AN_OBJECT = [1, 0, -1.5, true, false, null, [], [1, 2], [{}]];
const BAD_ARGUMENT_STRINGS = ['not json', '[1,2]', '1', 'null', 'true', '"str"', '{', '{"a":}', ''];

/** Invalid UTF-8 byte sequences. */
const BAD_UTF8: Buffer[] = [
  Buffer.from([0xff]),
  Buffer.from([0xfe, 0xfe]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xc0, 0xaf]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xe2, 0x82]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0x80]),
];

function deep(levels: number, leaf: string, open = '{"a":', close = '}'): string {
  return open.repeat(levels) + leaf + close.repeat(levels);
}

export function hostileCorpus(limits: CorpusLimits): HostileRequest[] {
  const corpus: HostileRequest[] = [];
  const add = (name: string, method: string, path: string, body?: Buffer, headers: Record<string, string> = JSON_TYPE): void => {
    corpus.push({ name, method, path, headers, ...(body === undefined ? {} : { body }) });
  };
  const allPosts = [...CALL_ROUTES, '/v1/calls'];

  // Invalid JSON, on every POST route.
  for (const route of allPosts) for (const [i, body] of BROKEN_JSON.entries()) add(`broken json #${i} ${route}`, 'POST', route, text(body));
  // Empty bodies.
  for (const route of allPosts) {
    add(`empty body ${route}`, 'POST', route, Buffer.alloc(0));
    add(`whitespace body ${route}`, 'POST', route, text('  \n '));
  }

  // Wrong content types.
  const valid = json({ tool: 'lookup', arguments: { id: 1 } });
  const types = [
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/xml',
    'text/json',
    'application/octet-stream',
    'image/png',
    'application/jsonx',
    'json',
    'application/json; charset=latin1;;;=',
  ];
  for (const route of allPosts) {
    for (const type of types) add(`content-type ${type} ${route}`, 'POST', route, valid, { 'content-type': type });
    add(`no content-type ${route}`, 'POST', route, valid, {});
  }

  // Bodies that are JSON but not an object.
  for (const route of allPosts)
    for (const value of NOT_AN_OBJECT) add(`body ${JSON.stringify(value)} ${route}`, 'POST', route, json(value));
  for (const route of allPosts) add(`body string ${route}`, 'POST', route, json('tool'));

  // Wrong types for every field of a call.
  for (const value of NOT_A_STRING) {
    add(`tool ${JSON.stringify(value)}`, 'POST', '/v1/call', json({ tool: value, arguments: {} }));
    add(`server ${JSON.stringify(value)}`, 'POST', '/v1/call', json({ server: value, tool: 'lookup', arguments: {} }));
    add(`trajectory_id ${JSON.stringify(value)}`, 'POST', '/v1/call', json({ tool: 'lookup', arguments: {}, trajectory_id: value }));
  }
  for (const value of NOT_AN_OBJECT) {
    add(`arguments ${JSON.stringify(value)}`, 'POST', '/v1/call', json({ tool: 'lookup', arguments: value }));
    add(
      `arguments ${JSON.stringify(value)} on a known server`,
      'POST',
      '/v1/call',
      json({ server: 'shop', tool: 'lookup', arguments: value }),
    );
  }
  for (const value of BAD_ARGUMENT_STRINGS) {
    add(`arguments string ${JSON.stringify(value)}`, 'POST', '/v1/call', json({ tool: 'lookup', arguments: value }));
  }
  add('tool empty', 'POST', '/v1/call', json({ tool: '', arguments: {} }));
  add('server empty', 'POST', '/v1/call', json({ server: '', tool: 'lookup', arguments: {} }));
  add('no tool', 'POST', '/v1/call', json({ arguments: {} }));
  add('no arguments', 'POST', '/v1/call', json({ tool: 'lookup' }));
  add('empty object', 'POST', '/v1/call', json({}));
  add('ambiguous tool', 'POST', '/v1/call', json({ tool: 'shared', arguments: {} }));
  add('NaN in arguments string', 'POST', '/v1/call', json({ tool: 'lookup', arguments: '{"a":NaN}' }));
  add('NFC-colliding keys', 'POST', '/v1/call', json({ tool: 'lookup', arguments: { 'e\u0301': 1, '\u00e9': 2 } }));
  add('empty path tool', 'POST', '/v1/servers/shop/tools/', valid);

  // Batches that are malformed as a whole.
  for (const value of [...NOT_AN_OBJECT.filter((v) => !Array.isArray(v)), 'calls', { call: [] }]) {
    add(`calls ${JSON.stringify(value)}`, 'POST', '/v1/calls', json({ calls: value }));
  }
  add('batch without calls', 'POST', '/v1/calls', json({}));
  const item = { tool: 'lookup', arguments: { id: 1 } };
  for (const extra of [1, 2, 50, 1000]) {
    add(`oversize batch +${extra}`, 'POST', '/v1/calls', json({ calls: Array.from({ length: limits.maxBatch + extra }, () => item) }));
  }

  // Deep nesting: 10,000 levels in every place a value can go.
  for (const levels of [65, 1000, 10_000]) {
    add(`arguments nested ${levels}`, 'POST', '/v1/call', text(`{"tool":"lookup","arguments":${deep(levels, '1')}}`));
    add(`arguments array nested ${levels}`, 'POST', '/v1/call', text(`{"tool":"lookup","arguments":{"a":${deep(levels, '1', '[', ']')}}}`));
    add(`arguments string nested ${levels}`, 'POST', '/v1/call', json({ tool: 'lookup', arguments: deep(levels, '1') }));
    add(`path body nested ${levels}`, 'POST', CALL_ROUTES[1], text(deep(levels, '1')));
    add(`body nested ${levels}`, 'POST', '/v1/call', text(deep(levels, '1', '[', ']')));
    add(`tool nested ${levels}`, 'POST', '/v1/call', text(`{"tool":${deep(levels, '1')},"arguments":{}}`));
    add(`batch nested ${levels}`, 'POST', '/v1/calls', text(`{"calls":${deep(levels, '1')}}`));
  }

  // Multi-megabyte strings where no such string belongs.
  const big = 'x'.repeat(3 * 1024 * 1024);
  add('3 MB tool', 'POST', '/v1/call', json({ tool: big, arguments: {} }));
  add('3 MB server', 'POST', '/v1/call', json({ server: big, tool: 'lookup', arguments: {} }));
  add('3 MB trajectory id', 'POST', '/v1/call', json({ tool: 'lookup', arguments: {}, trajectory_id: big }));
  add('3 MB arguments string, not JSON', 'POST', '/v1/call', json({ tool: 'lookup', arguments: big }));
  add('3 MB tool in a batch envelope', 'POST', '/v1/calls', json({ calls: big }));

  // Bodies over the limit, declared and undeclared.
  const over = Buffer.alloc(limits.bodyLimit + 1, 0x20);
  for (const route of allPosts) {
    add(`over the limit ${route}`, 'POST', route, Buffer.concat([text('{"tool":"'), over, text('"}')]));
    add(`over the limit, whitespace ${route}`, 'POST', route, over);
  }

  // Prototype pollution attempts in the body.
  const protoBodies = [
    '{"tool":"lookup","arguments":{},"__proto__":{"polluted":"yes"}}',
    '{"tool":"lookup","arguments":{"__proto__":{"polluted":"yes"}}}',
    '{"tool":"lookup","arguments":{"a":{"b":{"__proto__":{"polluted":"yes"}}}}}',
    '{"tool":"lookup","arguments":{"constructor":{"prototype":{"polluted":"yes"}}}}',
    '{"tool":"lookup","arguments":{},"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"tool":"lookup","arguments":[{"__proto__":{"polluted":"yes"}}]}',
    '{"calls":[{"tool":"lookup","arguments":{"__proto__":{"polluted":"yes"}}}]}',
    '{"__proto__":{"polluted":"yes"},"calls":[]}',
    '{"tool":"lookup","arguments":{"x":[[{"__proto__":{"polluted":"yes"}}]]}}',
  ];
  for (const route of allPosts) for (const [i, body] of protoBodies.entries()) add(`proto #${i} ${route}`, 'POST', route, text(body));

  // Invalid UTF-8 in every field.
  for (const route of allPosts) {
    for (const [i, bad] of BAD_UTF8.entries()) {
      add(`bad utf8 #${i} in tool ${route}`, 'POST', route, Buffer.concat([text('{"tool":"'), bad, text('","arguments":{}}')]));
      add(
        `bad utf8 #${i} in argument ${route}`,
        'POST',
        route,
        Buffer.concat([text('{"tool":"lookup","arguments":{"q":"'), bad, text('"}}')]),
      );
      add(`bad utf8 #${i} in key ${route}`, 'POST', route, Buffer.concat([text('{"tool":"lookup","arguments":{"'), bad, text('":1}}')]));
      add(
        `bad utf8 #${i} in server ${route}`,
        'POST',
        route,
        Buffer.concat([text('{"server":"'), bad, text('","tool":"lookup","arguments":{}}')]),
      );
      add(
        `bad utf8 #${i} in nested value ${route}`,
        'POST',
        route,
        Buffer.concat([text('{"tool":"lookup","arguments":{"a":[{"b":"'), bad, text('"}]}}')]),
      );
    }
  }

  // Unknown routes and methods.
  const paths = [
    '/',
    '/v1',
    '/v2/call',
    '/v1/call/',
    '/v1/calls/1',
    '/admin/reload',
    '/admin',
    '/v1/servers/shop/tools',
    '/v1/servers//tools/lookup',
    '/../../etc/passwd',
    '/v1/call%00',
    '/%2e%2e/%2e%2e',
    '/v1/tools/extra',
    '/metrics/x',
    '/.env',
    '/v1/servers/shop/tools/lookup/extra',
    '/docs/../../../etc',
    `/${'a'.repeat(4000)}`,
  ];
  for (const path of paths) {
    add(`GET ${path.slice(0, 40)}`, 'GET', path);
    add(`POST ${path.slice(0, 40)}`, 'POST', path, valid);
  }
  // HEAD is left out: its answers have no body to hold the JSON error.
  for (const method of ['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'GET']) {
    for (const route of allPosts) add(`${method} ${route}`, method, route, method === 'GET' ? undefined : valid);
  }
  for (const method of ['PUT', 'DELETE']) for (const path of paths) add(`${method} ${path.slice(0, 40)}`, method, path, valid);
  const long = 'n'.repeat(300);
  add('path tool too long', 'POST', `/v1/servers/shop/tools/${long}`, valid);
  add('path server too long', 'POST', `/v1/servers/${long}/tools/lookup`, valid);
  add('tool too long', 'POST', '/v1/call', json({ tool: long, arguments: {} }));
  add('server too long', 'POST', '/v1/call', json({ server: long, tool: 'lookup', arguments: {} }));
  for (const method of ['DELETE', 'PUT', 'POST']) {
    for (const route of ['/healthz', '/readyz', '/metrics', '/v1/tools']) add(`${method} ${route}`, method, route, valid);
  }
  return corpus;
}
