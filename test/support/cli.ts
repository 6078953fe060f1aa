/**
 * The one way tests run the built CLI (`node dist/src/cli.js ...`, with the Node running the
 * tests): `runCli` to completion (resolves whatever the exit status), `runCliSync` where a test
 * needs no event loop meanwhile, `spawnCli` for a process the test watches or kills. The
 * environment is the caller's to choose (default: this process's); `toolsim serve` has its own
 * helper with readiness and logs, test/server-process.ts.
 */
import { type ChildProcess, type ChildProcessWithoutNullStreams, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { CLI } from './paths.js';

export { CLI };

export interface CliOptions {
  /** Standard input. */
  input?: string;
  /** The whole environment of the process (default: this process's). */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill it (SIGTERM) after this many ms. */
  timeoutMs?: number;
}

export interface CliResult {
  /** The exit status, null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs `toolsim ARGS` to its end and resolves with its status and output (never rejects on a non-zero exit). */
export function runCli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnCli(args, {
      env: options.env ?? process.env,
      ...(options.cwd ? { cwd: options.cwd } : {}),
    }) as ChildProcessWithoutNullStreams;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGTERM'), options.timeoutMs) : undefined;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.on('error', () => {}); // a CLI that exits before reading its input
    child.stdin.end(options.input ?? '');
  });
}

/** `runCli`, blocking: for a test with nothing else running in this process meanwhile. */
export function runCliSync(args: readonly string[], options: CliOptions = {}): CliResult {
  const run = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    input: options.input ?? '',
    env: options.env ?? process.env,
    ...(options.cwd ? { cwd: options.cwd } : {}),
    ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}),
  });
  if (run.error) throw run.error;
  return { code: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

/** Starts `toolsim ARGS` and hands back the process (stdio piped unless `options.stdio` says otherwise). */
export function spawnCli(args: readonly string[]): ChildProcessWithoutNullStreams;
export function spawnCli(args: readonly string[], options: SpawnOptions): ChildProcess;
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...options });
}
