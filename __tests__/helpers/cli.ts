import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

/**
 * The `vmgate` command run as a real process from the sources (no build), as
 * its tests need it: arguments, environment, standard input, and what it
 * printed and exited with. Every process still running when a suite ends is
 * killed by `killCliProcesses()` (call it in afterAll).
 */

export const ROOT = path.resolve(__dirname, '..', '..');
/** Node's arguments that run bin/vmgate.ts from TypeScript. */
export const VMGATE = ['-r', '@swc-node/register', path.join(ROOT, 'bin', 'vmgate.ts')];

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliOptions {
  /** The whole environment of the process (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to standard input, which is then closed (default: nothing). */
  readonly stdin?: string;
  /** Killed with SIGKILL after this long (default 45 s; the run then resolves with what it printed). */
  readonly timeoutMs?: number;
}

const running = new Set<ChildProcess>();

export function runVmgate(args: readonly string[], options: CliOptions = {}): Promise<CliRun> {
  const child = spawn(process.execPath, [...VMGATE, ...args], {
    cwd: ROOT,
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdin.on('error', () => {}); // a command that exits before reading its input
  child.stdin.end(options.stdin ?? '');
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 45_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

export function killCliProcesses(): void {
  for (const child of running) child.kill('SIGKILL');
}
