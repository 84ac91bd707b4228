/** PATCH with a FHIRPath Patch Parameters resource (R4 fhirpatch.html), top-level elements, over HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { client, testGateway, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
let fhir: ReturnType<typeof client>;
beforeAll(async () => {
  g = await testGateway();
  fhir = client(g);
});
afterAll(async () => g?.stop());

const op = (type: string, path: string, extra: object[] = []) => ({ name: 'operation', part: [{ name: 'type', valueCode: type }, { name: 'path', valueString: path }, ...extra] });

describe('FHIRPath Patch', () => {
  it('adds to a list, sets, replaces and deletes top-level elements', async () => {
    const created = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Patchley' }], gender: 'male', birthDate: '1990-01-01' });
    const patch = {
      resourceType: 'Parameters',
      parameter: [
        op('add', 'Patient', [{ name: 'name', valueString: 'name' }, { name: 'value', valueHumanName: { family: 'Patchley-Smith' } }]),
        op('replace', 'Patient.gender', [{ name: 'value', valueCode: 'female' }]),
        op('delete', 'Patient.birthDate'),
        op('add', 'Patient', [{ name: 'name', valueString: 'link' }, { name: 'value', part: [{ name: 'other', valueReference: { reference: `Patient/${created.body.id}` } }, { name: 'type', valueCode: 'seealso' }] }]),
        op('add', 'Patient', [{ name: 'name', valueString: 'active' }, { name: 'value', valueBoolean: true }]),
      ],
    };
    const res = await fhir('PATCH', `Patient/${created.body.id}`, patch);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ name: [{ family: 'Patchley' }, { family: 'Patchley-Smith' }], gender: 'female', active: true, link: [{ type: 'seealso' }] });
    expect(res.body.birthDate).toBeUndefined();
    expect(res.body.meta.versionId).toBe('2');
  });

  it('refuses paths deeper than one element, with the parameter named', async () => {
    const created = await fhir('POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Deep' }] });
    const res = await fhir('PATCH', `Patient/${created.body.id}`, { resourceType: 'Parameters', parameter: [op('delete', 'Patient.name[0].family')] });
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(/only "Patient" and "Patient.element" paths/);
    expect(res.body.issue[0].expression).toEqual(['Parameters.parameter[0]']);
  });
});
