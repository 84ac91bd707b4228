/**
 * @module test/docs/commands.int.test — every command the docs give is exercised somewhere (issue #16 point 6: a
 * doc that rots is worse than none). The commands are read out of the docs (./doc-commands.ts) and held to the
 * table of ./coverage.ts; the examples are run here, as their own text, against real gateways: the README's
 * partners file, `FRONTDESK_PARTNERS=… npm start` and referral walk-through with a bare MLLP office answering AA,
 * docs/access.md's token, docs/referrals.md's office, docs/eligibility.md's `$submit` with docs/partners.md's payer
 * (simulated with msw at the URL the doc gives), openssl's fingerprint, and the CLI. Only the origin, the token and
 * the office's address are put in; whatever else a doc says must work as written.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_SCOPES } from '../../src/access/setup.ts';
import { loadPartners } from '../../src/partners.ts';
import { dropAll, freshDatabase } from '../helpers/database.ts';
import { freePort } from '../helpers/gateway.ts';
import { startMllpPartner, type MllpPartner } from '../helpers/mllp-partner.ts';
import { makeCertificates } from '../helpers/payer.ts';
import { checkCli } from './cli.ts';
import { COVERAGE, entriesFor, HERE, wheres } from './coverage.ts';
import { allDocs, isPartnersFile, ROOT, shellCommands, where, type DocCommand, type DocJson } from './doc-commands.ts';
import { checkEligibility } from './eligibility.ts';
import { bash, requireTools, startGateway, until, type Started } from './run.ts';

const { commands, json } = allDocs();
/** The texts of the doc commands this file ran; the last test holds them to the table's `here` entries. */
const ran = new Set<string>();
const TMP = mkdtempSync(join(tmpdir(), 'frontdesk-docs-'));
const DOC_ORIGIN = 'http://127.0.0.1:8080';

const record = (list: DocCommand[]) => list.forEach((c) => ran.add(c.text));
const one = (pattern: RegExp): DocCommand => {
  const found = commands.find((c) => pattern.test(c.text));
  if (!found) throw new Error(`no doc command matches ${pattern}`);
  return found;
};
/** The commands of the shell block under `heading` in `doc`, and its text. */
function shBlock(doc: string, heading: string): { text: string; commands: DocCommand[] } {
  const list = commands.filter((c) => c.kind === 'sh' && c.doc === doc && c.heading === heading);
  if (!list.length) throw new Error(`${doc} has no shell block under "${heading}" any more`);
  return { text: list[0]!.block!.text, commands: list };
}
/** The doc's text talking to the gateway at `origin` instead of the default address. */
const at = (origin: string, text: string): string => {
  expect(text, 'an example that talks to the gateway names its default address').toContain(DOC_ORIGIN);
  return text.replaceAll(DOC_ORIGIN, origin);
};
const partnersIn = (doc: string): DocJson[] => json.filter((j) => j.doc === doc && isPartnersFile(j));

afterAll(async () => {
  await dropAll();
  rmSync(TMP, { recursive: true, force: true });
});

describe('the coverage table', () => {
  it('accounts for every command in the docs, each with exactly one entry', () => {
    const problems = commands.flatMap((c) => {
      const n = entriesFor(c).length;
      return n === 1 ? [] : [`${where(c)} \`${c.text}\`: ${n ? `${n} entries match` : 'no entry says where it runs'}`];
    });
    expect(problems).toEqual([]);
  });

  it('has no entry left that matches no command of the docs', () => {
    const stale = COVERAGE.filter((e) => !commands.some((c) => entriesFor(c).includes(e)));
    expect(stale.map((e) => String(e.match ?? `${e.block?.doc} ${e.block?.heading}`))).toEqual([]);
  });

  it('names files that exist and still hold what it relies on', () => {
    const self = readFileSync(join(ROOT, HERE), 'utf8');
    const problems = COVERAGE.flatMap(wheres).flatMap((w) => {
      if ('here' in w) return self.includes(`'${w.here}'`) ? [] : [`${HERE} has no test '${w.here}'`];
      if (!existsSync(join(ROOT, w.file))) return [`${w.file} does not exist`];
      const text = readFileSync(join(ROOT, w.file), 'utf8');
      return w.contains
        .filter((s) => !text.includes(s))
        .map((s) => `${w.file} no longer contains ${JSON.stringify(s)}`);
    });
    expect(problems).toEqual([]);
  });

  it('reads shell commands across quotes, $( ) and trailing backslashes, without their comments', () => {
    const lines = [
      'npm start   # the gateway',
      'X=$(curl -s \\',
      '  -d \'{"a": 1,',
      '  "b": 2}\' | jq .a)',
      '# a note',
    ];
    expect(shellCommands(lines, 1).map((c) => [c.line, c.text])).toEqual([
      [1, 'npm start'],
      [2, 'X=$(curl -s -d \'{"a": 1, "b": 2}\' | jq .a)'],
    ]);
    expect(commands.map((c) => c.kind)).toEqual(expect.arrayContaining(['sh', 'inline', 'cli-table']));
    expect(json.filter(isPartnersFile).length).toBeGreaterThanOrEqual(3);
  });
});

