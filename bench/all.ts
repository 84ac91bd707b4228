/**
 * `npm run bench [-- --profile]`: every benchmark in turn, each in a process of its own — the hot paths under
 * load (bench/load.ts, which takes `--profile`), search, MLLP, eligibility and outbound referrals. Stops at the
 * first that fails.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const BENCHES = ['load.ts', 'search.ts', 'mllp.ts', 'eligibility.ts', 'outbound.ts'];
const args = process.argv.slice(2);
for (const bench of BENCHES) {
  console.log(`\n== bench/${bench} ==`);
  const r = spawnSync(process.execPath, [join(import.meta.dirname, bench), ...(bench === 'load.ts' ? args : [])], {
    stdio: 'inherit',
  });
  if (r.status !== 0) {
    console.error(`bench/${bench} failed (${r.signal ?? `exit ${r.status}`})`);
    process.exit(r.status ?? 1);
  }
}
