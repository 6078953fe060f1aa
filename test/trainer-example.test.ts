/** The README's trainer example (examples/trainer.py, standard library only) against a real server. */
import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config.js';
import { SERVE_OPTIONS, startServer } from '../src/server.js';
import { cacheOf, onCleanup, ROOT, TAU_BENCH } from './helpers.js';

const hasPython = spawnSync('python3', ['--version']).status === 0;
if (!hasPython) console.warn('python3 not found: the trainer example test is skipped');

describe.skipIf(!hasPython)('examples/trainer.py', () => {
  it('posts calls and reads their tiers from a server on loopback', async () => {
    const cache = await cacheOf([TAU_BENCH]);
    const server = await startServer(resolveConfig(SERVE_OPTIONS, { db: cache.path, port: '0', 'log-level': 'silent' }, {}));
    onCleanup(() => server.close());
    const { stdout } = await promisify(execFile)('python3', [join(ROOT, 'examples/trainer.py'), '--url', server.url], { timeout: 20_000 });
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toBe('exact  find_user_id_by_name_zip -> "yusuf_rossi_9620"');
    expect(
      lines.filter((l) => /^exact {2}get_order_details \{"order_id": "#W2378156"\} -> \d+ bytes \(reward-safe: True\)$/.test(l)),
    ).toHaveLength(8);
    // The reason depends on whether the fuzzy tier is configured; the tier does not.
    expect(
      lines.filter((l) => /^miss {3}get_order_details \{"order_id": "#W0000000"\} -> [a-z_]+ \(reward-safe: False\)$/.test(l)),
    ).toHaveLength(1);
    expect(lines.slice(-2)).toEqual(['siblings agree: True', 'tiers: exact 8, miss 1']);
  });
});
