/**
 * Starts one PostgreSQL for the whole run: the server in DATABASE_URL when set, otherwise an embedded one in
 * a fresh directory under the system temp dir (removed afterwards). Test files get the URL via inject().
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/store/embedded.ts';
import { connect } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: 'embedded' | 'external';
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const external = process.env.DATABASE_URL;
  let dir: string | undefined;
  let stop: (() => Promise<void>) | undefined;
  let url: string;
  if (external) {
    url = external;
  } else {
    dir = await mkdtemp(join(tmpdir(), 'frontdesk-test-'));
    const pg = await startEmbeddedPostgres(dir);
    url = pg.url;
    stop = pg.stop;
  }
  const sql = connect(url, 1);
  await migrate(sql);
  const [row] = await sql`SHOW server_version`;
  console.log(`tests use ${external ? 'DATABASE_URL' : 'embedded'} PostgreSQL ${String(row?.server_version)}`);
  await sql.end();
  project.provide('databaseUrl', url);
  project.provide('databaseKind', external ? 'external' : 'embedded');
  return async () => {
    await stop?.();
    if (dir) await rm(dir, { recursive: true, force: true });
  };
}
