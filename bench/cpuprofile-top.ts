/**
 * Summarises a V8 `.cpuprofile` (from `--cpu-prof` or `bench:gateway --profile`):
 * where the samples' self time went, by function and by file/package, and the
 * inclusive time of the heaviest project functions.
 *
 *   node -r @swc-node/register bench/cpuprofile-top.ts <file.cpuprofile> [--top 25]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { benchCommand, int, parseOptions } from './lib/args';
import { fmt, table } from './lib/report';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const ROOT = path.resolve(__dirname, '..');

function shortUrl(url: string): string {
  if (url === '') return '(native)';
  let file = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (file.startsWith(ROOT)) file = path.relative(ROOT, file);
  return file;
}

/** node_modules/<pkg> → the package; node:internal/... → node:internal/<dir>; project files as they are. */
function group(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : `(native) ${functionName}`;
  const file = shortUrl(url);
  const nm = file.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = file.slice(nm + 'node_modules/'.length).split('/');
    return `npm:${rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]}`;
  }
  return file;
}

function label(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return name;
  return `${name}  ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

export function summarizeProfile(file: string, options: { top?: number } = {}): string {
  const top = options.top ?? 25;
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  // Self time per node (µs): each sample's delta belongs to the node sampled.
  const selfUs = new Map<number, number>();
  let totalUs = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i] as number;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dt);
    totalUs += dt;
  }
  let idleUs = 0;
  for (const [id, us] of selfUs) if (byId.get(id)?.callFrame.functionName === '(idle)') idleUs += us;
  const busyUs = totalUs - idleUs;

  const selfByFunction = new Map<string, number>();
  const selfByGroup = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const key = label(node.callFrame);
    selfByFunction.set(key, (selfByFunction.get(key) ?? 0) + us);
    const g = group(node.callFrame.url, node.callFrame.functionName);
    selfByGroup.set(g, (selfByGroup.get(g) ?? 0) + us);
    // Inclusive: credit every distinct function on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const frame = byId.get(cur)?.callFrame;
      if (!frame) break;
      const k = label(frame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const pct = (us: number) => `${fmt((us / busyUs) * 100, 1)}%`;
  const ms = (us: number) => fmt(us / 1000, 0);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const interesting = ([k]: [string, number]) =>
    /\s(gateway|sandbox|shared-state|protocol)\//.test(k) ||
    /^(runInContext|Script|compileFunction|JSON\.parse|stringify|parse)\b/.test(k) ||
    /npm:|node_modules\/(acorn|prom-client|ws|pino)/.test(k);
  const section = (title: string, header: [string, string, string], rows: [string, number][]) => [
    '',
    title,
    table(
      header,
      rows.slice(0, top).map(([k, us]) => [k, ms(us), pct(us)]),
    ),
  ];
  return [
    `profile: ${fmt(totalUs / 1e6, 2)} s sampled, ${fmt((busyUs / totalUs) * 100, 0)}% busy (not idle); percentages are of busy time`,
    ...section('Self time by function:', ['function', 'self ms', 'self %'], sorted(selfByFunction)),
    ...section('Self time by file / package:', ['file or package', 'self ms', 'self %'], sorted(selfByGroup)),
    ...section(
      'Inclusive time, project functions and vm entry points:',
      ['function', 'incl ms', 'incl %'],
      sorted(inclusive).filter(interesting),
    ),
  ].join('\n');
}

if (require.main === module) {
  const command = benchCommand('cpuprofile-top', 'summarises a .cpuprofile')
    .argument('<file>', 'a .cpuprofile (from --cpu-prof, or a benchmark with --profile)')
    .option('--top <n>', 'rows per table', int(), 25);
  const { top } = parseOptions<{ top: number }>(command);
  process.stdout.write(`${summarizeProfile(command.args[0] as string, { top })}\n`);
}
