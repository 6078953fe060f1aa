/**
 * The content fingerprint of the recordings and the snapshot id that names it.
 *
 * The fingerprint is the XOR of the identities (record hash, ordinal) of every recording: equal
 * contents give equal values, whatever order they were ingested in, and each added recording is
 * folded in without reading the others.
 */
import { createHash, hash } from 'node:crypto';
import { SCHEMA_VERSION } from './schema.js';

/** The fingerprint of a cache without recordings. */
export function emptyFingerprint(): Buffer {
  return Buffer.alloc(32);
}

/** Folds one recording's identity into `fingerprint`, in place. */
export function addToFingerprint(fingerprint: Buffer, record: Buffer, ordinal: number): void {
  const identity = hash('sha256', Buffer.concat([record, Buffer.from(String(ordinal))]), 'buffer');
  for (let i = 0; i < fingerprint.length; i++) fingerprint[i]! ^= identity[i]!;
}

/** The snapshot id names the recordings' contents (and the key rules they were hashed under). */
export function snapshotIdOf(fingerprint: Buffer, ignoredArguments: readonly string[]): string {
  return createHash('sha256')
    .update(`toolsim-snapshot-v${SCHEMA_VERSION}\0${JSON.stringify(ignoredArguments)}\0`)
    .update(fingerprint)
    .digest('hex')
    .slice(0, 32);
}
