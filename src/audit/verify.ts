/**
 * @module audit/verify — checks the audit trail: sequence without gaps, every hash recomputed from the content
 * and the previous hash, the head matching the last record, and the searchable AuditEvent copies matching the
 * log. Finds an edited, inserted or deleted record.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Sql } from 'postgres';
import { chainHash } from './trail.ts';

/** `pending`: records whose searchable copies the projector has not written yet (src/audit/trail.ts). */
export type VerifyResult = { ok: boolean; checked: number; pending: number; problems: string[] };

export async function verifyAuditTrail(sql: Sql, maxProblems = 20): Promise<VerifyResult> {
  const problems: string[] = [];
  const note = (p: string): void => {
    if (problems.length < maxProblems) problems.push(p);
  };
  let expectedSeq = 1;
  let prev: Buffer = Buffer.alloc(32);
  let checked = 0;
  let pending = 0;
  const [projection] = await sql<{ seq: string }[]>`SELECT seq FROM audit_projection WHERE id = 1`;
  const projected = Number(projection?.seq ?? 0);
  const cursor = sql<{ seq: string; id: string; content: string; prev_hash: Buffer; hash: Buffer; copy: unknown }[]>`
    SELECT a.seq, a.id, a.content, a.prev_hash, a.hash, r.content AS copy
    FROM audit_log a LEFT JOIN resource r ON r.resource_type = 'AuditEvent' AND r.id = a.id
    ORDER BY a.seq`.cursor(1000);
  for await (const rows of cursor) {
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) note(`record ${expectedSeq}${seq > expectedSeq + 1 ? `..${seq - 1}` : ''} missing (deleted?) before record ${seq}`);
      if (!row.prev_hash.equals(prev)) note(`record ${seq}: does not follow the record before it (chain broken)`);
      if (!chainHash(row.prev_hash, row.content).equals(row.hash)) note(`record ${seq}: content does not match its hash (edited)`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(row.content);
      } catch {
        note(`record ${seq}: content is not JSON`);
      }
      if (row.copy === null || row.copy === undefined) {
        if (seq > projected) pending += 1; // not projected yet: written by the gateway's projector shortly
        else note(`record ${seq}: searchable AuditEvent/${row.id} is missing`);
      }
      else if (!isDeepStrictEqual(row.copy, parsed)) note(`record ${seq}: searchable AuditEvent/${row.id} differs from the log`);
      prev = row.hash;
      expectedSeq = seq + 1;
      checked += 1;
    }
  }
  const [head] = await sql<{ seq: string; hash: Buffer }[]>`SELECT seq, hash FROM audit_head WHERE id = 1`;
  if (!head) note('the chain head is missing');
  else {
    if (Number(head.seq) !== expectedSeq - 1) note(`the head says ${head.seq} records, the log ends at ${expectedSeq - 1} (records deleted at the end?)`);
    else if (!head.hash.equals(prev)) note('the head hash does not match the last record');
  }
  const [{ n } = { n: 0 }] = await sql<{ n: number }[]>`
    SELECT count(*)::int AS n FROM resource r WHERE r.resource_type = 'AuditEvent'
    AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.id = r.id)`;
  if (n > 0) note(`${n} searchable AuditEvent(s) are not in the log (inserted?)`);
  return { ok: problems.length === 0, checked, pending, problems };
}
