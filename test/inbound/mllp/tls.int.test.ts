/**
 * MLLP over TLS with client certificates mapped to partners, and the partner settings (time zone, character set),
 * over real sockets. Certificates are made at test time with the machine's openssl in a temporary directory
 * (a CA, the server, a partner, a stranger signed by the same CA, and one signed by another CA): nothing to expire
 * in the repository, nothing secret committed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config.ts';
import { addClient } from '../../../src/access/clients.ts';
import { fingerprintOf, loadPartners } from '../../../src/partners.ts';
import { client, getToken, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';
import { connectMllp } from '../../helpers/hl7.ts';

const dir = mkdtempSync(join(tmpdir(), 'frontdesk-tls-'));
const f = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function makeCa(name: string): void {
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.crt`), '-days', '3650', '-subj', `/CN=${name}`);
}
function makeCert(name: string, ca: string, cn: string, server = false): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
  const ext = f(`${name}.ext`);
  writeFileSync(ext, server ? 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' : 'extendedKeyUsage=clientAuth\n');
  openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${ca}.crt`), '-CAkey', f(`${ca}.key`), '-CAcreateserial', '-out', f(`${name}.crt`), '-days', '3650', '-extfile', ext);
}

let g: TestGateway;
let serverOnly: TestGateway;
let partnerFingerprint: string;
/** An OAuth client the lakeside-lab partner lists: over HTTP it speaks for that partner only. */
const httpClient = unique('lakeside-http');
const HTTP_SECRET = 'lakeside-secret-for-tests';

