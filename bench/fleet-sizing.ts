/**
 * Sizing one replica for the Kubernetes manifests (deploy/kubernetes/): `toolsim serve` on the
 * bundled tau-bench sample (what the image bakes in) as a child process, loaded with every recorded
 * call over HTTP; reports ready time, calls/s, the server's CPU per call (from /proc), and its RSS
 * when ready, after the load and at its peak.
 *
 *   npm run bench:fleet [-- --seconds 10 --connections 8]
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { freshCache } from './lib/cache.js';
import { bodyOf, loadSamples } from './lib/data.js';
import { load } from './lib/load.js';
import { CLI, dataPath, SAMPLES } from './lib/paths.js';
import { freePort, procKb, startChild } from './lib/procs.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, connections: { type: 'string', default: '8' } } });
const seconds = Number(values.seconds);
const connections = Number(values.connections);

const db = await freshCache(dataPath('fleet-sizing.db'), SAMPLES[0]!);
const bodies = loadSamples()
  .filter((call) => call.server !== 'api-bank')
  .map((call) => JSON.stringify(bodyOf(call)));
const port = await freePort();
const server = await startChild({
  command: process.execPath,
  args: [CLI, 'serve', '--db', db, '--port', String(port), '--log-level', 'warn'],
  port,
  probe: '/readyz',
});
const pid = server.proc.pid!;
const readyRssMb = procKb(pid, 'VmRSS') / 1024;
await load({ url: server.url, path: '/v1/call', bodies, connections, durationS: 2 }); // warm-up
const result = await load({ url: server.url, path: '/v1/call', bodies, connections, durationS: seconds, pid });
const afterRssMb = procKb(pid, 'VmRSS') / 1024;
const peakRssMb = procKb(pid, 'VmHWM') / 1024;
await server.stop();

const lines = [
  `fleet sizing ${new Date().toISOString()} on ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
  `cache: tau-bench sample (${bodies.length} recorded calls); load: ${connections} connections for ${seconds} s, every recorded call in turn`,
  `ready in ${Math.round(server.readyMs)} ms; RSS ready ${readyRssMb.toFixed(0)} MB, after load ${afterRssMb.toFixed(0)} MB, peak ${peakRssMb.toFixed(0)} MB`,
  `${Math.round(result.rps)} calls/s, p50 ${result.p50} ms, p99 ${result.p99} ms, ${result.errors} errors; server CPU ${result.cpuUs.toFixed(0)} µs per call (${Math.round(1e6 / result.cpuUs)} calls per CPU-second)`,
];
process.stdout.write(`${lines.join('\n')}\n`);
