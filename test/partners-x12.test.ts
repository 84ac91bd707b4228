/**
 * A payer in the partners file (docs/partners.md "Payers (X12 eligibility)"): the `x12` section an operator writes, what the
 * gateway takes from it (defaults, secrets read from the environment or from files), what it refuses — every
 * problem of the file named in one error, so it is fixed in one go — and how the payer is found again, by the
 * payer id of a 270 or by the Organization a Coverage names.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadPartners } from '../src/partners.ts';

const dir = mkdtempSync(join(tmpdir(), 'frontdesk-partners-x12-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const URL_CORE = 'https://eligibility.example-payer.com/core/realtime';
const PAYER_ID_SYSTEM = 'urn:frontdesk:x12:payer-id';
let files = 0;

/** Writes `{"partners": [...]}` to a file of its own; returns the path. */
function partnersFile(...partners: object[]): string {
  const file = join(dir, `partners-${++files}.json`);
  writeFileSync(file, JSON.stringify({ partners }));
  return file;
}

/** Writes a text file (a secret, a PEM) into the temp dir; returns the path. */
function textFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

/** A payer partner as docs/partners.md shows it; `x12` and `endpoint` replace keys of the minimal section. */
function payer(id: string, payerId: string, x12: Record<string, unknown> = {}, endpoint: Record<string, unknown> = {}) {
  return {
    id,
    organization: { name: `${id} Health Plan`, identifier: { system: PAYER_ID_SYSTEM, value: payerId } },
    x12: { payerId, endpoint: { url: URL_CORE, ...endpoint }, ...x12 },
  };
}

