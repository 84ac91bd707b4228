/**
 * @module store/conditional-references — a resource's conditional references (`Patient?identifier=…`) replaced by
 * `Patient/<id>` when exactly one resource matches (http.html#trules), as it is stored.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { preconditionFailed } from './errors.ts';
import { matchIds } from './match.ts';
import { parseConditional, splitOnce } from './preconditions.ts';
import { isConditionalReference, referenceSites } from './references.ts';

export async function resolveConditionalReferences(sql: Sql, baseUrl: string, resource: Resource): Promise<void> {
  for (const site of referenceSites(resource)) {
    if (!isConditionalReference(site.value)) continue;
    const [type, query] = splitOnce(site.value, '?');
    const search = parseConditional(type, query, site.path);
    const unsupported = (names: string) =>
      invalid(`Unsupported search parameter(s) in conditional reference: ${names}`, site.path);
    const ids = await matchIds(sql, search, baseUrl, unsupported);
    if (ids.length !== 1) {
      const matched = ids.length === 0 ? 'no' : 'more than one';
      throw preconditionFailed(`Conditional reference ${site.value} matched ${matched} resource`, 'processing', site.path);
    }
    site.set(`${type}/${ids[0]}`);
  }
}
