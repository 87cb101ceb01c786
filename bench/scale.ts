/**
 * Does a session get dearer as sessions accumulate, through one gateway? Sessions
 * opened in batches and all kept open; per batch the time per session and the
 * memory of the gateway and its executors. docs/benchmarks.md, "bench:scale".
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { benchCommand, int, listOf, parseOptions } from './lib/args';
import { type HeldSession, openMany } from './lib/clients';
import { processTree } from './lib/proc';
import { fmt, fmtInt, machineLine, printJson, sourceFingerprint, table } from './lib/report';
import { runMain } from './lib/rpc';
import { serveGateway, spawnGateway } from './lib/servers';
import { writeLargeSharedState } from './lib/shared-state';
import { median, otherCpuPct, systemCpu } from './lib/stats';

/** Sessions per loopback source address (ephemeral ports 32768–60999 per address pair). */
const PER_SOURCE_ADDRESS = 20_000;
const PHASES = ['plain', 'shared'] as const;
type Phase = (typeof PHASES)[number];

const options = parseOptions<{
  sessions: number;
  batch: number;
  parallel: number;
  executors: number;
  heapMb?: number;
  sharedMb: number;
  phases: Phase[];
}>(
  benchCommand('scale', 'open + first eval per batch, and memory, as sessions accumulate through one gateway')
    .option('--sessions <n>', 'sessions opened and kept open', int(), 10_000)
    .option('--batch <n>', 'sessions per batch (one row per tenth of the batches)', int(), 500)
    .option('--parallel <n>', 'handshakes in flight', int(), 100)
    .option('--executors <n>', 'executor processes of the gateway', int(0), 2)
    .option('--heap-mb <mb>', "executors' heap limit (default: the gateway's)", int())
    .option('--shared-mb <mb>', 'size of the generated shared state of the shared phase', int(), 50)
    .option('--phases <list>', `among ${PHASES.join(',')}`, listOf(PHASES), [...PHASES]),
);

type Settings = Omit<typeof options, 'phases' | 'json' | 'role'>;
type PhaseResult = Awaited<ReturnType<typeof runPhase>>;
type BatchRow = PhaseResult['batches'][number];

async function runPhase(phase: Phase, settings: Settings, sharedFile: string | undefined) {
  const { child, ready } = await spawnGateway(__filename, {
    sharedFile,
    limits: { maxSessions: settings.sessions, maxSessionsPerAddress: settings.sessions },
    executors: { count: settings.executors, ...(settings.heapMb ? { heapMb: settings.heapMb } : {}) },
  });
  const pid = child.child.pid as number;
  const ourCpu = () => processTree(pid).cpuMs + (process.cpuUsage().user + process.cpuUsage().system) / 1000;
  const t0 = performance.now();
  const cpu0 = systemCpu();
  const ours0 = ourCpu();
  // Executors have loaded the shared state by now: the baseline includes it.
  const baseRss = processTree(pid).rss;
  const held: HeldSession[] = [];
  /** Per batch: sessions alive after it, its wall time / sessions, p50 open→answer, gateway + executors RSS. */
  const batches: Array<{ live: number; msPerSession: number; p50: number; rss: number; failed: number }> = [];
  const errors: string[] = [];
  for (let opened = 0; opened < settings.sessions; ) {
    const size = Math.min(settings.batch, settings.sessions - opened);
    const tb = performance.now();
    const batch = await openMany(ready.url, size, {
      parallel: settings.parallel,
      evalCode: '1 + 1',
      expect: 2,
      localAddress: (i) => `127.0.0.${2 + Math.floor((opened + i) / PER_SOURCE_ADDRESS)}`,
      timeoutMs: 120_000,
    });
    const ms = performance.now() - tb;
    opened += size;
    held.push(...batch.sessions);
    errors.push(...batch.errors.slice(0, 5 - errors.length));
    batches.push({
      live: held.length,
      msPerSession: ms / size,
      p50: median(batch.sessions.map((s) => s.answerMs ?? Number.NaN)),
      rss: processTree(pid).rss,
      failed: batch.failed,
    });
    if (held.length % 5000 === 0 || opened === settings.sessions) {
      process.stderr.write(`  ${phase}: ${held.length} live, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
    if (batch.failed >= size) break; // nothing opens any more: the ceiling
  }
  // Every held session that is still open is asked `2 + 2` once more.
  let answered = 0;
  await Promise.all(
    held.map(async ({ connection }) => {
      if (connection.dropCode !== undefined) return;
      const outcome = await connection.eval('2 + 2', { guardMs: 120_000, collectLogs: false });
      if (outcome.kind === 'result' && outcome.wire === 4) answered++;
    }),
  );
  const lost = new Map<number, number>();
  for (const { connection: c } of held)
    if (c.dropCode !== undefined) lost.set(c.dropCode, (lost.get(c.dropCode) ?? 0) + 1);
  const wall = performance.now() - t0;
  const other = otherCpuPct(cpu0, systemCpu(), ourCpu() - ours0, wall);
  for (const { connection } of held) connection.terminate();
  await child.stop();
  return {
    phase,
    baseRss,
    executors: ready.executors,
    batches,
    held: held.length,
    answered,
    /** Sessions the gateway closed after their first answer, by close code. */
    lost: [...lost].map(([code, count]) => `${count} closed with ${code}`),
    errors,
    otherCpuPct: other,
    seconds: wall / 1000,
  };
}

// report

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

// orchestration

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

async function main(): Promise<void> {
  const { phases, json, role: _, ...settings } = options;
  reexecWithNofile(settings.sessions);
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
  if (json) {
    printJson({ benchmark: 'scale', machine: machineLine(fingerprint), settings, results });
  } else {
    const limit = process.env.VMGATE_BENCH_NOFILE ? spawnSync('sh', ['-c', 'ulimit -n']).stdout.toString().trim() : '?';
    process.stdout.write(`${report(results, settings, fingerprint)}\n(open-file limit ${limit})\n`);
  }
}

if (options.role === 'gateway') serveGateway();
else runMain(main);
