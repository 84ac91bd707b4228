/**
 * @module store/audit-terms — the search terms of an AuditEvent, stored beside its audit_log record.
 *
 * An AuditEvent is written once and never changes, so its search values need no rows of their own: one array
 * of terms per record, in a GIN index, answers every equality search in one index probe. The values are the
 * ones the generic search rows would hold (`extractIndexRows`, the same FHIRPath and converters), spelled as
 * terms:
 *
 * - token `code=system|value`: `t:code:system|value`, `t:code:*|value` (any system) and `t:code:system|*`
 *   (any value of the system); `code:identifier` of a reference parameter the same way;
 * - reference: `r:code:Type/id`;
 * - string: `s:code:<lower case, no accents>` (the whole value) and `x:code:<as written>` (`:exact`);
 * - `p:code` for every parameter with a value (`:missing`).
 *
 * `date` is the record's own `recorded` column. Migration 0017 builds the same terms from the search rows the
 * earlier copies had; `audit verify` recomputes them from the content.
 *
 * Token and presence terms (`t:`, `p:`; not the `:identifier` of references) are shared: most records have the
 * same ones (every read by one client has the same type, subtype, action, outcome, client and entity roles), so
 * each distinct set is stored once, a shape (`audit_shape`), and a record keeps only its own terms — references,
 * strings and reference identifiers: the patient, entities, message ids, control numbers and addresses — beside its
 * shape's id (migration 0018, ./audit-shapes.ts).
 */
import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import { extractIndexRows } from './index-values.ts';

export function auditTerms(event: Resource): string[] {
  const rows = extractIndexRows(event);
  const terms = new Set<string>();
  const present = (code: string) => {
    if (!code.includes(':')) terms.add(`p:${code}`);
  };
  for (const t of rows.tokens) {
    terms.add(`t:${t.code}:${t.system}|${t.value}`);
    terms.add(`t:${t.code}:*|${t.value}`);
    if (t.system !== '') terms.add(`t:${t.code}:${t.system}|*`);
    present(t.code);
  }
  for (const r of rows.references) {
    terms.add(`r:${r.code}:${r.target}`);
    present(r.code);
  }
  for (const s of rows.strings) {
    terms.add(`s:${s.code}:${s.value}`);
    terms.add(`x:${s.code}:${s.raw}`);
    present(s.code);
  }
  for (const d of rows.dates) present(d.code);
  for (const n of rows.numbers) present(n.code);
  return [...terms].sort();
}

/**
 * Whether a term is kept in the record's shape rather than with the record, decided by its kind and parameter
 * alone: tokens and presence are shared, except the identifiers of references (`entity:identifier` names each
 * message's own id), which are the record's own like references and strings.
 */
export function isShared(term: string): boolean {
  return term.startsWith('p:') || (term.startsWith('t:') && !OWN_TOKEN.test(term));
}
const OWN_TOKEN = /^t:[^:|]+:identifier:/;

/** A record's terms split into its own and its shape's; `key` names the shape (md5 of its terms, one per line). */
export type SplitTerms = { own: string[]; shared: string[]; key: string };

export function splitTerms(terms: string[]): SplitTerms {
  const own: string[] = [];
  const shared: string[] = [];
  for (const t of terms) (isShared(t) ? shared : own).push(t);
  shared.sort();
  return { own, shared, key: createHash('md5').update(shared.join('\n')).digest('hex') };
}
