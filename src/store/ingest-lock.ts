/**
 * One ingest at a time per cache: a lock file beside it (`CACHE.lock`) naming its holder.
 *
 * The file is created whole under a private name and linked into place, so it either exists with
 * its holder in it or not at all. A lock whose holder is gone (same host, process not running: a
 * killed ingest) is taken over; one held by a live process, or by another host (which this one
 * cannot check), is refused with the holder's name. Several processes taking over one dead
 * holder's lock at once end with one holder (see `removeIfUnchanged`), and `release` removes the
 * lock file only while it is still this process's own.
 *
 * SQLite's own write lock still excludes two writers; this adds the clear message, and covers
 * what SQLite cannot see: a fresh cache being built in a temporary file before it exists.
 */
import { hash, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
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

/** Locks held by this process (their text), counted, so that nested takers of one cache share the lock. */
const held = new Map<string, { count: number; text: string }>();

export class IngestLock {
  readonly #path: string;
  /** The exact text of the lock file this process linked into place: `release` removes only that. */
  readonly #text: string;
  #released = false;

  private constructor(path: string, text: string) {
    this.#path = path;
    this.#text = text;
  }

  /** Takes the lock of the cache at `cache`, or throws `IngestLockedError`. */
  static acquire(cache: string): IngestLock {
    const path = lockPathOf(resolve(cache));
    const mine = held.get(path);
    if (mine !== undefined) {
      mine.count++;
      return new IngestLock(path, mine.text);
    }
    const text = holderText();
    let holder: LockHolder | undefined;
    for (let attempt = 0; attempt < TAKEOVER_ATTEMPTS; attempt++) {
      if (linkNew(path, text)) {
        held.set(path, { count: 1, text });
        return new IngestLock(path, text);
      }
      const found = readText(path);
      if (found === undefined) continue; // removed meanwhile: link again
      holder = parseHolder(found);
      if (!holder || isAlive(holder)) break;
      // The holder is gone: remove its lock (only if it is still that one), then link again.
      if (!removeIfUnchanged(path, found, 0)) pause(5 + attempt);
    }
    throw new IngestLockedError(cache, holder);
  }
  /** Ends this hold; the last one removes the lock file, and only if it is still this process's own. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    const mine = held.get(this.#path);
    if (mine !== undefined && mine.text === this.#text && mine.count > 1) {
      mine.count--;
      return;
    }
    if (mine?.text === this.#text) held.delete(this.#path);
    // Nobody else removes a live holder's lock, so what is read here stays until it is unlinked.
    if (readText(this.#path) !== this.#text) return;
    try {
      unlinkSync(this.#path);
    } catch {
      // already gone
    }
  }
}

/** Takeovers of one dead holder's lock tried before giving up (others are taking over at once). */
const TAKEOVER_ATTEMPTS = 50;

/**
 * Removes the file at `path` if it still holds `text` (a dead holder's lock), excluding every other
 * process that wants to remove the same file: the right to remove it is itself a lock file, named
 * after the text, that only one process can create. Whoever holds that right reads the file again
 * before removing it, so a lock taken over meanwhile (by the previous holder of the right) is never
 * removed. A right whose holder died is broken the same way, one level up (a few levels at most).
 * Returns false when another live process holds the right (the caller tries again).
 */
function removeIfUnchanged(path: string, text: string, depth: number): boolean {
  const right = `${path.replace(/\.takeover-[0-9a-f]+$/, '')}.takeover-${hash('sha256', text, 'hex').slice(0, 24)}`;
  const mine = holderText();
  for (let attempt = 0; !linkNew(right, mine); attempt++) {
    if (attempt >= 20) return false;
    const found = readText(right);
    if (found === undefined) continue;
    const holder = parseHolder(found);
    if (!holder || isAlive(holder) || depth >= 3 || attempt >= 3) return false;
    removeIfUnchanged(right, found, depth + 1);
  }
  try {
    if (readText(path) !== text) return true;
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
    return true;
  } finally {
    // Still ours: nobody removes a live holder's right.
    if (readText(right) === mine) unlinkSync(right);
  }
}

/** Creates `path` holding `text`, whole (written aside, then linked); false if `path` exists. */
function linkNew(path: string, text: string): boolean {
  const draft = `${path}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, text);
  try {
    linkSync(draft, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return false;
  } finally {
    unlinkSync(draft);
  }
}

/** A fresh holder record of this process, unique to this hold (the nonce). */
function holderText(): string {
  const me: LockHolder & { nonce: string } = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: process.argv.slice(1).join(' ').slice(0, 300),
    nonce: randomBytes(8).toString('hex'),
  };
  return `${JSON.stringify(me)}\n`;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Waits a few milliseconds without returning to the event loop (the lock is taken synchronously). */
function pause(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const holder = JSON.parse(text) as Partial<LockHolder>;
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
