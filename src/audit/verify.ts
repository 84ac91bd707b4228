/**
 * @module audit/verify — checks the audit trail: sequence without gaps, every hash recomputed from the content
 * and the previous hash, the head matching the last record, and every record's search terms recomputed from its
 * content (its own and its shape's). Finds an edited, inserted or deleted record, and terms edited to hide or
 * misfile one.
 */
import type { Sql } from 'postgres';
import { auditTerms } from '../store/audit-terms.ts';
import { chainHash } from './trail.ts';

export type VerifyResult = { ok: boolean; checked: number; problems: string[] };

/** A record with its own search terms and its shape's (null when missing). */
type Row = {
  seq: string;
  content: string;
  prev_hash: Buffer;
  hash: Buffer;
  terms: string[] | null;
  shared: string[] | null;
};

export async function verifyAuditTrail(sql: Sql, maxProblems = 20): Promise<VerifyResult> {
  const problems: string[] = [];
  const note = (p: string): void => {
    if (problems.length < maxProblems) problems.push(p);
  };
  let expectedSeq = 1;
  let prev: Buffer = Buffer.alloc(32);
  let checked = 0;
  const cursor = sql<Row[]>`
    SELECT a.seq, a.content, a.prev_hash, a.hash, s.terms, sh.terms AS shared
    FROM audit_log a LEFT JOIN audit_search s ON s.seq = a.seq LEFT JOIN audit_shape sh ON sh.id = s.shape
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
      if (!row.terms) note(`record ${seq}: search terms are missing`);
      else if (!row.shared) note(`record ${seq}: the shape of its search terms is missing`);
      else if (parsed && !sameSet([...row.terms, ...row.shared], auditTerms(parsed as never)))
        note(`record ${seq}: search terms differ from its content`);
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
    SELECT count(*)::int AS n FROM audit_search s WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.seq = s.seq)`;
  if (n > 0) note(`${n} search term row(s) belong to no record (inserted?)`);
  return { ok: problems.length === 0, checked, problems };
}

function sameSet(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((t) => set.has(t));
}
