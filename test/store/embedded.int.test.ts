/**
 * The embedded PostgreSQL as the gateway opens it: its own connections go over the Unix socket in the cluster
 * directory (loopback TCP cost a third of the CPU under HL7 v2 load), and its shared_buffers are the configured size.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/store/db.ts';
import { socketFor } from '../../src/store/embedded.ts';

describe('the embedded PostgreSQL', () => {
  it('serves the gateway over its Unix socket, with the configured shared_buffers', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'fd-emb-'));
    const db = await openDatabase({ databaseUrl: undefined, dataDir, dbPoolSize: 2, dbSharedBuffersMb: 192 });
    try {
      const [row] = await db.sql<{ addr: string | null; buffers: string }[]>`
        SELECT inet_server_addr()::text AS addr, current_setting('shared_buffers') AS buffers`;
      expect(row).toEqual({ addr: null, buffers: '192MB' }); // no server address: not a TCP connection
    } finally {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('runs the background connection\'s server process at the lowest CPU priority, also after it reconnects, without waiting for WAL flushes', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'fd-emb-'));
    const db = await openDatabase({ databaseUrl: undefined, dataDir, dbPoolSize: 2 });
    // /proc/<pid>/stat: the 19th field is the nice value (proc(5)); the fields after the command name start at 3.
    const nice = async (pid: number) => {
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    };
    const pid = async (sql: typeof db.sql) => (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
    try {
      await db.background.lower();
      const first = await pid(db.background.sql);
      expect({ background: await nice(first), main: await nice(await pid(db.sql)) }).toEqual({ background: 19, main: 0 });
      // Its commits do not wait for the WAL flush (the copies it writes can be projected again after a crash).
      const commit = async (sql: typeof db.sql) => (await sql<{ s: string }[]>`SELECT current_setting('synchronous_commit') AS s`)[0]!.s;
      expect({ background: await commit(db.background.sql), main: await commit(db.sql) }).toEqual({ background: 'off', main: 'on' });
      await db.sql`SELECT pg_terminate_backend(${first})`;
      await new Promise((r) => setTimeout(r, 200));
      await db.background.lower(); // the pool reconnects: a new server process, lowered in its turn
      const second = await pid(db.background.sql);
      expect(second).not.toBe(first);
      expect(await nice(second)).toBe(19);
    } finally {
      await db.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 120_000);

  it('falls back to TCP where a socket path would not fit or the directory setting could not hold it', () => {
    expect(socketFor('/tmp/fd/pg', 5433)).toBe('/tmp/fd/pg/.s.PGSQL.5433');
    expect(socketFor(`/tmp/${'d'.repeat(100)}/pg`, 5433)).toBeUndefined();
    expect(socketFor('/tmp/a,b/pg', 5433)).toBeUndefined();
    expect(socketFor('/tmp/with space/pg', 5433)).toBeUndefined();
  });
});
