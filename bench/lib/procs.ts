/** Child processes under test: started on loopback, waited for, measured through /proc, stopped. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Child {
  proc: ChildProcess;
  url: string;
  /** Milliseconds from spawn to the first successful readiness probe. */
  readyMs: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Kilobytes of a /proc/PID/status field (VmRSS now, VmHWM the peak so far). */
export function procKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
  return match ? Number(match[1]) : Number.NaN;
}

/** CPU seconds (user + system) a process has used so far, from /proc/PID/stat. */
export function procCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface StartOptions {
  command: string;
  args: readonly string[];
  port: number;
  /** Path probed with GET until it answers 200. */
  probe: string;
  cwd?: string;
  timeoutMs?: number;
}

export async function startChild(options: StartOptions): Promise<Child> {
  const started = performance.now();
  const proc = spawn(options.command, options.args, { cwd: options.cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 10_000) stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = started + (options.timeoutMs ?? 60_000);
  let readyMs = Number.NaN;
  while (performance.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${options.command} ${options.args.join(' ')} exited ${proc.exitCode}: ${stderr}`);
    try {
      const response = await fetch(url + options.probe);
      if (response.ok) {
        readyMs = performance.now() - started;
        await response.arrayBuffer();
        break;
      }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  if (Number.isNaN(readyMs)) {
    proc.kill('SIGKILL');
    throw new Error(`${options.command} not ready within ${options.timeoutMs ?? 60_000} ms: ${stderr}`);
  }
  const stop = async (): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };
  return { proc, url, readyMs, stop };
}
