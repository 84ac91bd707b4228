/**
 * @module store/migrate — applies `migrations/NNNN_name.sql` in order at start-up.
 *
 * Each file runs in its own transaction and is recorded in `schema_migrations`; the whole run holds a
 * session advisory lock, so two gateway processes starting together apply each migration exactly once.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sql } from 'postgres';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));

/** Arbitrary but fixed: the advisory lock key that serialises migration runs across processes. */
const MIGRATION_LOCK_KEY = 7_317_001;

export type Migration = { version: number; name: string; sql: string };

export async function loadMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{4}_[\w-]+\.sql$/.test(f)).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const version = Number(file.slice(0, 4));
    if (migrations.some((m) => m.version === version)) {
      throw new Error(`Two migrations share version ${version}`);
    }
    migrations.push({ version, name: file, sql: await readFile(join(dir, file), 'utf8') });
  }
  return migrations;
}

/** Applies every migration not yet recorded, each in its own transaction; returns the names applied. */
export async function migrate(sql: Sql, dir = MIGRATIONS_DIR): Promise<string[]> {
  const migrations = await loadMigrations(dir);
  // One dedicated connection holds a session advisory lock for the whole run; a crash drops the
  // connection and with it the lock.
  const conn = await sql.reserve();
  try {
    await conn`SELECT pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    await conn`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`;
    const rows = await conn<{ version: number }[]>`SELECT version FROM schema_migrations`;
    const done = new Set(rows.map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await conn.unsafe('BEGIN');
      try {
        await conn.unsafe(m.sql);
        await conn`INSERT INTO schema_migrations (version, name) VALUES (${m.version}, ${m.name})`;
        await conn.unsafe('COMMIT');
      } catch (err) {
        await conn.unsafe('ROLLBACK');
        throw new Error(`Migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
    }
    return applied;
  } finally {
    await conn`SELECT pg_advisory_unlock(${MIGRATION_LOCK_KEY})`.catch(() => undefined);
    conn.release();
  }
}

/** True when every migration on disk is recorded: what `/readyz` reports. */
export async function migrationsApplied(sql: Sql, dir = MIGRATIONS_DIR): Promise<boolean> {
  const migrations = await loadMigrations(dir);
  const rows = await sql<{ version: number }[]>`
    SELECT version FROM schema_migrations`.catch(() => [] as { version: number }[]);
  const done = new Set(rows.map((r) => r.version));
  return migrations.every((m) => done.has(m.version));
}
