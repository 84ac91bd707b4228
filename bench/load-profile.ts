/**
 * `npm run bench:load -- --profile`: where the gateway's main thread spends its time, from the V8 CPU profile
 * (`--cpu-prof`) of each scenario's gateway process, so the next change starts from evidence.
 *
 * Only samples inside the measured windows of the gateway rows count (start-up, schema warm-up and the baseline
 * rows, when the gateway idles, are left out): profile times and `process.hrtime` share CLOCK_MONOTONIC, µs.
 * Self time goes to a subsystem by the file of the function; a function of a library or of Node itself that
 * says nothing on its own (@medplum/core, fhirpath, node:internal streams) takes the subsystem of the nearest
 * caller that does, so @medplum/core called by validate/ is validation and called by index-values is extraction.
 * Caveats: JSON.parse/stringify are C++ builtins that V8 mostly folds into their caller; GC here is the main
 * thread's only (the helper threads' share is in the process CPU of the table, not in the profile).
 */
import { readFile } from 'node:fs/promises';

type CallFrame = { functionName: string; url: string; lineNumber: number; columnNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };
export type ProfileSummary = {
  scenario: string; file: string; sampledMs: number; ops: number;
  subsystems: { name: string; ms: number; pct: number; msPerOp: number }[];
  top: { fn: string; where: string; subsystem: string; selfMs: number; pct: number }[];
};

/** From the file alone; undefined: no opinion, ask the caller. Order matters (index-values before store). */
const RULES: [RegExp, string][] = [
  [/\/src\/validate\/|\/node_modules\/ajv\//, 'validation'],
  [/\/src\/store\/(index-values|path-expression)/, 'extraction'],
  [/\/node_modules\/postgres\/|\/src\/store\//, 'SQL'],
  [/\/src\/audit\/|\/src\/access\//, 'audit/access'],
  [/\/src\/inbound\/mllp\/|\/src\/translate\/hl7v2\/|\/src\/workflows\/.*hl7/, 'MLLP/HL7 v2'],
  [/\/src\/inbound\/|\/node_modules\/(hono|@hono)\/|^node:_http|^node:internal\/http/, 'HTTP'],
  [/\/src\/workflows\/|\/src\/translate\//, 'workflows'],
];

function own(f: CallFrame): string | undefined {
  if (f.functionName === '(garbage collector)') return 'GC';
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(program)') return 'V8 (program)';
  if (f.url === '' && /^(JSON\.)?(parse|stringify)$/i.test(f.functionName)) return 'JSON';
  return RULES.find(([re]) => re.test(f.url))?.[1];
}

function where(f: CallFrame): string {
  if (f.url === '') return '(native)';
  const path = f.url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/');
  // Bundled libraries (@medplum/core) are minified onto one line: the column tells their functions apart.
  const at = f.lineNumber === 0 ? `1:${f.columnNumber + 1}` : `${f.lineNumber + 1}`;
  return `${path.replace(/^node_modules\/(@[^/]+\/[^/]+|[^/]+)\/.*\/([^/]+)$/, '$1 …/$2')}:${at}`;
}

/**
 * Self time per function and per subsystem over the samples inside `windows` ([start, end] in µs of
 * CLOCK_MONOTONIC); `ops`: operations measured in those windows, for ms per operation.
 */
export async function summarize(
  scenario: string, file: string, windows: [number, number][], ops: number, topN = 15
): Promise<ProfileSummary> {
  const p = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const subsystemOf = new Map<number, string>();
  const classify = (id: number): string => {
    let s = subsystemOf.get(id);
    if (s === undefined) {
      const n = byId.get(id)!;
      const up = parent.get(id);
      s = own(n.callFrame) ?? (up === undefined ? undefined : classify(up));
      // Nobody up the stack says: a library's own name is better than nothing.
      if (s === undefined || s === 'other') s = /@medplum\/core/.test(n.callFrame.url) ? 'validation' : 'other';
      subsystemOf.set(id, s);
    }
    return s;
  };
  const self = new Map<number, number>(); // node id → µs
  let t = p.startTime;
  for (let k = 0; k < p.samples.length; k++) {
    t += p.timeDeltas[k] ?? 0;
    const dt = p.timeDeltas[k + 1] ?? 0; // a sample stands for the time until the next one
    if (windows.some(([a, b]) => t >= a && t <= b)) self.set(p.samples[k]!, (self.get(p.samples[k]!) ?? 0) + dt);
  }
  const subsystems = new Map<string, number>();
  const functions = new Map<string, { f: CallFrame; us: number; by: Map<string, number> }>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const s = classify(id);
    if (s === 'idle') continue;
    subsystems.set(s, (subsystems.get(s) ?? 0) + us);
    const key = `${f.functionName}|${f.url}|${f.lineNumber}|${f.columnNumber}`;
    const e = functions.get(key) ?? { f, us: 0, by: new Map<string, number>() };
    e.us += us;
    e.by.set(s, (e.by.get(s) ?? 0) + us);
    functions.set(key, e);
  }
  const busy = [...subsystems.values()].reduce((a, b) => a + b, 0);
  const pct = (us: number): number => (busy > 0 ? (100 * us) / busy : 0);
  return {
    scenario, file, sampledMs: busy / 1000, ops,
    subsystems: [...subsystems]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ name, ms: us / 1000, pct: pct(us), msPerOp: ops > 0 ? us / 1000 / ops : 0 })),
    top: [...functions.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, topN)
      .map((e) => ({
        fn: e.f.functionName || '(anonymous)', where: where(e.f),
        subsystem: [...e.by].sort((a, b) => b[1] - a[1])[0]![0], selfMs: e.us / 1000, pct: pct(e.us),
      })),
  };
}

/** Markdown: the subsystems on one line, then the top functions. */
export function formatSummary(s: ProfileSummary): string {
  const lines = [
    `\n#### ${s.scenario}: ${s.sampledMs.toFixed(0)} ms of main-thread samples in the measured windows, ` +
      `${s.ops} operations (${(s.sampledMs / Math.max(1, s.ops)).toFixed(3)} ms/op); profile ${s.file}\n`,
    s.subsystems.map((x) => `${x.name} ${x.pct.toFixed(1)}% (${x.msPerOp.toFixed(3)} ms/op)`).join(' · ') + '\n',
    '| # | function | where | subsystem | self ms | % |',
    '| --- | --- | --- | --- | --- | --- |',
    ...s.top.map((f, k) =>
      `| ${k + 1} | ${f.fn} | ${f.where} | ${f.subsystem} | ${f.selfMs.toFixed(0)} | ${f.pct.toFixed(1)} |`),
  ];
  return lines.join('\n');
}
