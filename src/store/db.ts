/**
 * @module store/db — opens the database: `DATABASE_URL` when set, the embedded PostgreSQL otherwise; migrates.
 */
import { setPriority } from 'node:os';
import postgres, { type Sql } from 'postgres';
import type { Config } from '../config.ts';
import { startEmbeddedPostgres } from './embedded.ts';
import { migrate } from './migrate.ts';

export type Database = {
  sql: Sql;
  /**
   * Work nobody waits for (the audit projection). With the embedded server — this machine's processes, started
   * for us — its one connection's server process runs at the lowest CPU priority, so requests and messages take the
   * cores first and it uses what they leave (bench/search); {@link Background.lower} makes sure of that after a
   * reconnection. With `DATABASE_URL` it is the main pool: a remote server's processes are not ours to re-prioritise.
   */
  background: Background;
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
  const background: Background = embedded
    ? lowPriority(connect(url, 1, embedded.socket, true))
    : onMainPool(sql);
  return {
    sql,
    background,
    describe: embedded
      ? `embedded PostgreSQL on 127.0.0.1:${embedded.port}, data in ${config.dataDir}`
      : `PostgreSQL at ${redact(url)}`,
    close: async () => {
      await sql.end({ timeout: 5 });
      if (background.sql !== sql) await background.sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}

/** A pool for background work and how to keep its server process at the lowest CPU priority. */
export type Background = {
  sql: Sql;
  /** Lowers the priority of the connection's server process (again, if it reconnected); never throws. */
  lower: () => Promise<void>;
};

/** No background connection: background work runs on the main pool, at normal priority. */
export function onMainPool(sql: Sql): Background {
  return { sql, lower: async () => undefined };
}

/** Nice 19: the scheduler gives the process what the others leave (about 1/70 of a busy core). */
const LOWEST = 19;

function lowPriority(sql: Sql): Background {
  let lowered: number | undefined;
  return {
    sql,
    lower: async () => {
      try {
        const [row] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        if (row && row.pid !== lowered) {
          setPriority(row.pid, LOWEST);
          lowered = row.pid;
        }
      } catch {
        // Not permitted, or the connection is down: the work still runs, at normal priority.
      }
    },
  };
}

/**
 * `socket`: a Unix socket file to use instead of the URL's host and port (the embedded server's). `background`:
 * the connection is kept (postgres.js replaces each after 30–60 minutes by default) and commits without waiting
 * for the WAL flush — a low-priority process must not hold the WAL write lock that requests' commits queue on,
 * and what it writes (AuditEvent copies, with their position) is derived: lost in a crash, it is projected again.
 */
export function connect(url: string, max = 10, socket?: string, background = false): Sql {
  return postgres(url, {
    max,
    ...(background ? { max_lifetime: 0, idle_timeout: 0 } : {}),
    ...(socket ? { path: socket } : {}),
    onnotice: () => undefined,
    // Search statements are prepared once and reused; after five runs PostgreSQL may switch to a generic plan
    // that ignores how selective this query's values are (a patient's references vs. "status=active") and turns
    // a 1 ms lookup into a 150 ms scan. Custom plans cost about a millisecond of planning and never do that.
    connection: { plan_cache_mode: 'force_custom_plan', ...(background ? { synchronous_commit: 'off' } : {}) },
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
