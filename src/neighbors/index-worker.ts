/**
 * The worker thread behind NeighborIndex.ready: reads one tool's recorded arguments from the cache
 * file (read-only, at the snapshot the server reads) and builds its index, so that the serving
 * thread never spends seconds on it. Answers `stale` when the file holds another snapshot by now.
 */
import { parentPort } from 'node:worker_threads';
import { Store } from '../store/store.js';
import { buildToolData, type WorkerReply, type WorkerRequest } from './neighbor-index.js';

const port = parentPort;
if (port) {
  port.on('message', (request: WorkerRequest) => {
    let reply: WorkerReply;
    try {
      const store = Store.open(request.path, { pinSnapshot: true, repinMs: 0 });
      try {
        if (request.snapshotId !== undefined && store.snapshotId !== request.snapshotId) reply = { id: request.id, stale: true };
        else reply = { id: request.id, data: buildToolData(store.argumentsOf(request.server, request.tool), request.linearBelow) };
      } finally {
        store.close();
      }
    } catch (error) {
      reply = { id: request.id, error: error instanceof Error ? error.message : String(error) };
    }
    const transfer = 'data' in reply ? [reply.data.keyOffsets.buffer, reply.data.argOffsets.buffer] : [];
    if ('data' in reply && reply.data.postings) {
      const p = reply.data.postings;
      transfer.push(p.tokens.buffer, p.offsets.buffer, p.entries.buffer);
    }
    port.postMessage(reply, transfer as ArrayBuffer[]);
  });
}
