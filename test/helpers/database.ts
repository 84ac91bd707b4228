/**
 * Fresh, empty databases on the run's PostgreSQL server, for tests that must not share state (migrations from
 * nothing, deliberately tampered audit trails). Dropped by `dropAll()`.
 */
import { inject } from 'vitest';
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
