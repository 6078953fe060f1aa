/**
 * The content fingerprint of the recordings and the snapshot id that names it.
 *
 * The fingerprint is the XOR of the identities (record hash, ordinal) of every recording: equal
 * contents give equal values, whatever order they were ingested in, and each added recording is
 * folded in without reading the others.
 */
import { createHash, hash } from 'node:crypto';

/**
 * The version of the snapshot id's formula, not of the tables: a cache's snapshot id depends only
 * on its recordings and key settings, so a new on-disk layout keeps the ids (and the memoized
 * improvisations tied to them).
 */
const SNAPSHOT_FORMULA = 'toolsim-snapshot-v1';

/** The fingerprint of a cache without recordings. */
export function emptyFingerprint(): Buffer {
  return Buffer.alloc(32);
}

/** A recording's identity: the hash of its record hash and its ordinal. */
export function identityOf(record: Buffer, ordinal: number): Buffer {
  return hash('sha256', Buffer.concat([record, Buffer.from(String(ordinal))]), 'buffer');
}

/** Folds one recording's identity (`identityOf`) into `fingerprint`, in place. */
export function addIdentity(fingerprint: Buffer, identity: Buffer): void {
  for (let i = 0; i < fingerprint.length; i++) fingerprint[i]! ^= identity[i]!;
}

/** Folds one recording into `fingerprint`, in place. */
export function addToFingerprint(fingerprint: Buffer, record: Buffer, ordinal: number): void {
  addIdentity(fingerprint, identityOf(record, ordinal));
}

/** The snapshot id names the recordings' contents (and the key rules they were hashed under). */
export function snapshotIdOf(fingerprint: Buffer, ignoredArguments: readonly string[]): string {
  return createHash('sha256')
    .update(`${SNAPSHOT_FORMULA}\0${JSON.stringify(ignoredArguments)}\0`)
    .update(fingerprint)
    .digest('hex')
    .slice(0, 32);
}