beforeAll(async () => {
  makeCa('ca');
  makeCa('otherca');
  makeCert('server', 'ca', 'localhost', true);
  makeCert('ortho', 'ca', 'ortho-pm.example.org');
  makeCert('stranger', 'ca', 'stranger.example.org');
  makeCert('forged', 'otherca', 'ortho-pm.example.org');
  partnerFingerprint = fingerprintOf(readFileSync(f('ortho.crt')));
  writeFileSync(
    f('partners.json'),
    JSON.stringify({
      partners: [
        {
          id: 'northside-ortho',
          organization: { name: 'Northside Orthopedics', identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' } },
          hl7v2: { senders: [{ application: 'ORTHO_PM', facility: 'NORTHSIDE' }], timeZone: 'America/New_York', charset: '8859/1' },
          tls: { fingerprint256: partnerFingerprint },
        },
        {
          id: 'lakeside-lab',
          organization: { name: 'Lakeside Lab', identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1098765432' } },
          hl7v2: { senders: [{ facility: 'LAKESIDE' }] },
          tls: { subject: 'CN=lakeside.example.org' },
          clients: [httpClient],
        },
      ],
    })
  );
  const tls = { FRONTDESK_MLLP_TLS_CERT: f('server.crt'), FRONTDESK_MLLP_TLS_KEY: f('server.key') };
  g = await testGateway({ ...tls, FRONTDESK_MLLP_TLS_CA: f('ca.crt'), FRONTDESK_PARTNERS: f('partners.json'), FRONTDESK_TIME_ZONE: 'UTC' });
  await addClient(g.db.sql, { id: httpClient, secret: HTTP_SECRET, scopes: 'system/hl7v2.c system/Message.rus' });
  serverOnly = await testGateway(tls);
});
afterAll(async () => {
  await g?.stop();
  await serverOnly?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** MLLP over TLS to `port`, trusting the test CA, presenting the client certificate `cert` when given. */
const open = (port: number, cert?: string) =>
  connectMllp(port, {
    encoding: 'latin1',
    tls: {
      ca: readFileSync(f('ca.crt')),
      servername: 'localhost',
      ...(cert ? { cert: readFileSync(f(`${cert}.crt`)), key: readFileSync(f(`${cert}.key`)) } : {}),
    },
  });

const adt = (control: string, sender = 'ORTHO_PM|NORTHSIDE', pid = `PID|1||${control}^^^NORTHSIDE^MR||Ortho^Ola||19800101|F`) =>
  `MSH|^~\\&|${sender}|FRONTDESK|FD|20260105120000||ADT^A04^ADT_A01|${control}|P|2.5.1\r${pid}\r`;
const id = () => unique('t').replace(/[^A-Za-z0-9]/g, '').slice(-20);

describe('MLLP over TLS with client certificates', () => {
  it('accepts a partner’s certificate: AA, the message belongs to the partner, the audit names its Organization', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const control = id();
    const ack = await c.send(adt(control));
    c.close();
    expect(ack.split('\r')[1]).toBe(`MSA|AA|${control}`);
    const [row] = await g.db.sql`SELECT partner, id::text FROM message WHERE control_id = ${control}`;
    expect(row!.partner).toBe('northside-ortho');
    const org = g.partners.partners.find((p) => p.id === 'northside-ortho')!.reference!;
    expect(org).toMatch(/^Organization\//);
    const fhir = client(g);
    expect((await fhir('GET', org)).body.name).toBe('Northside Orthopedics');
    const events = await fhir('GET', `AuditEvent?entity-name=${control}`);
    expect(events.body.entry[0].resource.agent[0].who.reference).toBe(org);
  });

  it('answers pipelined frames over TLS each with its ACK, in order', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const controls = [id(), id(), id()];
    c.write(...controls.map((x) => adt(x)));
    const acks = await c.next(3);
    c.close();
    expect(acks.map((a) => a.split('\r')[1])).toEqual(controls.map((x) => `MSA|AA|${x}`));
  });

  it('keeps a message refused for its certificate refused when it is reprocessed', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const control = id();
    await c.send(adt(control, 'LAB|LAKESIDE'));
    c.close();
    const [row] = await g.db.sql`SELECT id::text, status, partner_authenticated FROM message WHERE control_id = ${control}`;
    expect(row).toMatchObject({ status: 'rejected', partner_authenticated: true });
    const token = await getToken(g);
    const res = await fetch(`${new URL(g.fhirUrl).origin}/messages/${row!.id}/$reprocess`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { status: string; acknowledgment: string };
    expect(body.status).toBe('rejected');
    expect(body.acknowledgment).toContain('is not a sender of partner "northside-ortho"');
    const [after] = await g.db.sql`SELECT status FROM message WHERE id = ${row!.id}`;
    expect(after!.status).toBe('rejected');
    expect((await client(g)('GET', `Patient?identifier=${control}`)).body.entry ?? []).toHaveLength(0);
  });

  it('holds an OAuth client a partner lists to that partner’s senders over POST /hl7v2', async () => {
    const token = await getToken(g, undefined, { id: httpClient, secret: HTTP_SECRET });
    const post = async (body: string) =>
      (await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'x-application/hl7-v2+er7' }, body })).text();
    const theirs = id();
    expect((await post(adt(theirs, 'LABAPP|LAKESIDE'))).split('\r')[1]).toBe(`MSA|AA|${theirs}`);
    const other = id();
    const refused = (await post(adt(other, 'ORTHO_PM|NORTHSIDE'))).split('\r');
    expect(refused[1]).toMatch(new RegExp(`^MSA\\|AR\\|${other}`));
    expect(refused[2]).toContain('is not a sender of partner "lakeside-lab"');
    const rows = await g.db.sql`SELECT control_id, status, partner, partner_authenticated FROM message WHERE control_id IN (${theirs}, ${other}) ORDER BY id`;
    expect(rows.map((r) => [r.status, r.partner, r.partner_authenticated])).toEqual([
      ['processed', 'lakeside-lab', true],
      ['rejected', 'lakeside-lab', true],
    ]);
    // The message log filters by partner.
    const log = (await (await fetch(`${new URL(g.fhirUrl).origin}/messages?partner=lakeside-lab&_count=500`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
      messages: { controlId: string; partner: string }[];
    };
    expect(log.messages.filter((m) => m.controlId === theirs || m.controlId === other)).toHaveLength(2);
    expect(log.messages.every((m) => m.partner === 'lakeside-lab')).toBe(true);
  });

  it('does not let a certificate sending as another partner claim that partner’s control id', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const control = id();
    const ack = await c.send(adt(control, 'LABAPP|LAKESIDE'));
    c.close();
    expect(ack.split('\r')[1]).toMatch(new RegExp(`^MSA\\|AR\\|${control}`));
    // Lakeside's own message with that control id, through its own client, is processed, not taken for a resend.
    const token = await getToken(g, undefined, { id: httpClient, secret: HTTP_SECRET });
    const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: adt(control, 'LABAPP|LAKESIDE') });
    expect((await res.text()).split('\r')[1]).toBe(`MSA|AA|${control}`);
    const rows = await g.db.sql`SELECT status, dedupe FROM message WHERE control_id = ${control} ORDER BY id`;
    expect(rows.map((r) => [r.status, r.dedupe])).toEqual([
      ['rejected', false],
      ['processed', true],
    ]);
  });

  it('refuses a partner certificate sending under another MSH-3/MSH-4 (AR), stored as rejected', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const control = id();
    const ack = await c.send(adt(control, 'LAB|LAKESIDE'));
    c.close();
    const lines = ack.split('\r');
    expect(lines[1]).toMatch(new RegExp(`^MSA\\|AR\\|${control}`));
    expect(lines[2]).toContain('is not a sender of partner');
    const [row] = await g.db.sql`SELECT status FROM message WHERE control_id = ${control}`;
    expect(row!.status).toBe('rejected');
  });

  it.each([
    ['a valid certificate of no known partner', 'stranger'],
    ['a certificate from another CA', 'forged'],
    ['no client certificate', undefined],
  ])('refuses %s: the connection closes and nothing is processed', async (_name, cert) => {
    const c = await open(g.mllp.port, cert);
    const control = id();
    if (!c.socket.destroyed) c.write(adt(control));
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, 3000))]);
    expect(c.socket.destroyed).toBe(true);
    expect(c.frames).toEqual([]);
    expect(await g.db.sql`SELECT 1 FROM message WHERE control_id = ${control}`).toHaveLength(0);
  });

  it('serves TLS without client certificates when no CA is configured', async () => {
    const c = await open(serverOnly.mllp.port);
    const control = id();
    const ack = await c.send(adt(control, 'ANY|WHERE'));
    c.close();
    expect(ack.split('\r')[1]).toBe(`MSA|AA|${control}`);
  });
});

