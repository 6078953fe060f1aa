/** A new cache built from generated logs, in-process (the ingest scenario measures the CLI itself). */
import { rmSync } from 'node:fs';
import { ingestInto } from '../../src/ingest/ingest.js';

export function removeCache(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal', '.building']) rmSync(path + suffix, { force: true });
}

export async function freshCache(path: string, ...logs: string[]): Promise<string> {
  removeCache(path);
  const summary = await ingestInto(path, { inputs: logs });
  if (summary.rejected > 0 || summary.failedInputs > 0) throw new Error(`generated log ${logs.join(' ')} had rejected lines`);
  return path;
}
