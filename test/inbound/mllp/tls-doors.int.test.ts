/**
 * The MLLP door under TLS with client certificates (issue #16, point 3), where tls.int.test.ts leaves gaps. That file
 * already refuses no certificate, a trusted certificate of no partner and another CA's certificate for a partner
 * known by fingerprint — but that last one would be refused by the fingerprint alone, even with chain checks off.
 * Here a partner known by subject CN, where the chain check is the only guard: its own certificate gets in (the
 * control), a certificate of a CA the gateway does not trust naming the same kind of subject does not.
 *
 * Certificates come from test/helpers/payer.ts (throwaway openssl ones); the client is the gateway's own outbound
 * MllpClient on a real socket, which reports a connection closed without an ACK as such.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MllpClient } from '../../../src/outbound/mllp-client.ts';
import { testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';
import { makeCertificates, type Certificates } from '../../helpers/payer.ts';

const dir = mkdtempSync(join(tmpdir(), 'frontdesk-tls-doors-'));
const f = (name: string) => join(dir, name);
let certs: Certificates;
let g: TestGateway;

/** Each partner is known by its certificate's subject CN only (makeCertificates: `<name>.example.org`). */
const partner = (id: string, cn: string, facility: string) => ({
  id,
  organization: { name: id, identifier: { system: 'urn:test:tls-doors', value: unique(id) } },
  hl7v2: { senders: [{ facility }] },
  tls: { subject: `CN=${cn}` },
});

beforeAll(async () => {
  certs = makeCertificates();
  writeFileSync(f('ca.crt'), certs.ca);
  writeFileSync(f('server.crt'), certs.server.cert);
  writeFileSync(f('server.key'), certs.server.key);
  const partners = [
    partner('subject-office', 'client.example.org', 'SUBJECT'),
    // The stranger's CN names this partner, but its certificate comes from a CA the gateway does not trust.
    partner('named-office', 'stranger.example.org', 'NAMED'),
  ];
  writeFileSync(f('partners.json'), JSON.stringify({ partners }));
  g = await testGateway({
    FRONTDESK_MLLP_TLS_CERT: f('server.crt'),
    FRONTDESK_MLLP_TLS_KEY: f('server.key'),
    FRONTDESK_MLLP_TLS_CA: f('ca.crt'),
    FRONTDESK_PARTNERS: f('partners.json'),
  });
});
afterAll(async () => {
  await g?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const control = () => unique('c').replace(/[^A-Za-z0-9]/g, '').slice(-20);
const adt = (id: string, facility: string) =>
  `MSH|^~\\&|APP|${facility}|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${id}|P|2.5.1\r` +
  `PID|1||${id}^^^${facility}^MR||Door^Dora||19800101|F\r`;

/** One message over a fresh TLS connection presenting `identity`; the client's own reading of what came back. */
async function sendAs(identity: { cert: string; key: string }, message: string, id: string) {
  const client = new MllpClient(
    { host: '127.0.0.1', port: g.mllp.port, tls: { ca: certs.ca, ...identity } },
    { connectTimeoutMs: 5000, ackTimeoutMs: 5000 }
  );
  try {
    return await client.send(Buffer.from(message, 'latin1'), id);
  } finally {
    await client.close();
  }
}

describe('MLLP over TLS: a partner known by its certificate subject', () => {
  it('accepts the certificate its CA signed for that subject (control): AA, stored as the partner’s', async () => {
    const id = control();
    const result = await sendAs(certs.client, adt(id, 'SUBJECT'), id);
    expect(result).toMatchObject({ ok: true, code: 'AA' });
    const rows = await g.db.sql`SELECT partner, partner_authenticated, status FROM message WHERE control_id = ${id}`;
    expect(rows.map((r) => ({ ...r }))).toEqual([
      { partner: 'subject-office', partner_authenticated: true, status: 'processed' },
    ]);
  });

  it('refuses an untrusted CA’s certificate naming a partner’s subject: closed, no ACK, nothing stored', async () => {
    const id = control();
    const result = await sendAs(certs.stranger, adt(id, 'NAMED'), id);
    // The gateway ends the connection itself (no ACK, not a wait for one that never comes).
    expect(result.ok).toBe(false);
    expect(result).not.toHaveProperty('ack');
    expect(['closed', 'unreachable']).toContain((result as { kind: string }).kind);
    expect(await g.db.sql`SELECT 1 FROM message WHERE control_id = ${id}`).toHaveLength(0);
  });
});
