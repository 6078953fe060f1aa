import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { onCleanup, tempDir } from '../support/temp.js';
import { IngestLock, IngestLockedError, lockPathOf } from '../support/units.js';

const holder = (pid: number, host = hostname()) => ({ pid, host, started: '2026-01-01T00:00:00.000Z', command: 'toolsim ingest x' });

describe('the ingest lock', () => {
  it('writes its holder beside the cache and removes the file on release', () => {
    const cache = join(tempDir(), 'cache.db');
    const lock = IngestLock.acquire(cache);
    onCleanup(() => lock.release());
    expect(JSON.parse(readFileSync(lockPathOf(cache), 'utf8'))).toMatchObject({ pid: process.pid, host: hostname() });
    lock.release();
    expect(existsSync(lockPathOf(cache))).toBe(false);
    lock.release(); // twice is harmless
  });

  it('nested takers in one process share it: the file stays until the last release', () => {
    const cache = join(tempDir(), 'cache.db');
    const outer = IngestLock.acquire(cache);
    const inner = IngestLock.acquire(cache);
    inner.release();
    expect(existsSync(lockPathOf(cache))).toBe(true);
    outer.release();
    expect(existsSync(lockPathOf(cache))).toBe(false);
  });

  it('refuses a lock held by a live process, naming it', () => {
    const cache = join(tempDir(), 'cache.db');
    writeFileSync(lockPathOf(cache), JSON.stringify(holder(process.ppid)));
    expect(() => IngestLock.acquire(cache)).toThrow(IngestLockedError);
    expect(() => IngestLock.acquire(cache)).toThrow(new RegExp(`another ingest is writing .*: pid ${process.ppid} on ${hostname()}`));
  });

  it('takes over the lock of a process that is gone', () => {
    const cache = join(tempDir(), 'cache.db');
    // A pid that existed and exited: a child that ran to its end.
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lockPathOf(cache), JSON.stringify(holder(gone)));
    const lock = IngestLock.acquire(cache);
    expect(JSON.parse(readFileSync(lockPathOf(cache), 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('refuses one held on another host (it cannot be checked) and says how to clear it', () => {
    const cache = join(tempDir(), 'cache.db');
    writeFileSync(lockPathOf(cache), JSON.stringify(holder(1, 'elsewhere.example')));
    expect(() => IngestLock.acquire(cache)).toThrow(/on elsewhere\.example.*if that process is gone, remove .*cache\.db\.lock/);
  });

  it('refuses an unreadable lock file without taking it over', () => {
    const cache = join(tempDir(), 'cache.db');
    writeFileSync(lockPathOf(cache), 'not json');
    expect(() => IngestLock.acquire(cache)).toThrow(/exists but cannot be read/);
    expect(readFileSync(lockPathOf(cache), 'utf8')).toBe('not json');
  });
});
