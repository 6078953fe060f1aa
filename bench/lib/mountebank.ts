/**
 * Mountebank, the peer: installed on demand into bench/.peer (gitignored, never a dependency of the
 * project), run on loopback with logging off, one imposter whose stubs match the exact body.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PEER } from './paths.js';
import { freePort, startChild } from './procs.js';

const MB = join(PEER, 'node_modules/mountebank/bin/mb');

export interface Mountebank {
  url: string;
  pid: number;
  version: string;
  stop(): Promise<void>;
}

function ensureInstalled(): void {
  if (existsSync(MB)) return;
  process.stderr.write('bench: installing mountebank into bench/.peer (once)\n');
  const result = spawnSync('npm', ['install', '--prefix', PEER, '--no-audit', '--no-fund', '--no-save', 'mountebank@2'], {
    stdio: 'inherit',
  });
  if (result.status !== 0 || !existsSync(MB)) throw new Error('npm install --prefix bench/.peer mountebank failed');
}

export async function startMountebank(bodies: readonly string[], answers: readonly string[]): Promise<Mountebank> {
  ensureInstalled();
  const version = (JSON.parse(readFileSync(join(PEER, 'node_modules/mountebank/package.json'), 'utf8')) as { version: string }).version;
  const apiPort = await freePort();
  const api = await startChild({
    command: process.execPath,
    args: [
      MB,
      'start',
      '--port',
      String(apiPort),
      '--host',
      '127.0.0.1',
      '--localOnly',
      '--loglevel',
      'error',
      '--nologfile',
      '--pidfile',
      join(PEER, 'mb.pid'),
    ],
    cwd: PEER,
    port: apiPort,
    probe: '/config',
  });
  const port = await freePort();
  const imposter = {
    protocol: 'http',
    port,
    host: '127.0.0.1',
    recordRequests: false,
    defaultResponse: { statusCode: 404, headers: { Connection: 'keep-alive' }, body: '' },
    stubs: bodies.map((body, i) => ({
      predicates: [{ equals: { body }, caseSensitive: true }],
      responses: [
        {
          is: {
            statusCode: 200,
            headers: { 'Content-Type': 'application/json; charset=utf-8', Connection: 'keep-alive' },
            body: answers[i]!,
          },
        },
      ],
    })),
  };
  const response = await fetch(`${api.url}/imposters`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(imposter),
  });
  if (response.status !== 201) {
    await api.stop();
    throw new Error(`mountebank refused the imposter: ${response.status} ${(await response.text()).slice(0, 300)}`);
  }
  await response.arrayBuffer();
  return { url: `http://127.0.0.1:${port}`, pid: api.proc.pid!, version, stop: () => api.stop() };
}
