/**
 * The load balancer examples of deploy/, checked as shipped by the real programs (Debian's
 * packages, which .ci/run installs): `haproxy -c` on deploy/haproxy/haproxy.cfg, a whole HAProxy
 * configuration, and `nginx -t` on deploy/nginx/conf.d/toolsim.conf, a conf.d file, included
 * inside an `http {}` block as the stock nginx.conf includes conf.d/*.conf. nginx runs with a
 * temporary prefix, pid and error log, no daemon, so the test needs no root and touches no
 * system file. Then calls through the nginx example for real, past a replica that refuses and one
 * that drains. Under CI=true a missing program is a failure, never a silent skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appOf, cacheOf, freePort, onCleanup, ROOT, TAU_BENCH, TAU_BENCH_TOOLS, tempDir } from './helpers.js';
import { until } from './support/ready.js';

const HAPROXY_CFG = join(ROOT, 'deploy/haproxy/haproxy.cfg');
const NGINX_CONF_D = join(ROOT, 'deploy/nginx/conf.d/toolsim.conf');

function find(name: string, paths: string[]): string | undefined {
  const found = paths.find((p) => existsSync(p));
  if (!found) {
    if (process.env['CI'] === 'true') throw new Error(`${name} not found; .ci/run installs Debian's ${name} package`);
    console.warn(`${name} not found: its checks are skipped (apt-get install ${name}; .ci/run does)`);
  }
  return found;
}
const HAPROXY = find('haproxy', ['/usr/sbin/haproxy', '/usr/bin/haproxy']);
const NGINX = find('nginx', ['/usr/sbin/nginx', '/usr/bin/nginx']);

function run(bin: string, args: string[]): { status: number | null; output: string } {
  const result = spawnSync(bin, args, { encoding: 'utf8', timeout: 30_000 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** A main nginx.conf under `prefix` whose `http {}` block holds `body`; its path. */
