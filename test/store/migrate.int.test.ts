import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Sql } from 'postgres';
import { connect } from '../../src/store/db.ts';
import { loadMigrations, migrate, migrationsApplied } from '../../src/store/migrate.ts';

const created: string[] = [];
let admin: Sql;

/** A fresh, empty database on the run's server, so migrations start from nothing. */
async function freshDatabase(): Promise<string> {
  const name = `fd_mig_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 7)}`;
  await admin.unsafe(`CREATE DATABASE "${name}"`);
  created.push(name);
  const url = new URL(inject('databaseUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

beforeAll(() => {
  admin = connect(inject('databaseUrl'), 1);
});
afterAll(async () => {
  for (const name of created) await admin.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await admin.end();
});

describe('migrations', () => {
  it('applies every migration once even when three processes start together', async () => {
    const url = await freshDatabase();
    const pools = [connect(url, 2), connect(url, 2), connect(url, 2)];
    try {
      const results = await Promise.all(pools.map((p) => migrate(p)));
      const all = results.flat();
      const files = (await loadMigrations()).map((m) => m.name);
      expect(all.sort()).toEqual(files.sort());
      const rows = await pools[0]!`SELECT version, name FROM schema_migrations ORDER BY version`;
      expect(rows.map((r) => r.name)).toEqual(files);
      expect(await migrationsApplied(pools[0]!)).toBe(true);
      expect(await migrate(pools[1]!)).toEqual([]);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
    }
  });

  it('runs each migration in its own transaction: a failing one leaves the earlier ones applied and itself not', async () => {
    const url = await freshDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'fd-migrations-'));
    await writeFile(join(dir, '0001_first.sql'), 'CREATE TABLE first_table (x int);');
    await writeFile(join(dir, '0002_broken.sql'), 'CREATE TABLE second_table (x int);\nSELECT no_such_function();');
    const sql = connect(url, 1);
    try {
      await expect(migrate(sql, dir)).rejects.toThrow(/0002_broken\.sql/);
      const applied = await sql`SELECT name FROM schema_migrations`;
      expect(applied.map((r) => r.name)).toEqual(['0001_first.sql']);
      const tables = await sql`SELECT table_name FROM information_schema.tables WHERE table_name IN ('first_table', 'second_table')`;
      expect(tables.map((t) => t.table_name)).toEqual(['first_table']);
      expect(await migrationsApplied(sql, dir)).toBe(false);
    } finally {
      await sql.end();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
