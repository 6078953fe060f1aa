/**
 * One ingest at a time per cache: a lock file beside it (`CACHE.lock`) naming its holder.
 *
 * The file is created whole under a private name and linked into place, so it either exists with
 * its holder in it or not at all. A lock whose holder is gone (same host, process not running: a
 * killed ingest) is taken over; one held by a live process, or by another host (which this one
 * cannot check), is refused with the holder's name.
 *
 * SQLite's own write lock still excludes two writers; this adds the clear message, and covers
 * what SQLite cannot see: a fresh cache being built in a temporary file before it exists.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';

export interface LockHolder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

/** Another ingest holds the cache. */
export class IngestLockedError extends Error {
  constructor(
    readonly path: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      holder
        ? `another ingest is writing ${path}: pid ${holder.pid} on ${holder.host}, started ${holder.started} (${holder.command}); wait for it to end, then run this one` +
            (holder.host === hostname() ? '' : `; if that process is gone, remove ${lockPathOf(path)}`)
        : `another ingest is writing ${path} (${lockPathOf(path)} exists but cannot be read); if none is running, remove that file`,
    );
    this.name = 'IngestLockedError';
  }
}

export function lockPathOf(cache: string): string {
  return `${cache}.lock`;
}

/** Locks held by this process, counted, so that nested takers of one cache share the lock. */
const held = new Map<string, number>();

export class IngestLock {
  readonly #path: string;
  #released = false;

  private constructor(path: string) {
    this.#path = path;
  }

  /** Takes the lock of the cache at `cache`, or throws `IngestLockedError`. */
  static acquire(cache: string): IngestLock {
    const path = lockPathOf(resolve(cache));
    const count = held.get(path);
    if (count !== undefined) {
      held.set(path, count + 1);
      return new IngestLock(path);
    }
    const me: LockHolder = {
      pid: process.pid,
      host: hostname(),
      started: new Date().toISOString(),
      command: process.argv.slice(1).join(' ').slice(0, 300),
    };
    const mine = `${path}.${process.pid}.${Date.now()}`;
    writeFileSync(mine, `${JSON.stringify(me)}\n`);
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(mine, path);
          break;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
          const holder = readHolder(path);
          if (attempt > 0 || !holder || isAlive(holder)) throw new IngestLockedError(cache, holder);
          // The holder is gone: move its lock aside (only one taker can) and try again.
          const stale = `${path}.stale.${process.pid}`;
          try {
            renameSync(path, stale);
            unlinkSync(stale);
          } catch {
            // another process took it over first; the next attempt sees its lock
          }
        }
      }
    } finally {
      unlinkSync(mine);
    }
    held.set(path, 1);
    return new IngestLock(path);
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    const count = held.get(this.#path) ?? 1;
    if (count > 1) {
      held.set(this.#path, count - 1);
      return;
    }
    held.delete(this.#path);
    try {
      unlinkSync(this.#path);
    } catch {
      // already gone
    }
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockHolder>;
    if (typeof holder.pid !== 'number' || typeof holder.host !== 'string') return undefined;
    return { pid: holder.pid, host: holder.host, started: String(holder.started), command: String(holder.command) };
  } catch {
    return undefined;
  }
}

/** True unless the holder is on this host and its process is gone. */
function isAlive(holder: LockHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