describe('partners files in the docs', () => {
  /** Every `…Env` a file names, set (the doc says the variable must exist at start). */
  const envFor = (j: DocJson): Record<string, string> =>
    Object.fromEntries([...j.text.matchAll(/"\w+Env"\s*:\s*"(\w+)"/g)].map((m) => [m[1]!, 'from-the-environment']));

  it('are accepted as written by the partners loader', () => {
    for (const j of json.filter(isPartnersFile)) {
      const file = join(TMP, `partners-${j.doc.replace(/\W/g, '-')}-${j.line}.json`);
      writeFileSync(file, j.text);
      const loaded = () => loadPartners(file, envFor(j));
      expect(loaded, where(j)).not.toThrow();
      expect(loaded().partners.map((p) => p.id)).toEqual(
        (j.value as { partners: { id: string }[] }).partners.map((p) => p.id)
      );
    }
  });

  it('docs/partners.md: openssl prints a fingerprint that tls.fingerprint256 takes as it is', async () => {
    requireTools();
    const command = one(/^openssl x509 .*-fingerprint/);
    const cert = makeCertificates().client.cert;
    writeFileSync(join(TMP, 'cert.pem'), cert);
    const out = await bash(command.raw, {}, TMP);
    expect(out.code, out.stderr).toBe(0);
    const fingerprint = /Fingerprint=(\S+)/i.exec(out.stdout)?.[1];
    expect(fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const [example] = partnersIn('docs/partners.md').filter((j) => j.text.includes('fingerprint256'));
    const file = join(TMP, 'partners-tls.json');
    writeFileSync(file, example!.text.replace(/("fingerprint256": )"[^"]*"/, `$1"${fingerprint}"`));
    const partner = loadPartners(file).byCertificate({ fingerprint256: new X509Certificate(cert).fingerprint256 });
    expect(partner?.id).toBe((example!.value as { partners: { id: string }[] }).partners[0]!.id);
    record([command]);
  });
});

describe('the README, run against `npm start` as the README starts it', () => {
  const secret = `s-${Math.random().toString(36).slice(2)}`;
  let db: string;
  let office: MllpPartner;
  let gw: Started;
  let token: string;

  beforeAll(async () => {
    requireTools();
    db = await freshDatabase();
    office = await startMllpPartner(() => 'AA');
    // The README's partners file, its office's address made the bare listener's.
    const [file] = partnersIn('README.md');
    const partners = structuredClone(file!.value) as {
      partners: { hl7v2: { destination: { host: string; port: number } } }[];
    };
    Object.assign(partners.partners[0]!.hl7v2.destination, { host: '127.0.0.1', port: office.port });
    writeFileSync(join(TMP, 'partners.json'), JSON.stringify(partners));
    // `FRONTDESK_PARTNERS=partners.json FRONTDESK_HL7_FACILITY=NORTHCLINIC npm start`, the file beside the reader.
    const start = one(/^FRONTDESK_PARTNERS=\S+ .*npm start$/);
    const words = start.text.split(' ');
    const assignments = words.filter((w) => /^[A-Z0-9_]+=/.test(w)).map((w) => w.split('=') as [string, string]);
    const env = Object.fromEntries(assignments.map(([k, v]) => [k, k === 'FRONTDESK_PARTNERS' ? join(TMP, v) : v]));
    const argv = words.slice(assignments.length);
    expect(argv).toEqual(['npm', 'start']);
    gw = await startGateway(argv, {
      ...env,
      DATABASE_URL: db,
      PORT: String(await freePort()),
      FRONTDESK_MLLP_PORT: String(await freePort()),
      FRONTDESK_BOOTSTRAP_CLIENT: `admin:${secret}:${ADMIN_SCOPES}`,
      FRONTDESK_LOG_LEVEL: 'warn',
    });
    record([start, ...commands.filter((c) => c.text === 'npm start')]);
  });
  afterAll(async () => {
    if (gw) expect(await gw.stop(), gw.output()).toEqual({ code: 0, signal: null });
    await office?.down();
  });

  it('docs/access.md: a token', async () => {
    const [asked, used] = shBlock('docs/access.md', 'Access control and audit').commands;
    const answer = await bash(at(gw.origin, asked!.raw.replace('<secret>', secret)));
    expect(answer.code, answer.stderr).toBe(0);
    const body = JSON.parse(answer.stdout) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('Bearer');
    token = body.access_token;
    const patients = await bash(at(gw.origin, used!.raw.replace('<access_token>', token)));
    expect(JSON.parse(patients.stdout)).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    record([asked!, used!]);
  });

  it('the README referral walk-through', async () => {
    const block = shBlock('README.md', 'Send a referral to a specialist office');
    const out = await bash(`${at(gw.origin, block.text)}\necho "$OFFICE $PAT $SR" >&2`, { TOKEN: token });
    expect(out.code, out.stderr).toBe(0);
    const [officeId, patient, referral] = out.stderr.trim().split('\n').at(-1)!.split(' ');
    for (const id of [officeId, patient, referral]) expect(id).toMatch(/^[A-Za-z0-9-]+$/);
    expect(officeId).not.toBe('null');
    // "requested", then "received": the Task line of the doc again until the office's AA has come back.
    const [status, ...rest] = out.stdout.split('\n');
    expect(['"requested"', '"received"']).toContain(status);
    const taskLine = block.commands.find((c) => c.text.includes('Task?focus='))!;
    const again = () =>
      bash(at(gw.origin, `${block.commands[0]!.raw}\n${taskLine.raw}`), { TOKEN: token, SR: referral! });
    expect((await until(again, (r) => r.stdout.trim() === '"received"')).stdout.trim()).toBe('"received"');
    const listed = JSON.parse(rest.join('\n')) as { direction: string; messageType: string; controlId: string };
    expect(listed).toMatchObject({ direction: 'outbound', messageType: expect.stringMatching(/^REF\^I12/) });
    const sent = office.messages.find((m) => m.includes(listed.controlId))!;
    const msh = sent.split('\r')[0]!.split('|');
    expect(msh.slice(3, 6)).toEqual(['NORTHCLINIC', 'CARDIOAPP', 'CARDIO']);
    expect(msh[8]).toMatch(/^REF\^I12/);
    expect(sent).toContain('MRN-1001');
    record(block.commands);
  });

  it('docs/referrals.md: an office made over the FHIR API', async () => {
    const block = shBlock('docs/referrals.md', 'Destinations');
    const out = await bash(at(gw.origin, block.text), { TOKEN: token });
    expect(out.code, out.stderr).toBe(0);
    const org = JSON.parse(out.stdout) as { resourceType: string; id: string; endpoint: { reference: string }[] };
    expect(org).toMatchObject({ resourceType: 'Organization', name: 'Cardio Partners', meta: { versionId: '1' } });
    const endpoint = await fetch(`${gw.fhir}/${org.endpoint[0]!.reference}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(await endpoint.json()).toMatchObject({
      status: 'active',
      address: 'mllp://10.0.0.7:2575',
      header: ['MSH-5=CARDIOAPP', 'MSH-6=CARDIO'],
      connectionType: { code: 'hl7v2-mllp' },
    });
    record(block.commands);
  });

  it('the CLI on the database', async () => {
    await checkCli({ db, gw, token, dir: TMP });
    const cli = commands.filter((c) => /^frontdesk (migrate|clients|keys)/.test(c.text));
    record([one(/^npx frontdesk <command>$/), ...cli]);
  });

  it('frontdesk start', async () => {
    const started = await startGateway(['npx', 'frontdesk', 'start'], {
      DATABASE_URL: db,
      PORT: String(await freePort()),
      FRONTDESK_MLLP_PORT: String(await freePort()),
      FRONTDESK_LOG_LEVEL: 'warn',
    });
    const ready = await fetch(`${started.origin}/readyz`);
    const exit = await started.stop();
    expect(ready.status).toBe(200);
    expect(exit, started.output()).toEqual({ code: 0, signal: null });
    record(commands.filter((c) => c.text === 'frontdesk start'));
  });
});

describe('docs/eligibility.md, run against a gateway with docs/partners.md’s payer', () => {
  it('docs/eligibility.md: $submit from an empty gateway', async () => {
    requireTools();
    const [payerFile] = partnersIn('docs/partners.md').filter((j) => j.text.includes('"x12"'));
    const block = shBlock('docs/eligibility.md', 'Eligibility (X12 270/271)');
    await checkEligibility({ partners: payerFile!, block: block.text, dir: TMP, at, bash });
    record(block.commands);
  });
});

describe('what the table says runs here', () => {
  it('ran in this file', () => {
    const here = commands.filter((c) => entriesFor(c).some((e) => wheres(e).some((w) => 'here' in w)));
    expect(here.filter((c) => !ran.has(c.text)).map((c) => `${where(c)} ${c.text}`)).toEqual([]);
  });
});
