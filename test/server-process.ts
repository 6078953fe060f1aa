/** Servers for tests: in-process configs, and `toolsim serve` as a child process on 127.0.0.1, with its log lines collected (pino JSON). */
import type { ChildProcess } from 'node:child_process';
import { resolveConfig } from '../src/config.js';
import { SERVE_OPTIONS, type ServeConfig } from '../src/server.js';
import { onCleanup } from './helpers.js';
import { spawnCli } from './support/cli.js';

/**
 * A serve config for an in-process server: defaults, any free port, no log unless asked, and no
 * load shedding unless asked (on a busy machine it would answer a test's requests 503).
 */
export function serveConfig(overrides: Partial<ServeConfig>): ServeConfig {
  return { ...resolveConfig(SERVE_OPTIONS, {}, {}), port: 0, logLevel: 'silent', maxEventLoopDelay: 0, ...overrides };
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** Resolves with the first log line whose msg matches, or rejects after `ms`. */
  waitForLog(pattern: RegExp, ms?: number): Promise<Record<string, unknown>>;
}

export async function serveProcess(args: string[], env: Record<string, string> = {}): Promise<ServeProcess> {
  // No load shedding unless the test asks for it (a later --max-event-loop-delay wins).
  const child = spawnCli(['serve', '--port', '0', '--log-level', 'info', '--max-event-loop-delay', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  onCleanup(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pattern: RegExp; resolve: (line: Record<string, unknown>) => void }[] = [];
  let buffered = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const text of lines) {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { msg: text };
      }
      logs.push(line);
      for (const waiter of [...waiters]) {
        if (waiter.pattern.test(String(line['msg']))) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(line);
        }
      }
    }
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const waitForLog = (pattern: RegExp, ms = 15_000): Promise<Record<string, unknown>> => {
    const seen = logs.find((line) => pattern.test(String(line['msg'])));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line ${pattern} within ${ms} ms; stderr: ${stderr}`)), ms);
      waiters.push({
        pattern,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
      void exited.then(() => reject(new Error(`server exited before logging ${pattern}; stderr: ${stderr}`)));
    });
  };
  const listening = await waitForLog(/^Server listening at http:\/\/127\.0\.0\.1:\d+$/);
  const url = String(listening['msg']).replace('Server listening at ', '');
  return { child, url, logs, exited, waitForLog };
}
