/**
 * The neighbour index worker's second task: learning one tool's output shape from the cache file
 * (read-only, at the snapshot the server reads), so that reading and parsing every recorded answer
 * of a tool never runs on the serving thread. Answers `stale` when the file holds another snapshot.
 */
import { learnFromStored } from '../shapes/learn.js';
import type { OutputShape } from '../shapes/shape.js';
import { Store } from '../store/store.js';

export interface ShapeRequest {
  id: number;
  task: 'shape';
  path: string;
  snapshotId: string | undefined;
  server: string;
  tool: string;
}

export type ShapeReply = { id: number; shape: OutputShape } | { id: number; stale: true } | { id: number; error: string };

export function isShapeRequest(message: unknown): message is ShapeRequest {
  return typeof message === 'object' && message !== null && (message as { task?: unknown }).task === 'shape';
}

export function answerShapeRequest(request: ShapeRequest): ShapeReply {
  try {
    const store = Store.open(request.path, { pinSnapshot: true });
    try {
      if (request.snapshotId !== undefined && store.snapshotId !== request.snapshotId) return { id: request.id, stale: true };
      return { id: request.id, shape: learnFromStored(store.outputsOf(request.server, request.tool)) };
    } finally {
      store.close();
    }
  } catch (error) {
    return { id: request.id, error: error instanceof Error ? error.message : String(error) };
  }
}
