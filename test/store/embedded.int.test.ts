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

  it('falls back to TCP where a socket path would not fit or the directory setting could not hold it', () => {
    expect(socketFor('/tmp/fd/pg', 5433)).toBe('/tmp/fd/pg/.s.PGSQL.5433');
    expect(socketFor(`/tmp/${'d'.repeat(100)}/pg`, 5433)).toBeUndefined();
    expect(socketFor('/tmp/a,b/pg', 5433)).toBeUndefined();
    expect(socketFor('/tmp/with space/pg', 5433)).toBeUndefined();
  });
});
