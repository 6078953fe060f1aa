/** Temporary folders and files that clean up after the current test, whatever its outcome. No imports of src/. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});
/** Runs `fn` after the current test, whatever its outcome. */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}

export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'toolsim-test-'));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes records (objects, or raw strings for malformed lines) as a JSONL file. */
export function writeLog(dir: string, name: string, records: readonly (object | string)[]): string {
  const path = join(dir, name);
  writeFileSync(path, `${records.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n')}\n`);
  return path;
}