function nginxMain(prefix: string, body: string, level = 'error'): string {
  const main = join(prefix, 'nginx.conf');
  writeFileSync(
    main,
    [
      `pid ${join(prefix, 'nginx.pid')};`,
      `error_log ${join(prefix, 'error.log')} ${level};`,
      'events {}',
      'http {',
      // Temp paths under the prefix: the defaults are system folders a test must not need.
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(prefix, t)};`),
      `  access_log ${join(prefix, 'access.log')};`,
      body,
      '}',
      '',
    ].join('\n'),
  );
  return main;
}

/** `nginx -t` on a main configuration whose `http {}` block holds `body`, under a temporary prefix. */
function nginxTest(body: string): { status: number | null; output: string } {
  const prefix = tempDir();
  const main = nginxMain(prefix, body);
  return run(NGINX!, ['-t', '-p', `${prefix}/`, '-e', join(prefix, 'error.log'), '-c', main, '-g', 'daemon off;']);
}

describe('deploy/haproxy/haproxy.cfg', () => {
  it.skipIf(!HAPROXY)('passes haproxy -c as shipped', () => {
    const result = run(HAPROXY!, ['-c', '-f', HAPROXY_CFG]);
    expect(result.output).toMatch(/Configuration file is valid/);
    expect(result.output).not.toMatch(/\[WARNING\]|\[ALERT\]/);
    expect(result.status).toBe(0);
  });

  it.skipIf(!HAPROXY)('the check fails on a broken copy (it can fail)', () => {
    const broken = join(tempDir(), 'haproxy.cfg');
    writeFileSync(broken, readFileSync(HAPROXY_CFG, 'utf8').replace('balance leastconn', 'balance fastest'));
    expect(run(HAPROXY!, ['-c', '-f', broken]).status).not.toBe(0);
  });
});

describe('deploy/nginx/conf.d/toolsim.conf', () => {
  it('is a conf.d file and says so', () => {
    const text = readFileSync(NGINX_CONF_D, 'utf8');
    expect(text).toMatch(/conf\.d\/toolsim\.conf/);
    expect(text).toMatch(/http block/);
    expect(text).not.toMatch(/^\s*(http|events)\s*\{/m);
  });

  it.skipIf(!NGINX)('passes nginx -t as shipped, included from an http block as the stock nginx.conf does', () => {
    const result = nginxTest(`  include ${NGINX_CONF_D};`);
    expect(result.output).toMatch(/syntax is ok/);
    expect(result.output).toMatch(/test is successful/);
    expect(result.output).not.toMatch(/\[warn\]|\[emerg\]/);
    expect(result.status).toBe(0);
  });

  it.skipIf(!NGINX)('the check fails on a broken copy and on the file used as a whole nginx.conf', () => {
    const broken = join(tempDir(), 'toolsim.conf');
    writeFileSync(broken, readFileSync(NGINX_CONF_D, 'utf8').replace('least_conn;', 'least_connections;'));
    const result = nginxTest(`  include ${broken};`);
    expect(result.status).not.toBe(0);
    expect(result.output).toMatch(/unknown directive "least_connections"/);
    // Outside an http block (the mistake the old name invited), upstream is refused.
    const prefix = tempDir();
    const alone = run(NGINX!, ['-t', '-p', `${prefix}/`, '-e', join(prefix, 'error.log'), '-c', NGINX_CONF_D]);
    expect(alone.status).not.toBe(0);
    expect(alone.output).toMatch(/"upstream" directive is not allowed here/);
  });

  it.skipIf(!NGINX)('proxies calls to toolsim, past a refused replica and a draining one (503), as shipped but for addresses', async () => {
    const cache = await cacheOf([TAU_BENCH, TAU_BENCH_TOOLS]);
    const serving = await appOf(cache.store);
    const live = new URL(await serving.app.listen({ host: '127.0.0.1', port: 0 }));
    const draining = await appOf(cache.store);
    const closing = new URL(await draining.app.listen({ host: '127.0.0.1', port: 0 }));
    draining.app.drain(); // answers 503 shutting_down from now on
    const refused = await freePort(); // nothing listens there
    const port = await freePort();
    // The shipped file with only its addresses replaced: the three replicas, and the listen port.
    const shipped = readFileSync(NGINX_CONF_D, 'utf8');
    const servers = [`127.0.0.1:${refused}`, `127.0.0.1:${closing.port}`, `127.0.0.1:${live.port}`];
    let i = 0;
    const config = shipped
      .replace(/^(\s*server )[\d.]+:\d+( max_fails)/gm, (_, head: string, tail: string) => `${head}${servers[i++]}${tail}`)
      .replace(/listen 8080;/, `listen 127.0.0.1:${port};`);
    expect(i).toBe(3);
    const prefix = tempDir();
    writeFileSync(join(prefix, 'toolsim.conf'), config);
    const main = nginxMain(prefix, `  include ${join(prefix, 'toolsim.conf')};`, 'info');
    const nginx = spawn(
      NGINX!,
      ['-p', `${prefix}/`, '-e', join(prefix, 'error.log'), '-c', main, '-g', 'daemon off; master_process off;'],
      {
        stdio: 'ignore',
      },
    );
    onCleanup(() => {
      nginx.kill('SIGKILL');
    });
    const base = `http://127.0.0.1:${port}`;
    await until(
      () =>
        fetch(`${base}/healthz`).then(
          (r) => r.ok,
          () => false,
        ),
      'nginx to answer /healthz',
    );
    const call = { tool: 'find_user_id_by_name_zip', arguments: { first_name: 'Yusuf', last_name: 'Rossi', zip: '19122' } };
    // One after another: least_conn then takes the replicas in turn, so each bad one is met (and
    // marked failed, max_fails=2) whatever the timing.
    const answers: unknown[] = [];
    for (let n = 0; n < 12; n++) {
      const response = await fetch(`${base}/v1/call`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(call),
      });
      answers.push([response.status, ((await response.json()) as { tier?: string }).tier]);
    }
    expect(answers).toEqual(Array.from({ length: 12 }, () => [200, 'exact']));
    // Both bad replicas were tried and passed over (nginx's log says so), every POST retried elsewhere.
    const log = readFileSync(join(prefix, 'error.log'), 'utf8');
    expect(log).toMatch(new RegExp(`Connection refused.*upstream: "http://127\\.0\\.0\\.1:${refused}/`));
    expect(log).toMatch(new RegExp(`reading response header.*upstream: "http://127\\.0\\.0\\.1:${closing.port}/`));
    const exact = await fetch(`${base}/v1/tools?server=nope`);
    expect(exact.status).toBe(404); // errors pass through as the replica sent them
  });
});
