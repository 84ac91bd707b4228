/**
 * @module store/db — opens the database: `DATABASE_URL` when set, the embedded PostgreSQL otherwise; migrates.
 */
import postgres, { type Sql } from 'postgres';
import type { Config } from '../config.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';

export type Database = {
  sql: Sql;
  /** Where the data lives, for the start-up banner: never includes the password. */
  describe: string;
  close: () => Promise<void>;
};

export async function openDatabase(
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'dbPoolSize'> & Partial<Pick<Config, 'dbSharedBuffersMb'>>,
  log: (msg: string) => void = () => undefined
): Promise<Database> {
  const embedded = config.databaseUrl ? undefined : await startEmbeddedPostgres(config.dataDir, log, config.dbSharedBuffersMb);
  const url = config.databaseUrl ?? embedded!.url;
  const sql = connect(url, config.dbPoolSize, embedded?.socket);
  try {
    const applied = await migrate(sql);
    if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
  } catch (err) {
    await sql.end({ timeout: 1 });
    await embedded?.stop();
    throw err;
  }
  return {
    sql,
    describe: embedded
      ? `embedded PostgreSQL on 127.0.0.1:${embedded.port}, data in ${config.dataDir}`
      : `PostgreSQL at ${redact(url)}`,
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}

/** `socket`: a Unix socket file to use instead of the URL's host and port (the embedded server's). */
export function connect(url: string, max = 10, socket?: string): Sql {
  return postgres(url, {
    max,
    ...(socket ? { path: socket } : {}),
    onnotice: () => undefined,
    // Search statements are prepared once and reused; after five runs PostgreSQL may switch to a generic plan
    // that ignores how selective this query's values are (a patient's references vs. "status=active") and turns
    // a 1 ms lookup into a 150 ms scan. Custom plans cost about a millisecond of planning and never do that.
    connection: { plan_cache_mode: 'force_custom_plan' },
    transform: { undefined: null },
  });
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'DATABASE_URL';
  }
}
