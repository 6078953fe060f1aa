/**
 * A throwaway PostgreSQL for tests, from Debian's `postgresql` package: `initdb` in a temp folder,
 * a free loopback port, its unix socket in the same folder, run as the `postgres` user when we are
 * root (PostgreSQL refuses to run as root). Stopped and started again at will (outage tests).
 *
 *   const pg = await startPostgres();   // undefined when the binaries are missing (an error under CI=true)
 *   pg.url; await pg.stop(); await pg.start(); await pg.close();
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../helpers.js';

const run = promisify(execFile);

export interface Postgres {
  /** postgres://toolsim@127.0.0.1:PORT/postgres */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown: connections are closed, as when the database goes away mid-run. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data. */
  start(): Promise<void>;
  /** Stops it and removes its folder. */
  close(): Promise<void>;
}

/** The newest PostgreSQL's bin folder, or undefined. */
export function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/**
 * Starts a fresh PostgreSQL. Without the binaries it returns undefined (the caller skips, saying
 * so), except under CI=true, where .ci/run installs them: there it throws.
 */
export async function startPostgres(): Promise<Postgres | undefined> {
  const bin = postgresBin();
  if (!bin) {
    if (process.env['CI'] === 'true')
      throw new Error('PostgreSQL binaries not found under /usr/lib/postgresql: apt-get install postgresql');
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const as = (command: string, args: string[]): Promise<{ stdout: string; stderr: string }> =>
    asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, command), ...args]) : run(join(bin, command), args);
  await as('initdb', ['-D', data, '-U', 'toolsim', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions']);
  const port = await freePort();
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=60',
  ].join(' ');
  let running = false;
  const start = async (): Promise<void> => {
    await as('pg_ctl', ['start', '-D', data, '-w', '-t', '30', '-l', join(dir, 'log'), '-o', options]);
    running = true;
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await as('pg_ctl', ['stop', '-D', data, '-w', '-m', 'fast']);
  };
  await start();
  return {
    url: `postgres://toolsim@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async close() {
      await stop().catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