/** The message of the error a partners file is refused with; fails the test when the file is accepted. */
function refusal(file: string, env: Record<string, string> = {}): string {
  try {
    loadPartners(file, env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${file} was accepted`);
}

describe('A payer in the partners file', () => {
  it('fills what the operator leaves out with the documented defaults', () => {
    const registry = loadPartners(partnersFile(payer('bcbsil', 'BCBSIL')), {});
    expect(registry.partners[0]?.x12).toEqual({
      payerId: 'BCBSIL',
      senderQualifier: 'ZZ',
      senderId: 'FRONTDESK',
      receiverQualifier: 'ZZ',
      receiverId: 'BCBSIL',
      usage: 'P',
      traceOriginator: '9FRONTDESK',
      maxConcurrent: 4,
      endpoint: { url: URL_CORE, mode: 'core', timeoutMs: 20000, retries: 2, circuit: { failures: 5, resetMs: 30000 }, auth: { type: 'none' } },
    });
  });

  it('keeps the ids, qualifiers and endpoint the operator writes', () => {
    const file = partnersFile(
      payer('bcbsil', 'BCBSIL', { senderId: 'NSFM0001', senderQualifier: '30', receiverId: 'BCBS CLEARING', receiverQualifier: '01', usage: 'T', traceOriginator: '1123456789', maxConcurrent: 2 }, { mode: 'x12', timeoutMs: 5000 })
    );
    expect(loadPartners(file, {}).partners[0]?.x12).toMatchObject({
      senderId: 'NSFM0001',
      senderQualifier: '30',
      receiverId: 'BCBS CLEARING',
      receiverQualifier: '01',
      usage: 'T',
      traceOriginator: '1123456789',
      maxConcurrent: 2,
      endpoint: { mode: 'x12', timeoutMs: 5000 },
    });
  });
});

describe('Payer secrets', () => {
  it('reads a basic password from the environment variable named by passwordEnv', () => {
    const file = partnersFile(payer('bcbsil', 'BCBSIL', {}, { auth: { type: 'basic', username: 'nsfm0001', passwordEnv: 'BCBSIL_PASSWORD' } }));
    const auth = loadPartners(file, { BCBSIL_PASSWORD: 'c0rrect-h0rse' }).partners[0]?.x12?.endpoint.auth;
    expect(auth).toEqual({ type: 'basic', username: 'nsfm0001', password: 'c0rrect-h0rse' });
  });

  it('reads a basic password from passwordFile, without the newline that ends the file', () => {
    const secret = textFile('bcbsil-password', 'battery staple\n');
    const file = partnersFile(payer('bcbsil', 'BCBSIL', {}, { auth: { type: 'basic', username: 'nsfm0001', passwordFile: secret } }));
    expect(loadPartners(file, {}).partners[0]?.x12?.endpoint.auth).toEqual({ type: 'basic', username: 'nsfm0001', password: 'battery staple' });
  });

  it('reads an OAuth client secret from the environment variable named by clientSecretEnv', () => {
    const auth = { type: 'bearer', tokenUrl: 'https://auth.example-payer.com/token', clientId: 'frontdesk', clientSecretEnv: 'AETNA_SECRET', scope: 'eligibility' };
    const file = partnersFile(payer('aetna', 'AETNA', {}, { auth }));
    expect(loadPartners(file, { AETNA_SECRET: 'xyzzy' }).partners[0]?.x12?.endpoint.auth).toEqual({
      type: 'bearer', tokenUrl: 'https://auth.example-payer.com/token', clientId: 'frontdesk', clientSecret: 'xyzzy', scope: 'eligibility',
    });
  });

  it('reads the mutual-TLS certificate, key and CA from their files', () => {
    const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
    const auth = {
      type: 'mtls',
      certFile: textFile('client.crt', pem('CERTIFICATE', 'Q0VSVA==')),
      keyFile: textFile('client.key', pem('PRIVATE KEY', 'S0VZ')),
      caFile: textFile('payer-ca.crt', pem('CERTIFICATE', 'Q0E=')),
    };
    const read = loadPartners(partnersFile(payer('uhc', 'UHC', {}, { auth })), {}).partners[0]?.x12?.endpoint.auth;
    expect(read).toEqual({ type: 'mtls', cert: pem('CERTIFICATE', 'Q0VSVA==').trimEnd(), key: pem('PRIVATE KEY', 'S0VZ').trimEnd(), ca: pem('CERTIFICATE', 'Q0E=').trimEnd() });
  });

  it('refuses a password written in the file, says where it belongs, and does not repeat it', () => {
    const file = partnersFile(payer('bcbsil', 'BCBSIL', {}, { auth: { type: 'basic', username: 'nsfm0001', password: 'hunter2' } }));
    const message = refusal(file);
    expect(message).toMatch(/auth\.password: secrets are not written in the partners file; use passwordEnv or passwordFile/);
    expect(message).not.toContain('hunter2');
  });

  it('refuses a client secret written in the file', () => {
    const auth = { type: 'bearer', tokenUrl: 'https://auth.example-payer.com/token', clientId: 'frontdesk', clientSecret: 'xyzzy' };
    const message = refusal(partnersFile(payer('aetna', 'AETNA', {}, { auth })));
    expect(message).toMatch(/use clientSecretEnv or clientSecretFile/);
    expect(message).not.toContain('xyzzy');
  });

  it('names the environment variable that is not set', () => {
    const file = partnersFile(payer('bcbsil', 'BCBSIL', {}, { auth: { type: 'basic', username: 'nsfm0001', passwordEnv: 'BCBSIL_PASSWORD' } }));
    expect(refusal(file, { OTHER_PASSWORD: 'x' })).toMatch(/partners\[0\] \(bcbsil\): x12\.endpoint\.auth\.passwordEnv: environment variable BCBSIL_PASSWORD is not set/);
  });

  it('names the secret file that cannot be read', () => {
    const missing = join(dir, 'no-such-password');
    const file = partnersFile(payer('bcbsil', 'BCBSIL', {}, { auth: { type: 'basic', username: 'nsfm0001', passwordFile: missing } }));
    expect(refusal(file)).toContain(`x12.endpoint.auth.passwordFile: cannot read ${missing}: ENOENT`);
  });
});

describe('A payer section the gateway refuses', () => {
  it.each([
    ['an unknown key in x12', { colour: 'blue' }, {}, /x12: unknown key "colour"/],
    ['an unknown key in the endpoint', {}, { verb: 'PUT' }, /x12\.endpoint: unknown key "verb"/],
    ['a mode other than core, x12 or json', {}, { mode: 'soap' }, /x12\.endpoint\.mode must be "core", "x12" or "json"/],
    ['a url that is not a URL', {}, { url: 'eligibility.example-payer.com' }, /x12\.endpoint\.url "eligibility\.example-payer\.com" is not a URL/],
    ['a url that is not http(s)', {}, { url: 'ftp://eligibility.example-payer.com/270' }, /x12\.endpoint\.url "ftp:.*" must be https/],
    ['plain http to another machine (PHI and passwords in clear)', {}, { url: 'http://eligibility.example-payer.com/270' }, /must be https \(http only to this machine\)/],
    ['a timeoutMs below 100', {}, { timeoutMs: 50 }, /x12\.endpoint\.timeoutMs must be 100–120000/],
    ['a timeoutMs above 120000', {}, { timeoutMs: 300000 }, /x12\.endpoint\.timeoutMs must be 100–120000/],
    ['a traceOriginator shorter than 10 characters', { traceOriginator: '123456789' }, {}, /x12\.traceOriginator must be 10 letters or digits/],
    ['a traceOriginator longer than 10 characters', { traceOriginator: '91234567890' }, {}, /x12\.traceOriginator must be 10 letters or digits/],
  ])('refuses %s, naming the partner', (_what, x12, endpoint, problem) => {
    const message = refusal(partnersFile(payer('bcbsil', 'BCBSIL', x12, endpoint)));
    expect(message).toMatch(problem);
    expect(message).toMatch(/partners\[0\] \(bcbsil\)/);
  });

  it('refuses two partners with one payerId: a 270 for it could not be routed', () => {
    const file = partnersFile(payer('bcbsil', 'BCBSIL'), payer('bcbsil-clearinghouse', 'BCBSIL'));
    expect(refusal(file)).toMatch(/x12\.payerId "BCBSIL" belongs to two partners/);
  });

  it('names every problem of the file in one error', () => {
    const file = partnersFile(
      payer('one', 'ONE', { colour: 'blue', traceOriginator: 'SHORT' }),
      payer('two', 'TWO', {}, { mode: 'soap', timeoutMs: 0 }),
      payer('three', 'THREE', {}, { url: 'not a url' }),
      payer('four', 'FOUR', {}, { auth: { type: 'basic', username: 'u', password: 'p' } }),
      payer('five', 'FIVE', {}, { auth: { type: 'basic', username: 'u', passwordEnv: 'FIVE_PASSWORD' } }),
      payer('six', 'SAME'),
      payer('seven', 'SAME')
    );
    const message = refusal(file);
    const problems = message.split('\n').filter((line) => line.startsWith('  - '));
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}- partners\[0\] \(one\): x12: unknown key "colour"/),
      expect.stringMatching(/^ {2}- partners\[0\] \(one\): x12\.traceOriginator must be 10/),
      expect.stringMatching(/^ {2}- partners\[1\] \(two\): x12\.endpoint\.mode must be/),
      expect.stringMatching(/^ {2}- partners\[1\] \(two\): x12\.endpoint\.timeoutMs must be/),
      expect.stringMatching(/^ {2}- partners\[2\] \(three\): x12\.endpoint\.url "not a url"/),
      expect.stringMatching(/^ {2}- partners\[3\] \(four\): x12\.endpoint\.auth\.password: secrets are not written/),
      expect.stringMatching(/^ {2}- partners\[4\] \(five\): .*FIVE_PASSWORD is not set/),
      expect.stringMatching(/^ {2}- x12\.payerId "SAME" belongs to two partners/),
    ]));
  });

  it('still checks the ISA ids and the payer id of a payer whose endpoint is wrong too', () => {
    // An operator copies a payer, edits its url badly and forgets to change the ids: one start should name all three.
    const file = partnersFile(
      payer('bcbsil', 'BCBSIL'),
      payer('bcbsil-copy', 'BCBSIL', { senderId: 'A SENDER ID OVER 15' }, { url: 'htps//typo' })
    );
    const message = refusal(file);
    expect(message).toMatch(/\(bcbsil-copy\): x12\.endpoint\.url "htps\/\/typo"/);
    expect(message).toMatch(/\(bcbsil-copy\): x12\.senderId must be 1–15/);
    expect(message).toMatch(/x12\.payerId "BCBSIL" belongs to two partners/);
  });
});

describe('Finding a payer', () => {
  const file = () =>
    partnersFile(
      { id: 'northside-ortho', organization: { name: 'Northside Orthopedics', identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1234567893' } }, hl7v2: { senders: [{ application: 'ORTHO_PM' }] } },
      payer('bcbsil', 'BCBSIL'),
      { ...payer('aetna', '60054'), organization: { name: 'Aetna', identifier: { system: 'http://hl7.org/fhir/sid/us-npi', value: '1999999984' } } }
    );

  it('finds the payer a 270 names in 2100A by its payerId, and no one for an unknown id', () => {
    const registry = loadPartners(file(), {});
    expect(registry.byPayerId('BCBSIL')?.id).toBe('bcbsil');
    expect(registry.byPayerId('60054')?.id).toBe('aetna');
    expect(registry.byPayerId('bcbsil')).toBeUndefined();
    expect(registry.byPayerId('1234567893')).toBeUndefined();
  });

  it('finds the payer behind the Organization a Coverage names, by reference', () => {
    const registry = loadPartners(file(), {});
    // What ensureOrganizations records once each partner's Organization exists.
    registry.partners.forEach((p, i) => (p.reference = `Organization/org-${i}`));
    expect(registry.payerFor({ reference: 'Organization/org-1' })?.id).toBe('bcbsil');
    expect(registry.payerFor({ reference: 'Organization/org-2' })?.id).toBe('aetna');
    // A partner that is no payer is never one, even when its Organization is named.
    expect(registry.payerFor({ reference: 'Organization/org-0' })).toBeUndefined();
    expect(registry.payerFor({ reference: 'Organization/elsewhere' })).toBeUndefined();
  });

  it('finds the payer of an Organization that carries its payer id, and only under the payer-id system', () => {
    const registry = loadPartners(file(), {});
    const org = (system: string, value: string) => ({ reference: 'Organization/not-a-partner', identifier: [{ system: 'urn:example:other', value: 'x' }, { system, value }] });
    expect(registry.payerFor(org(PAYER_ID_SYSTEM, '60054'))?.id).toBe('aetna');
    expect(registry.payerFor(org(PAYER_ID_SYSTEM, 'BCBSIL'))?.id).toBe('bcbsil');
    expect(registry.payerFor(org('http://hl7.org/fhir/sid/us-npi', '60054'))).toBeUndefined();
    expect(registry.payerFor(org(PAYER_ID_SYSTEM, 'NOBODY'))).toBeUndefined();
  });
});
