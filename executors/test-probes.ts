import childProcess from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { findPackageRoot } from '../common/package-root';
import type { TestResult } from './protocol';

/**
 * Tests only (enabled by `ExecutorOptions.testHooks`): what an attacker who
 * escaped a realm into the executor's own realm would try first. Each probe
 * runs the operation in this process and reports whether it succeeded, so a
 * test can show that the permission model, not only the realm boundary, stands
 * in the way.
 */
const ROOT = findPackageRoot(__dirname);
const probe = (name: string) => path.join(os.tmpdir(), `vmgate-executor-probe-${process.pid}-${name}`);

const PROBES: Record<string, () => unknown> = {
  'write-tmp': () => fs.writeFileSync(probe('w'), 'x'),
  'write-app': () => fs.writeFileSync(path.join(ROOT, `vmgate-executor-probe-${process.pid}`), 'x'),
  'append-tmp': () => fs.appendFileSync(probe('a'), 'x'),
  'mkdir-tmp': () => fs.mkdirSync(probe('d')),
  'open-write': () => fs.openSync(probe('o'), 'w'),
  'promises-write': () => fs.promises.writeFile(probe('p'), 'x'),
  spawn: () => childProcess.spawnSync('/bin/sh', ['-c', 'true']).status,
  exec: () => childProcess.execSync('true').toString(),
  fork: () => childProcess.fork(path.join(ROOT, 'package.json')).pid,
  binding: () => typeof (process as unknown as { binding(name: string): unknown }).binding('spawn_sync'),
  worker: () => new Worker('1', { eval: true }).threadId,
  'read-outside': () => fs.readFileSync('/etc/hostname', 'utf8').length,
  'read-data': () => fs.readdirSync(path.join(ROOT, '.vmgate')).length,
  'read-code': () => fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8').length,
  eval: () => new Function('return 1')(),
  kill: () => process.kill(process.ppid, 0),
  env: () => JSON.stringify(Object.keys(process.env).sort()),
  argv: () => JSON.stringify(process.execArgv),
};

export async function runTestProbe(name: string): Promise<TestResult> {
  const fn = PROBES[name];
  if (!fn) return { ok: false, code: 'UNKNOWN_PROBE', message: name };
  try {
    const value = await fn();
    return { ok: true, value: value === undefined ? 'undefined' : String(value) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return { ok: false, code: typeof code === 'string' ? code : '', message: (error as Error).message };
  }
}
