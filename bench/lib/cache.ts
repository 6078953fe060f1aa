/** A new cache built from generated logs, in-process (the ingest scenario measures the CLI itself). */
import { rmSync } from 'node:fs';
import { ingest } from '../../src/ingest/ingest.js';
import { Store } from '../../src/store/store.js';

export function removeCache(path: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
}

export async function freshCache(path: string, ...logs: string[]): Promise<string> {
  removeCache(path);
  const store = Store.open(path);
  try {
    const summary = await ingest({ store, inputs: logs });
    if (summary.rejected > 0 || summary.failedInputs > 0) throw new Error(`generated log ${logs.join(' ')} had rejected lines`);
  } finally {
    store.close();
  }
  return path;
}
