/**
 * The worker thread behind NeighborIndex.ready: reads one tool's recorded arguments from the cache
 * file (read-only, at the snapshot the server reads) and builds its index and its profile (what
 * the tiers need per tool, src/neighbors/tool-profile.ts), so that the serving thread never spends
 * seconds on either. Answers `stale` when the file holds another snapshot by now.
 */
import { constants, setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { Store } from '../store/store.js';
import { buildToolData, profileInputs, type WorkerReply, type WorkerRequest } from './neighbor-index.js';
import { answerShapeRequest, isShapeRequest } from './shape-task.js';

const port = parentPort;
if (port) {
  // Background work: on Linux a thread's nice value is its own, so the serving thread keeps the
  // CPU first on a busy machine. Elsewhere this may lower the whole process, or be refused.
  if (process.platform === 'linux') {
    try {
      setPriority(constants.priority.PRIORITY_BELOW_NORMAL);
    } catch {
      // not allowed here: the worker runs at the serving thread's priority
    }
  }
  port.on('message', (request: WorkerRequest) => {
    if (isShapeRequest(request)) return port.postMessage(answerShapeRequest(request));
    let reply: WorkerReply;
    try {
      const store = Store.open(request.path, { pinSnapshot: true, repinMs: 0 });
      try {
        if (request.snapshotId !== undefined && store.snapshotId !== request.snapshotId) reply = { id: request.id, stale: true };
        else {
          const { server, tool } = request;
          // The index and the tool's profile (tool-profile.ts) together, from one read of its recordings.
          reply = {
            id: request.id,
            data: buildToolData(store.argumentsOf(server, tool), request.linearBelow, profileInputs(store, server, tool)),
          };
        }
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
