/**
 * Fresh, empty databases on the run's PostgreSQL server, for tests that must not share state (migrations from
 * nothing, deliberately tampered audit trails). Dropped by `dropAll()`.
 */
import { inject } from 'vitest';
import type { Sql } from 'postgres';
import { connect } from '../../src/store/db.ts';

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
