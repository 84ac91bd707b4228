/**
 * @module verify-coverage-cli — `frontdesk verify-coverage --date YYYY-MM-DD`: the whole-day verification of
 * `Appointment/$verify-coverage`, run from a terminal on the configured database and partners file, with a progress
 * bar (stderr) and a summary table (stdout). It drives the same Task as the gateway would: a run interrupted
 * here is resumed by the next run for that date, or by the gateway at its next start.
 */
import { parseArgs } from 'node:util';
import type { TaskOutput } from '@medplum/fhirtypes';
import { loadConfig } from './config.ts';
import { openCore } from './core.ts';
import { createLogger } from './log.ts';
import { localDate } from './workflows/eligibility-submit.ts';
import { isDay, runVerification, startVerification, type Progress } from './workflows/verify-coverage.ts';

export async function verifyCoverageCli(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { date: { type: 'string' } } });
  const config = loadConfig({ FRONTDESK_LOG_LEVEL: 'warn', ...process.env });
  const date = values.date ?? localDate(new Date(), config.timeZone);
  if (!isDay(date)) {
    process.stderr.write(`--date must be YYYY-MM-DD (got "${date}")\n`);
    return 2;
  }
  const core = await openCore(config, createLogger(config, process.stderr));
  try {
    const task = await startVerification(core.repo, date);
    process.stderr.write(`Verifying coverage for ${date} (Task/${task.id})\n`);
    const final = await runVerification(core.eligibility, task, (p) => process.stderr.write(bar(p)));
    process.stderr.write('\n');
    process.stdout.write(table(final.output ?? []));
    process.stdout.write(
      `\nTask/${task.id}: ${final.status}${final.businessStatus?.text ? `, ${final.businessStatus.text}` : ''}\n`
    );
    return final.status === 'completed' ? 0 : 1;
  } finally {
    await core.audit.settled().catch(() => undefined);
    await core.db.close();
  }
}

/** `\r[#########...........] 12/40, 2 need attention`: redrawn in place. */
export function bar(p: Progress, width = 30): string {
  const filled = p.total ? Math.round((p.done / p.total) * width) : width;
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${p.done}/${p.total}, ${p.problems} need attention`;
}

/** One row per check: result, patient, appointment, payer, what the payer said (no names: ids only). */
export function table(outputs: TaskOutput[]): string {
  const rows = outputs.map((o) => {
    const text = o.type?.text ?? '';
    const cut = text.indexOf(': ');
    const [who, said] = cut < 0 ? [text, ''] : [text.slice(0, cut), text.slice(cut + 2)];
    const m = /^(\S+) \((\S+)\), payer (\S+)$/.exec(who);
    return [o.type?.coding?.[0]?.code ?? '', m?.[1] ?? who, m?.[2] ?? '', m?.[3] ?? '', said];
  });
  const head = ['result', 'patient', 'appointment', 'payer', 'detail'];
  const widths = head.map((h, i) => Math.min(48, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}
