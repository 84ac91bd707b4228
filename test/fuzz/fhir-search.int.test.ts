/**
 * Fuzzing FHIR search query strings over real HTTP (issue #16 point 2): the real R4 parameters of each type (and
 * made-up ones), with modifiers, chains, `_has`, prefixes, odd and huge numbers and dates, token and quantity
 * syntax, the result parameters (`_count`, `_sort`, `_include`, …), percent-encodings valid and not, and the
 * AuditEvent search of the audit log; by GET, and by POST `_search` with the same text as a form body. Whatever
 * the query, the answer comes within the time bound, below 500, errors as OperationOutcome.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe } from 'vitest';
import { RESOURCE_TYPES } from '../../src/inbound/fhir/registry.ts';
import { indexedParams } from '../../src/store/search-params.ts';
import { assertAnswer, fuzzGateway, type FuzzGateway } from './http.ts';
import { fuzz } from './property.ts';

let fz: FuzzGateway;
beforeAll(async () => {
  fz = await fuzzGateway();
  // Something to find, so that sorting, paging and includes have rows to work on.
  const FHIR = { 'content-type': 'application/fhir+json' };
  const name = [{ family: 'Searchable', given: ['Fuzz'] }];
  const identifier = [{ system: 'urn:x', value: '1' }];
  const patient = { resourceType: 'Patient', name, birthDate: '1980-01-01', identifier };
  const created = await fz.send('POST', '/fhir/Patient', JSON.stringify(patient), FHIR);
  const { id } = JSON.parse(created.text) as { id: string };
  const ref = { reference: `Patient/${id}` };
  const coverage = { resourceType: 'Coverage', status: 'active', beneficiary: ref, payor: [ref] };
  await fz.send('POST', '/fhir/Coverage', JSON.stringify(coverage), FHIR);
}, 60_000);
afterAll(() => fz?.stop());

const TYPES = Object.keys(RESOURCE_TYPES);
const RESULT_PARAMS = [
  '_count', '_offset', '_sort', '_include', '_revinclude', '_summary', '_elements', '_total', '_id', '_lastUpdated',
  '_type', '_format', '_has', '_text', '_content', '_list', '_query', '_filter',
];
const MODIFIERS = [
  '', ':exact', ':contains', ':missing', ':not', ':above', ':below', ':text', ':in', ':not-in', ':of-type',
  ':identifier', ':Patient', ':iterate', ':x', ':', '::',
];
const CHAINS = [
  '_has:Coverage:beneficiary:status', '_has:Coverage:x:y', '_has:', 'beneficiary:Patient.name', 'patient.name',
  'general-practitioner.name.family',
];
const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'xx'];
const VALUES = [
  '', 'Searchable', 'a,b,,c', 'urn:x|1', '|1', 'urn:x|', '|', '||', '1980', '1980-01', '1980-01-01T00:00:00Z',
  '2026-02-30', '1980-01-01T25:61:00+99:00', '0', '-1', '-0', '1e400', '99999999999999999999999',
  '0.000000000000000000001', 'NaN', 'Infinity', '5.4|http://unitsofmeasure.org|mg', '5.4||mg', 'true', 'false',
  'Patient/1', 'Patient/', 'urn:uuid:x', 'http://a/Patient/1', 'Patient:organization',
  'Patient:general-practitioner:Practitioner', '*', 'Coverage:beneficiary', '-name,birthdate', 'name,-_id', "'", '"',
  '\\', '%', '%00', '%ZZ', '%E2%82', '%C3%A9', '+', '&', '=', ';', '$', '\u0000', '\ud800', '𝒜', 'é', "' OR 1=1 --",
  'x'.repeat(5000), 'count', 'accurate', 'estimate', 'none', 'text', 'data',
];
/** A lone surrogate cannot be percent-encoded (URIError): written as the replacement character it becomes anyway. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** One `name=value` pair: a real parameter of the type or of the result set, else made up; encoded or not. */
function pair(type: string): fc.Arbitrary<string> {
  const codes = [...indexedParams(type).map((p) => p.code ?? ''), ...RESULT_PARAMS, 'x', '', 'name.family'];
  const name = fc.tuple(fc.constantFrom(...codes), fc.constantFrom(...MODIFIERS)).map(([c, m]) => c + m);
  const value = fc.tuple(fc.constantFrom(...PREFIXES), fc.constantFrom(...VALUES)).map(([p, v]) => p + v);
  const names = fc.oneof({ weight: 4, arbitrary: name }, { weight: 1, arbitrary: fc.constantFrom(...CHAINS) });
  const values = fc.array(value, { minLength: 1, maxLength: 3 });
  return fc.tuple(names, values, fc.constantFrom('raw', 'uri', 'form')).map(([n, vs, how]) => {
    const v = vs.join(',').replace(LONE_SURROGATE, '\uFFFD');
    if (how === 'raw') return `${n}=${v}`;
    if (how === 'form') return new URLSearchParams([[n, v]]).toString();
    return `${encodeURIComponent(n)}=${encodeURIComponent(v)}`;
  });
}

const query = fc.constantFrom(...TYPES, 'AuditEvent', 'Observation', 'patient').chain((type) =>
  fc.record({ type: fc.constant(type), pairs: fc.array(pair(type), { maxLength: 6 }), post: fc.boolean() })
);
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

describe('FHIR search over HTTP under fuzz', () => {
  fuzz('fhir-search', 'any query string gets an answer below 500, errors as OperationOutcome', query, async (q) => {
    const text = q.pairs.join('&');
    const a = q.post
      ? await fz.send('POST', `/fhir/${q.type}/_search`, text, FORM)
      : await fz.send('GET', `/fhir/${q.type}?${text}`);
    assertAnswer(a, `${q.post ? 'POST _search' : 'GET'} ${q.type}?${text.slice(0, 200)}`);
  }, { numRuns: 250, timeoutMs: 120_000 });
});
