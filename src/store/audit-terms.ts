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
 */
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
