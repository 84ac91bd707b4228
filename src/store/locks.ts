/**
 * @module store/locks — PostgreSQL advisory locks by name, for work that one process at a time may do: a
 * transaction-scoped one (released at commit) and a session one on a reserved connection (released by hand).
 */
import type { ReservedSql, Sql } from 'postgres';

/** Waits for the lock `(space, key)` until the current transaction ends. */
export async function lockInTransaction(tx: Sql, space: number, key: string): Promise<void> {
  await tx`SELECT pg_advisory_xact_lock(${space}, hashtext(${key}))`;
}

/** Takes the session lock `(space, key)` on `conn` if nobody holds it; the release to call when done, or undefined. */
export async function tryLock(
  conn: ReservedSql,
  space: number,
  key: string
): Promise<(() => Promise<void>) | undefined> {
  const [row] = await conn<{ ok: boolean }[]>`SELECT pg_try_advisory_lock(${space}, hashtext(${key})) AS ok`;
  if (!row?.ok) return undefined;
  return async () => void (await conn`SELECT pg_advisory_unlock(${space}, hashtext(${key}))`);
}
