/**
 * A partner office's destination declared in the partners file: the gateway makes the Endpoint (`hl7v2-mllp`,
 * `mllps://`, MSH-5/MSH-6 headers) managed by the partner's Organization, keeps one across restarts, and delivers
 * to it over TLS with the partner's CA and the gateway's client certificate from the file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueue } from '../../src/store/outbox.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { client, testGateway, type TestGateway } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { makeCertificates } from '../helpers/payer.ts';

const dir = mkdtempSync(join(tmpdir(), 'frontdesk-destination-'));
let partner: MllpPartner;
let g: TestGateway;
let url: string;
let partnersFile: string;

beforeAll(async () => {
  const certs = makeCertificates();
  partner = await startMllpPartner(() => 'AA', 0, { ...certs.server, ca: certs.ca });
  for (const [name, text] of [['ca.crt', certs.ca], ['client.crt', certs.client.cert], ['client.key', certs.client.key]]) {
    writeFileSync(join(dir, name as string), text as string);
  }
  partnersFile = join(dir, 'partners.json');
  writeFileSync(partnersFile, JSON.stringify({
    partners: [{
      id: 'ortho',
      organization: { name: 'Northside Orthopedics', identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' } },
      hl7v2: {
        destination: {
          host: '127.0.0.1', port: partner.port, application: 'ORTHO_EHR', facility: 'NORTHSIDE',
          tls: { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'client.crt'), keyFile: join(dir, 'client.key') },
        },
      },
    }],
  }));
  url = await freshDatabase();
  g = await testGateway({ DATABASE_URL: url, FRONTDESK_PARTNERS: partnersFile, FRONTDESK_OUTBOX_RETRY_MS: '50' });
});
afterAll(async () => {
  await g?.stop();
  await partner?.down();
  await dropAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('a destination in the partners file', () => {
  it('becomes an hl7v2-mllp Endpoint of the partner Organization, one across restarts', async () => {
    const fhir = client(g);
    const found = await fhir('GET', 'Endpoint?identifier=urn:frontdesk:partner-endpoint|ortho');
    expect(found.body.entry).toHaveLength(1);
    const endpoint = found.body.entry[0].resource;
    const org = g.partners.partners[0]!.reference!;
    expect(endpoint).toMatchObject({
      status: 'active',
      connectionType: { code: 'hl7v2-mllp' },
      address: `mllps://127.0.0.1:${partner.port}`,
      header: ['MSH-5=ORTHO_EHR', 'MSH-6=NORTHSIDE'],
      managingOrganization: { reference: org },
    });
    expect((await fhir('GET', org)).body.endpoint).toEqual([{ reference: `Endpoint/${endpoint.id}` }]);
    const again = await testGateway({ DATABASE_URL: url, FRONTDESK_PARTNERS: partnersFile });
    await again.stop();
    expect((await fhir('GET', 'Endpoint?identifier=urn:frontdesk:partner-endpoint|ortho')).body.entry).toHaveLength(1);
    expect((await fhir('GET', org)).body.endpoint).toHaveLength(1);
  });

  it('is delivered to over TLS with the partner CA and the client certificate of the file', async () => {
    const endpoint = g.partners.partners[0]!.endpoint!;
    const raw = Buffer.from('MSH|^~\\&|FRONTDESK|CLINIC|ORTHO_EHR|NORTHSIDE|20261204120000||REF^I12^REF_I12|TLS1|P|2.5.1\rRF1|A\r');
    const id = await g.repo.transaction((tx) =>
      enqueue(tx.sql, { destination: endpoint, sender: 'FRONTDESK^CLINIC', receiver: 'ORTHO_EHR^NORTHSIDE', controlId: 'TLS1', messageType: 'REF^I12', raw })
    );
    g.outbox.kick();
    const end = Date.now() + 8000;
    let status = '';
    while (status !== 'processed' && Date.now() < end) {
      [{ status = '' } = {}] = await g.db.sql<{ status: string }[]>`SELECT status FROM message WHERE id = ${id}`;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('processed');
    expect(partner.received).toEqual(['TLS1']);
  });
});
