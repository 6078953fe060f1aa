/**
 * `toolsim serve` without rollout state: the same server, options and heap settings, but every
 * call is on its own (`trajectory_id` read and ignored), as before rollouts were kept. The baseline
 * scenario 10 compares rollout state against ("today's"); not a user-facing mode.
 * Usage: node stateless.js [toolsim serve options]
 */
import { parseArgs } from 'node:util';
import { boundHeapGrowth } from '../../src/commands/heap.js';
import { parseArgsOptions, resolveConfig } from '../../src/config.js';
import { SERVE_OPTIONS, startServer } from '../../src/server.js';

boundHeapGrowth();
const { values } = parseArgs({ args: process.argv.slice(2), options: parseArgsOptions(SERVE_OPTIONS), strict: true });
const server = await startServer(resolveConfig(SERVE_OPTIONS, values), { rollouts: false });
const stop = (): void => void server.close().then(() => process.exit(0));
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
