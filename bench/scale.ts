/**
 * Does a session get dearer as sessions accumulate, through the gateway?
 *
 *   npm run bench:scale [-- --sessions 10000] [--batch 500] [--parallel 100] [--executors 2]
 *                          [--heap-mb 1024] [--phases plain,shared] [--shared-mb 50] [--json]
 *
 * A real gateway (`startGateway` in a child process: executors on, one per
 * core unless `--executors` says otherwise, no database; `plain` without a
 * shared state, `shared` with a generated JSON one of `--shared-mb` MB) and
 * real WebSocket clients in this process. Sessions are opened in batches of
 * `--batch` (at most `--parallel` handshakes in flight), each sending one eval
 * `1 + 1` on open and waiting for its checked answer; every session is kept
 * open. After each batch: the batch's wall time per session and the p50 of
 * its sessions' open-to-answer latency, and the resident memory of the
 * gateway plus its executor processes (/proc). At the end every held session
 * is asked `2 + 2` once more: "held" means every one answered.
 *
 * Limits the run needs: the gateway's session limits are raised to the
 * session count; the process re-executes itself with `ulimit -n` raised
 * (to 2 × sessions + slack, or the hard limit when that cannot be raised), and
 * clients spread over several loopback source addresses (127.0.0.x), since
 * one address pair has only ~28,000 ephemeral ports.
 */
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import WebSocket from 'ws';
import { startGateway } from '../gateway/server';
import { writeLargeSharedState } from './make-shared-state';
import { processTree } from './proc';
import {
  fmt,
  fmtInt,
  intArg,
  machineLine,
  median,
  otherCpuPct,
  parseArgs,
  sourceFingerprint,
  systemCpu,
  table,
} from './stats';

const PROTOCOL = 'vmgate.v1';
const HOST = '127.0.0.1';
/** Sessions per loopback source address (ephemeral ports 32768–60999 per address pair). */
const PER_SOURCE_ADDRESS = 20_000;
const PHASES = ['plain', 'shared'] as const;
type Phase = (typeof PHASES)[number];

interface Settings {
  readonly sessions: number;
  readonly batch: number;
  readonly parallel: number;
  readonly executors: number;
  readonly heapMb: number | undefined;
  readonly sharedMb: number;
}

interface BatchRow {
  /** Sessions alive after this batch. */
  readonly live: number;
  /** Batch wall time / sessions opened in it. */
  readonly msPerSession: number;
  /** p50 of the batch's sessions' open-to-answer time. */
  readonly p50: number;
  /** Gateway + executors RSS after the batch, bytes. */
  readonly rss: number;
  readonly failed: number;
}

interface PhaseResult {
  readonly phase: Phase;
  readonly baseRss: number;
  readonly executors: number;
  readonly batches: BatchRow[];
  readonly held: number;
  readonly answered: number;
  /** Sessions the gateway closed after their first answer, by close code. */
  readonly lost: string[];
  readonly errors: string[];
  readonly otherCpuPct: number;
  readonly seconds: number;
}

// --- the gateway (child process) -------------------------------------------

async function runServer(args: Map<string, string>): Promise<void> {
  const sessions = intArg(args, 'sessions', 10_000);
  const heapMb = args.has('heap-mb') ? intArg(args, 'heap-mb', 1024) : undefined;
  const gateway = await startGateway({
    port: 0,
    host: HOST,
    sharedFile: args.get('shared-file'),
    logger: pino({ level: 'silent' }),
    limits: { maxSessions: sessions, maxSessionsPerAddress: sessions },
    executors: { count: intArg(args, 'executors', 2), ...(heapMb ? { heapMb } : {}) },
  });
  process.on('disconnect', () => void gateway.close().finally(() => process.exit(0)));
  process.send?.({ port: gateway.port, executors: gateway.executors });
}

