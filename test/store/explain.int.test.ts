/**
 * Each front-office query uses the search indexes (issue #4): a database of its own is filled with tens of
 * thousands of rows straight in SQL (the planner needs realistic sizes to prefer indexes), analysed, and the plan
 * PostgreSQL picks for each query is read with EXPLAIN.
 */
import { parseSearchRequest } from '@medplum/core';
import type { Sql } from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/store/db.ts';
import { migrate } from '../../src/store/migrate.ts';
import { explainSearch } from '../../src/store/search.ts';
import { loadDefinitions } from '../../src/validate/definitions.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';

let sql: Sql;
const N = 30_000;

beforeAll(async () => {
  loadDefinitions();
  sql = connect(await freshDatabase(), 2);
  await migrate(sql);
  await sql.unsafe(`
    INSERT INTO resource (resource_type, id, version_id, last_updated, content)
      SELECT t, t || g, 1, now() - (g || ' seconds')::interval, jsonb_build_object('resourceType', t, 'id', t || g)
      FROM generate_series(1, ${N}) g, unnest(ARRAY['Patient', 'Coverage', 'ServiceRequest', 'CoverageEligibilityResponse']) t;
    INSERT INTO resource (resource_type, id, version_id, last_updated, content)
      SELECT 'Appointment', 'Appointment' || g, 1, now(), jsonb_build_object('resourceType', 'Appointment', 'id', 'Appointment' || g)
      FROM generate_series(1, ${2 * N}) g;
    INSERT INTO search_token (resource_type, id, code, system, value)
      SELECT 'Patient', 'Patient' || g, 'identifier', 'urn:mrn', 'M' || g FROM generate_series(1, ${N}) g
      UNION ALL SELECT 'Patient', 'Patient' || g, 'phone', 'phone', '555' || lpad(g::text, 7, '0') FROM generate_series(1, ${N}) g
      UNION ALL SELECT 'Patient', 'Patient' || g, 'gender', '', (ARRAY['male', 'female'])[1 + g % 2] FROM generate_series(1, ${N}) g
      UNION ALL SELECT 'Coverage', 'Coverage' || g, 'status', '', (ARRAY['active', 'cancelled'])[1 + g % 2] FROM generate_series(1, ${N}) g
      UNION ALL SELECT 'ServiceRequest', 'ServiceRequest' || g, 'status', '', (ARRAY['active', 'completed', 'draft'])[1 + g % 3] FROM generate_series(1, ${N}) g;
    INSERT INTO search_string (resource_type, id, code, value, raw)
      SELECT 'Patient', 'Patient' || g, c, 'fam' || (g % 5000), 'Fam' || (g % 5000) FROM generate_series(1, ${N}) g, unnest(ARRAY['family', 'name']) c;
    INSERT INTO search_date (resource_type, id, code, low, high)
      SELECT 'Patient', 'Patient' || g, 'birthdate', d, d + interval '1 day' - interval '1 millisecond'
      FROM (SELECT g, timestamptz '1940-01-01' + ((g % 25000) || ' days')::interval AS d FROM generate_series(1, ${N}) g) x
      UNION ALL SELECT 'Appointment', 'Appointment' || g, 'date', d, d + interval '20 minutes'
      FROM (SELECT g, timestamptz '2026-01-01 08:00Z' + ((g % 300) || ' days')::interval + ((g % 20) * 20 || ' minutes')::interval AS d FROM generate_series(1, ${2 * N}) g) y
      UNION ALL SELECT 'CoverageEligibilityResponse', 'CoverageEligibilityResponse' || g, 'created', d, d + interval '1 day' - interval '1 millisecond'
      FROM (SELECT g, timestamptz '2025-01-01' + ((g % 700) || ' days')::interval AS d FROM generate_series(1, ${N}) g) z;
    INSERT INTO search_reference (resource_type, id, code, target)
      SELECT 'Appointment', 'Appointment' || g, c, 'Practitioner/Practitioner' || (g % 200) FROM generate_series(1, ${2 * N}) g, unnest(ARRAY['actor', 'practitioner']) c
      UNION ALL SELECT 'Appointment', 'Appointment' || g, c, 'Patient/Patient' || (g % ${N}) FROM generate_series(1, ${2 * N}) g, unnest(ARRAY['actor', 'patient']) c
      UNION ALL SELECT 'Coverage', 'Coverage' || g, c, 'Patient/Patient' || g FROM generate_series(1, ${N}) g, unnest(ARRAY['beneficiary', 'patient']) c
      UNION ALL SELECT 'ServiceRequest', 'ServiceRequest' || g, c, 'Patient/Patient' || (g % ${N / 2}) FROM generate_series(1, ${N}) g, unnest(ARRAY['subject', 'patient']) c
      UNION ALL SELECT 'CoverageEligibilityResponse', 'CoverageEligibilityResponse' || g, 'patient', 'Patient/Patient' || (g % ${N / 3}) FROM generate_series(1, ${N}) g;
    ANALYZE;`);
}, 120_000);
afterAll(async () => {
  await sql?.end();
  await dropAll();
});

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; 'Actual Loops'?: number; 'Actual Rows'?: number; Plans?: PlanNode[] };

function nodes(plan: unknown): PlanNode[] {
  const out: PlanNode[] = [];
  const walk = (n: PlanNode) => {
    out.push(n);
    n.Plans?.forEach(walk);
  };
  walk((plan as { Plan: PlanNode }[])[0]!.Plan);
  return out;
}

