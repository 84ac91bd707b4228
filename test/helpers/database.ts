/**
 * Fresh, empty databases on the run's PostgreSQL server, for tests that must not share state (migrations from
 * nothing, deliberately tampered audit trails). Dropped by `dropAll()`.
 */
import { inject } from 'vitest';
import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Sql } from 'postgres';
import { connect } from '../../src/store/db.ts';
import { migrate, MIGRATIONS_DIR } from '../../src/store/migrate.ts';

const created: string[] = [];

export async function freshDatabase(): Promise<string> {
  const name = `fd_t_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
  const admin = connect(inject('databaseUrl'), 1);
  try {
    await admin.unsafe(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  created.push(name);
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropAll(): Promise<void> {
  const admin = connect(inject('databaseUrl'), 1);
  try {
    for (const name of created.splice(0)) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

/**
 * Every statement a pool sends while `fn` runs (postgres.js calls `options.debug` with each one, on every
 * connection of the pool): how tests check that work arriving together shares statements.
 */
export async function statementsWhile(sql: Sql, fn: () => Promise<unknown>): Promise<string[]> {
  const options = (sql as unknown as { options: { debug?: unknown } }).options;
  const statements: string[] = [];
  options.debug = (_connection: number, query: string) => statements.push(query);
  try {
    await fn();
  } finally {
    options.debug = undefined;
  }
  return statements;
}

/**
 * A fresh database migrated with the migrations before `first` ('0018'): the schema a cluster made by the code of
 * that time has, for tests that migrate it onwards. `end` closes the pool and drops every fresh database.
 */
export async function databaseBefore(first: string, pool = 4): Promise<{ sql: Sql; end: () => Promise<void> }> {
  const sql = connect(await freshDatabase(), pool);
  const dir = await mkdtemp(join(tmpdir(), `fd-before-${first}-`));
  try {
    for (const f of await readdir(MIGRATIONS_DIR)) if (f < first) await cp(join(MIGRATIONS_DIR, f), join(dir, f));
    await migrate(sql, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return {
    sql,
    end: async () => {
      await sql.end();
      await dropAll();
    },
  };
}