describe('partner settings', () => {
  it('reads the partner’s offset-less times in its zone and its bytes in its character set', async () => {
    const c = await open(g.mllp.port, 'ortho');
    const [control, filler] = [id(), id()];
    // Latin-1 bytes, while MSH-18 wrongly says UTF-8: the partner's configured 8859/1 wins.
    const siu = [
      `MSH|^~\\&|ORTHO_PM|NORTHSIDE|FRONTDESK|FD|20260105120000||SIU^S12^SIU_S12|${control}|P|2.5.1||||||UNICODE UTF-8`,
      `SCH||${filler}^NORTHSIDE|||||||20|min|^^^202607011000^202607011020|||||||||||||Booked`,
      `PID|1||M${control}^^^NORTHSIDE^MR||Muñoz^José||19800101|M`,
      `AIP|1||D${control}^Peña^Ana`,
    ].join('\r');
    const ack = await c.send(Buffer.from(siu + '\r', 'latin1'));
    c.close();
    expect(ack.split('\r')[1]).toBe(`MSA|AA|${control}`);
    const fhir = client(g);
    const appt = (await fhir('GET', `Appointment?identifier=urn:frontdesk:id:NORTHSIDE|${filler}`)).body.entry[0].resource;
    expect(appt.start).toBe('2026-07-01T10:00:00-04:00'); // New York in summer, not the gateway's UTC
    const patient = (await fhir('GET', `Patient?identifier=urn:frontdesk:id:NORTHSIDE|M${control}`)).body.entry[0].resource;
    expect(patient.name[0]).toMatchObject({ family: 'Muñoz', given: ['José'] });
  });
});

describe('configuration checks', () => {
  const base = { DATABASE_URL: 'postgres://x/y' };
  it('needs the TLS certificate and key together, and a CA only with them', () => {
    expect(() => loadConfig({ ...base, FRONTDESK_MLLP_TLS_CERT: 'a.crt' })).toThrow(/go together/);
    expect(() => loadConfig({ ...base, FRONTDESK_MLLP_TLS_CA: 'ca.crt' })).toThrow(/CA needs/);
    expect(() => loadConfig({ ...base, FRONTDESK_TIME_ZONE: 'Mars/Olympus' })).toThrow(/IANA time zone/);
  });

  it('names every problem of a partners file at once', () => {
    const bad = f('bad-partners.json');
    writeFileSync(
      bad,
      JSON.stringify({
        partners: [
          { id: 'a', organization: { name: 'A', identifier: { system: 's', value: '1' } }, hl7v2: { timeZone: 'Nowhere/Here', charset: 'EBCDIC' }, colour: 'red' },
          { id: 'a', organization: { name: 'B' }, tls: { fingerprint256: 'zz' } },
        ],
      })
    );
    let message = '';
    try {
      loadPartners(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/unknown key "colour"/);
    expect(message).toMatch(/"Nowhere\/Here" is not an IANA time zone/);
    expect(message).toMatch(/"EBCDIC" is not an HL7 character set/);
    expect(message).toMatch(/id is used twice/);
    expect(message).toMatch(/organization needs name and identifier/);
    expect(message).toMatch(/not a SHA-256 fingerprint/);
  });

  it('matches senders on MSH-3 and MSH-4 (first component), one key or both', () => {
    const r = loadPartners(f('partners.json'));
    expect(r.bySender('ORTHO_PM', 'NORTHSIDE^1.2.3^ISO')?.id).toBe('northside-ortho');
    expect(r.bySender('ORTHO_PM', 'ELSEWHERE')).toBeUndefined();
    expect(r.bySender('ANY_APP', 'LAKESIDE')?.id).toBe('lakeside-lab');
    expect(r.byCertificate({ fingerprint256: partnerFingerprint.match(/../g)!.join(':').toLowerCase() })?.id).toBe('northside-ortho');
    expect(r.byCertificate({ fingerprint256: 'AB', subject: { CN: 'lakeside.example.org' } })?.id).toBe('lakeside-lab');
    expect(r.byCertificate({ fingerprint256: 'AB', subject: { CN: 'someone.else' } })).toBeUndefined();
  });
});