async function plan(type: string, query: Record<string, string>) {
  const all = nodes(await explainSearch(sql, parseSearchRequest(type as 'Patient', query), 'http://localhost/fhir'));
  return {
    indexes: all.map((n) => n['Index Name']).filter(Boolean) as string[],
    seqScans: all.filter((n) => n['Node Type'] === 'Seq Scan').map((n) => n['Relation Name']),
  };
}

describe('front-office queries use indexes (EXPLAIN)', () => {
  // [name, type, query, the search indexes of which the plan must use at least one]
  const cases: [string, string, Record<string, string>, string[]][] = [
    ['Patient by identifier', 'Patient', { identifier: 'urn:mrn|M12345' }, ['search_token_value']],
    ['Patient by family + birth date', 'Patient', { family: 'fam42', birthdate: '1950-03-04' }, ['search_string_value', 'search_date_range']],
    ['Patient by phone', 'Patient', { phone: '5550012345' }, ['search_token_value']],
    ['Appointment by date + actor', 'Appointment', { actor: 'Practitioner/Practitioner7', date: '2026-03-10', _sort: 'date' }, ['search_reference_by_target', 'search_date_range']],
    ['Coverage by beneficiary + status', 'Coverage', { beneficiary: 'Patient/Patient77', status: 'active' }, ['search_reference_by_target']],
    ['ServiceRequest by subject + status', 'ServiceRequest', { subject: 'Patient/Patient77', status: 'active' }, ['search_reference_by_target']],
    ['CoverageEligibilityResponse by patient + created', 'CoverageEligibilityResponse', { patient: 'Patient/Patient77', created: 'ge2025-06-01' }, ['search_reference_by_target']],
  ];
  it.each(cases)('%s', async (_name, type, query, expected) => {
    const p = await plan(type, query);
    expect(p.indexes.some((i) => expected.includes(i)), `plan used ${p.indexes.join(', ')}`).toBe(true);
    expect(p.seqScans).toEqual([]);
  });
});

describe('a practitioner\'s day reads resource rows only for its matches', () => {
  it('finds the candidates in the search tables and joins the resource table last (EXPLAIN ANALYZE)', async () => {
    // Practitioner7 has 300 appointments in the table, one of them on 2026-03-10 at most a few: the plan must not
    // visit the resource rows of the other ~300 to find out (what PostgreSQL did when the resource table drove).
    const request = parseSearchRequest('Appointment', { actor: 'Practitioner/Practitioner7', date: '2026-03-10', _sort: 'date' });
    const all = nodes(await explainSearch(sql, request, 'http://localhost/fhir', {}, true));
    const matches = (all[0]?.['Actual Rows'] ?? 0);
    const resourceProbes = all.filter((n) => n['Relation Name'] === 'resource').reduce((sum, n) => sum + (n['Actual Loops'] ?? 0) * Math.max(1, n['Actual Rows'] ?? 0), 0);
    // The candidates are the practitioner's 300 appointments or the day's 200 (which drives is PostgreSQL's choice).
    const candidates = all.filter((n) => /^search_(reference|date)_/.test(n['Index Name'] ?? '')).reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1), 0);
    expect(candidates).toBeGreaterThanOrEqual(200);
    expect(resourceProbes).toBeLessThanOrEqual(Math.max(matches, 1));
  });

  it('reads the day\'s dates as one index range instead of probing the date of every candidate (EXPLAIN ANALYZE)', async () => {
    // The day bounds `low` from both sides (range-sql), and the practitioner is among the most common reference
    // targets in the statistics (migration 0010), so PostgreSQL knows it has 300 candidates, not a patient's few:
    // it joins them with the ~200 date rows of that day rather than looking up each candidate's date.
    for (const n of [7, 123, 199]) {
      const request = parseSearchRequest('Appointment', { actor: `Practitioner/Practitioner${n}`, date: '2026-03-10', _sort: 'date' });
      const all = nodes(await explainSearch(sql, request, 'http://localhost/fhir', {}, true));
      const dateScans = all.filter((n) => n['Index Name'] === 'search_date_range' || n['Index Name'] === 'search_date_owner');
      const probes = dateScans.filter((n) => n['Index Name'] === 'search_date_owner').reduce((sum, n) => sum + (n['Actual Loops'] ?? 0), 0);
      const matches = all[0]?.['Actual Rows'] ?? 0;
      expect({ n, range: dateScans.some((n) => n['Index Name'] === 'search_date_range'), probes: probes <= matches }).toEqual({ n, range: true, probes: true });
    }
  });
});

describe('the order of the parameters does not decide the plan', () => {
  it('finds a patient\'s active coverages from the patient, also when status comes first (EXPLAIN ANALYZE)', async () => {
    // 15,000 coverages are active: a plan that started from status would read them all.
    for (const query of [{ beneficiary: 'Patient/Patient77', status: 'active' }, { status: 'active', beneficiary: 'Patient/Patient77' }]) {
      const all = nodes(await explainSearch(sql, parseSearchRequest('Coverage', query), 'http://localhost/fhir', {}, true));
      const tokenRows = all.filter((n) => n['Index Name'] === 'search_token_value').reduce((sum, n) => sum + (n['Actual Rows'] ?? 0) * (n['Actual Loops'] ?? 1), 0);
      const statusProbes = all.filter((n) => n['Index Name'] === 'search_token_owner').reduce((sum, n) => sum + (n['Actual Loops'] ?? 0), 0);
      expect({ query, tokenRows: tokenRows < 100, statusProbes: statusProbes < 100 }).toEqual({ query, tokenRows: true, statusProbes: true });
    }
  });
});
