/**
 * The load balancer examples of deploy/, checked as shipped by the real programs (Debian's
 * packages, which .ci/run installs): `haproxy -c` on deploy/haproxy/haproxy.cfg, a whole HAProxy
 * configuration, and `nginx -t` on deploy/nginx/conf.d/toolsim.conf, a conf.d file, included
 * inside an `http {}` block as the stock nginx.conf includes conf.d/*.conf. nginx runs with a
 * temporary prefix, pid and error log, no daemon, so the test needs no root and touches no
 * system file. Under CI=true a missing program is a failure, never a silent skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, tempDir } from './helpers.js';

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

/** `nginx -t` on a main configuration whose `http {}` block holds `body`, under a temporary prefix. */
function nginxTest(body: string): { status: number | null; output: string } {
  const prefix = tempDir();
  const main = join(prefix, 'nginx.conf');
  writeFileSync(
    main,
    [
      `pid ${join(prefix, 'nginx.pid')};`,
      `error_log ${join(prefix, 'error.log')};`,
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
});
