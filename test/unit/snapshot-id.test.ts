import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { addToFingerprint, emptyFingerprint, identityOf, snapshotIdOf } from '../support/units.js';

const recordings = Array.from({ length: 20 }, (_, i) => ({ record: randomBytes(32), ordinal: i % 3 }));

function fingerprintOf(list: typeof recordings): Buffer {
  const fingerprint = emptyFingerprint();
  for (const { record, ordinal } of list) addToFingerprint(fingerprint, record, ordinal);
  return fingerprint;
}

describe('snapshot id', () => {
  it('depends on the recordings, not on the order they were ingested in', () => {
    const shuffled = [...recordings].reverse();
    expect(snapshotIdOf(fingerprintOf(shuffled), [])).toBe(snapshotIdOf(fingerprintOf(recordings), []));
    expect(snapshotIdOf(fingerprintOf(recordings), [])).toMatch(/^[0-9a-f]{32}$/);
  });

  it('changes with one recording more, with its ordinal, and with the ignored arguments', () => {
    const id = snapshotIdOf(fingerprintOf(recordings), []);
    expect(snapshotIdOf(fingerprintOf(recordings.slice(1)), [])).not.toBe(id);
    const moved = recordings.map((r, i) => (i === 0 ? { ...r, ordinal: r.ordinal + 1 } : r));
    expect(snapshotIdOf(fingerprintOf(moved), [])).not.toBe(id);
    expect(snapshotIdOf(fingerprintOf(recordings), ['session_id'])).not.toBe(id);
  });

  it('an empty cache has the zero fingerprint, and the same recording twice cancels out (two ordinals keep them apart)', () => {
    expect(emptyFingerprint().equals(Buffer.alloc(32))).toBe(true);
    const record = randomBytes(32);
    const twice = emptyFingerprint();
    addToFingerprint(twice, record, 0);
    addToFingerprint(twice, record, 0);
    expect(twice.equals(emptyFingerprint())).toBe(true);
    expect(identityOf(record, 0).equals(identityOf(record, 1))).toBe(false);
  });
});
