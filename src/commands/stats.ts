/** `toolsim stats`: what a cache holds, per tool. */
import { statSync } from 'node:fs';
import { resolveConfig } from '../config.js';
import { percent, table } from '../core/format.js';
import { memoFileStats } from '../store/memo-sqlite.js';
import { Store } from '../store/store.js';
import { walBytes } from '../store/wal.js';
import type { Command } from './command.js';

export const statsCommand: Command = {
  usage: 'toolsim stats [--db PATH] [--json]',
  summary: 'calls, tools, servers, repeated keys and per-tool coverage of a cache',
  options: ['db', 'json'],
  async run(values) {
    const config = resolveConfig(['db', 'json'], values);
    const store = Store.open(config.db, { readonly: true });
    try {
      const stats = store.stats();
      // The files on disk: the cache, its WAL, and the fuzzy memo's file beside it (if any).
      const memo = memoFileStats(config.db);
      const files = {
        cacheBytes: statSync(config.db).size,
        cacheWalBytes: walBytes(config.db),
        memo: memo ?? null,
      };
      if (config.json) {
        process.stdout.write(`${JSON.stringify({ db: config.db, snapshot: store.snapshotId, ...stats, files }, null, 2)}\n`);
        return 0;
      }
      const summary = table(
        ['cache', 'count'],
        [
          ['calls', stats.calls],
          ['distinct calls (keys)', stats.keys],
          ['servers', stats.servers],
          ['tools', stats.tools],
          ['keys recorded once', stats.singleKeys],
          ['keys recorded more than once', stats.repeatedKeys],
          ['... whose outputs disagree', stats.disagreeingKeys],
          ['recorded failures (transient calls)', stats.transientCalls],
          ['keys with only recorded failures', stats.failureOnlyKeys],
          ['improvisations memoized (memo file)', memo?.improvisations ?? 0],
        ],
      );
      // Coverage per tool: few distinct argument sets, or many seen once, mean a test set will miss.
      const perTool = table(
        ['server', 'tool', 'calls', 'share', 'arg sets', 'seen once', 'repeated', 'disagree', 'calls/set'],
        stats.perTool.map((t) => [
          t.server,
          t.tool,
          t.calls,
          percent(t.calls, stats.calls),
          t.keys,
          t.singleKeys,
          t.repeatedKeys,
          t.disagreeingKeys,
          t.keys === 0 ? '-' : (t.calls / t.keys).toFixed(1),
        ]),
      );
      const note =
        'arg sets: distinct argument sets (keys); seen once: recorded a single time; disagree: keys whose recorded outputs differ (hidden state)';
      const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      const sizes = `files: ${config.db} ${mb(files.cacheBytes)} (WAL ${mb(files.cacheWalBytes)})${memo ? `, ${memo.path} ${mb(memo.bytes)} (WAL ${mb(memo.walBytes)})` : ', no memo file'}`;
      process.stdout.write(`${config.db} (snapshot ${store.snapshotId})\n\n${summary}\n\n${perTool}\n${note}\n${sizes}\n`);
      return 0;
    } finally {
      store.close();
    }
  },
};