function spawnServer(
  settings: Settings,
  sharedFile: string | undefined,
): Promise<{ child: ChildProcess; port: number; executors: number }> {
  const args = ['--role', 'server', '--sessions', String(settings.sessions), '--executors', String(settings.executors)];
  if (settings.heapMb) args.push('--heap-mb', String(settings.heapMb));
  if (sharedFile) args.push('--shared-file', sharedFile);
  const child = fork(__filename, args, { execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      const { port, executors } = message as { port: number; executors: number };
      resolve({ child, port, executors });
    });
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before it listened`)));
  });
}

// --- the clients (this process) --------------------------------------------

interface Client {
  readonly ws: WebSocket;
  /** The close code, once the gateway closed this session after its first answer (e.g. 1011: its executor died). */
  closedWith?: number;
  /** Resolves the next result frame (the clients send one eval at a time). */
  next?: (text: string) => void;
}

function isResult(text: string, value: number): boolean {
  try {
    const frame = JSON.parse(text) as { type?: unknown; value?: unknown };
    return frame.type === 'result' && frame.value === value;
  } catch {
    return false;
  }
}

/** Opens one session, sends `1 + 1` on open, resolves on its checked answer (bounded). */
function openSession(url: string, localAddress: string, timeoutMs: number): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [PROTOCOL], { perMessageDeflate: false, localAddress });
    const client: Client = { ws };
    let hello = false;
    let settled = false;
    const timer = setTimeout(() => fail(new Error('no answer in time')), timeoutMs);
    const fail = (error: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(error);
    };
    ws.on('open', () => ws.send('{"op":"eval","id":1,"code":"1 + 1"}'));
    ws.on('message', (data) => {
      const text = String(data);
      if (!hello) {
        hello = true;
        return;
      }
      if (settled) return client.next?.(text);
      if (!isResult(text, 2)) return fail(new Error(`bad answer ${text.slice(0, 120)}`));
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    ws.on('error', (error) => fail(error));
    ws.on('unexpected-response', (_req, res) => fail(new Error(`HTTP ${res.statusCode}`)));
    ws.on('close', (code) => {
      if (!settled) return fail(new Error(`closed (${code}) before the answer`));
      client.closedWith = code;
      client.next?.('');
    });
  });
}

/** Asks every held session `2 + 2`; resolves with how many answered correctly. */
async function askAll(clients: readonly Client[], timeoutMs: number): Promise<number> {
  let answered = 0;
  await Promise.all(
    clients.map(
      (client) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          client.next = (text) => {
            clearTimeout(timer);
            if (isResult(text, 4)) answered++;
            resolve();
          };
          client.ws.send('{"op":"eval","id":2,"code":"2 + 2"}');
        }),
    ),
  );
  return answered;
}

async function runPhase(phase: Phase, settings: Settings, sharedFile: string | undefined): Promise<PhaseResult> {
  const server = await spawnServer(settings, sharedFile);
  const url = `ws://${HOST}:${server.port}`;
  const t0 = performance.now();
  const cpu0 = systemCpu();
  const ours0 =
    processTree(server.child.pid as number).cpuMs + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
  // Executors have loaded the shared state by now: the baseline includes it.
  const baseRss = processTree(server.child.pid as number).rss;
  const clients: Client[] = [];
  const batches: BatchRow[] = [];
  const errors: string[] = [];
  for (let opened = 0; opened < settings.sessions; ) {
    const size = Math.min(settings.batch, settings.sessions - opened);
    const latencies: number[] = [];
    let failed = 0;
    let next = 0;
    const tb = performance.now();
    const worker = async () => {
      while (next < size) {
        const index = opened + next++;
        const source = `127.0.0.${2 + Math.floor(index / PER_SOURCE_ADDRESS)}`;
        const ts = performance.now();
        try {
          clients.push(await openSession(url, source, 120_000));
          latencies.push(performance.now() - ts);
        } catch (error) {
          failed++;
          if (errors.length < 5) errors.push(error instanceof Error ? error.message : String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(settings.parallel, size) }, worker));
    const ms = performance.now() - tb;
    opened += size;
    batches.push({
      live: clients.length,
      msPerSession: ms / size,
      p50: median(latencies),
      rss: processTree(server.child.pid as number).rss,
      failed,
    });
    if (clients.length % 5000 === 0 || opened === settings.sessions) {
      process.stderr.write(`  ${phase}: ${clients.length} live, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
    if (failed >= size) break; // nothing opens any more: the ceiling
  }
  const answered = await askAll(
    clients.filter((c) => c.closedWith === undefined),
    120_000,
  );
  const lost = new Map<number, number>();
  for (const c of clients) if (c.closedWith !== undefined) lost.set(c.closedWith, (lost.get(c.closedWith) ?? 0) + 1);
  const wall = performance.now() - t0;
  const ours1 =
    processTree(server.child.pid as number).cpuMs + process.cpuUsage().user / 1000 + process.cpuUsage().system / 1000;
  const other = otherCpuPct(cpu0, systemCpu(), ours1 - ours0, wall);
  for (const client of clients) client.ws.terminate();
  server.child.disconnect();
  await new Promise((resolve) => server.child.once('exit', resolve));
  return {
    phase,
    baseRss,
    executors: server.executors,
    batches,
    held: clients.length,
    answered,
    lost: [...lost].map(([code, count]) => `${count} closed with ${code}`),
    errors,
    otherCpuPct: other,
    seconds: wall / 1000,
  };
}

// --- report -----------------------------------------------------------------

/** Batches that opened at least one session (the one that found the ceiling opened none). */
function opening(result: PhaseResult): BatchRow[] {
  return result.batches.filter((b, i) => b.live > (i === 0 ? 0 : (result.batches[i - 1] as BatchRow).live));
}

function tenths(result: PhaseResult): string[][] {
  const rows: string[][] = [];
  const batches = opening(result);
  const n = batches.length;
  const per = Math.max(1, Math.round(n / 10));
  for (let i = 0; i < n; i += per) {
    const group = batches.slice(i, i + per);
    const last = group.at(-1) as BatchRow;
    const first = i === 0 ? 0 : (batches[i - 1] as BatchRow).live;
    rows.push([
      `${fmtInt(first + 1)}–${fmtInt(last.live)}`,
      fmt(group.reduce((s, b) => s + b.msPerSession, 0) / group.length, 2),
      fmt(median(group.map((b) => b.p50)), 1),
      fmtInt(last.rss / 2 ** 20),
      fmt((last.rss - result.baseRss) / 1024 / Math.max(1, last.live), 1),
      String(group.reduce((s, b) => s + b.failed, 0)),
    ]);
  }
  const refused = result.batches.filter((b) => !batches.includes(b));
  if (refused.length > 0) {
    rows.push(['(none opened)', '—', '—', '—', '—', String(refused.reduce((s, b) => s + b.failed, 0))]);
  }
  return rows;
}

function report(results: PhaseResult[], settings: Settings, fingerprint: string): string {
  const out: string[] = [];
  out.push('vmgate bench:scale — sessions opened in batches through one gateway, all kept open');
  out.push(machineLine(fingerprint));
  out.push(
    `${fmtInt(settings.sessions)} sessions, batches of ${settings.batch}, ${settings.parallel} in flight, ${settings.executors} executors${settings.heapMb ? `, executor heap ${settings.heapMb} MiB` : ''}, each session: open + eval \`1 + 1\``,
  );
  for (const r of results) {
    const first = opening(r)[0];
    const last = opening(r).at(-1);
    out.push('');
    out.push(
      `${r.phase === 'plain' ? 'no shared state' : `shared state of ${settings.sharedMb} MB`} (${r.executors} executors; gateway + executors ${fmtInt(r.baseRss / 2 ** 20)} MiB before the first session; other CPU ${fmt(r.otherCpuPct, 0)}% of a core; ${fmt(r.seconds, 0)} s)`,
    );
    out.push(
      table(
        ['live sessions', 'ms/session (batch wall)', 'p50 ms open→answer', 'RSS MiB', 'KB/session so far', 'failed'],
        tenths(r),
      ),
    );
    if (first && last) {
      out.push(
        `first ${settings.batch} → last ${settings.batch}: ${fmt(first.msPerSession, 2)} → ${fmt(last.msPerSession, 2)} ms/session = ${fmt(last.msPerSession / first.msPerSession, 2)}× (target ≤ 1.3×); memory ${fmt((last.rss - r.baseRss) / 1024 / Math.max(1, last.live), 1)} KB per live session (target ≤ 150)`,
      );
    }
    out.push(
      `opened ${fmtInt(r.held)} of ${fmtInt(settings.sessions)}; still open and answering a second eval at the end: ${fmtInt(r.answered)}${r.lost.length > 0 ? ` (lost: ${r.lost.join(', ')})` : ''}`,
    );
    if (r.errors.length > 0) out.push(`first errors: ${r.errors.join(' | ')}`);
  }
  return out.join('\n');
}

// --- orchestration ----------------------------------------------------------

/**
 * Re-runs this script with the open-file limit raised (inherited by the
 * gateway and its executors): every session is a descriptor on each side.
 */
function reexecWithNofile(sessions: number): boolean {
  if (process.env.VMGATE_BENCH_NOFILE) return false;
  const want = 2 * sessions + 4096;
  const script = `ulimit -n ${want} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$0" "$@"`;
  const result = spawnSync(
    'sh',
    ['-c', script, process.execPath, ...process.execArgv, __filename, ...process.argv.slice(2)],
    {
      stdio: 'inherit',
      env: { ...process.env, VMGATE_BENCH_NOFILE: String(want) },
    },
  );
  process.exit(result.status ?? 1);
}

async function runParent(args: Map<string, string>): Promise<void> {
  const settings: Settings = {
    sessions: intArg(args, 'sessions', 10_000),
    batch: intArg(args, 'batch', 500),
    parallel: intArg(args, 'parallel', 100),
    executors: intArg(args, 'executors', 2),
    heapMb: args.has('heap-mb') ? intArg(args, 'heap-mb', 1024) : undefined,
    sharedMb: intArg(args, 'shared-mb', 50),
  };
  reexecWithNofile(settings.sessions);
  const phases = (args.get('phases')?.split(',') ?? [...PHASES]) as Phase[];
  for (const p of phases) if (!PHASES.includes(p)) throw new Error(`unknown phase ${p}`);
  const fingerprint = sourceFingerprint();
  const results: PhaseResult[] = [];
  let dir: string | undefined;
  try {
    for (const phase of phases) {
      let sharedFile: string | undefined;
      if (phase === 'shared') {
        dir ??= mkdtempSync(path.join(os.tmpdir(), 'vmgate-scale-'));
        sharedFile = path.join(dir, 'shared.json');
        writeLargeSharedState(sharedFile, settings.sharedMb);
      }
      results.push(await runPhase(phase, settings, sharedFile));
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
  if (args.has('json')) {
    process.stdout.write(
      `${JSON.stringify({ benchmark: 'scale', machine: machineLine(fingerprint), settings, results }, null, 2)}\n`,
    );
  } else {
    process.stdout.write(
      `${report(results, settings, fingerprint)}\n(open-file limit ${process.env.VMGATE_BENCH_NOFILE ? spawnSync('sh', ['-c', 'ulimit -n']).stdout.toString().trim() : '?'})\n`,
    );
  }
}

const args = parseArgs(process.argv.slice(2));
(args.get('role') === 'server' ? runServer(args) : runParent(args)).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
