/**
 * @module test/docs/eligibility — docs/eligibility.md's `$submit` example, run as written against a gateway started
 * with docs/partners.md's payer file as written: the payer is simulated with msw at the very URL the file gives
 * (CAQH CORE multipart, basic auth with the password from the variable the file names), answering the 270 the
 * gateway sends with an active plan.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { http, HttpResponse } from 'msw';
import { expect } from 'vitest';
import { freshDatabase } from '../helpers/database.ts';
import { getToken, testGateway } from '../helpers/gateway.ts';
import { coreResponse, encodeForm, mockPayers } from '../helpers/payer.ts';
import { answer271, read270 } from '../helpers/x12-answers.ts';
import type { DocJson } from './doc-commands.ts';
import type { Ran } from './run.ts';

type Payer = { x12: { senderId: string; receiverId: string; endpoint: { url: string; auth: PayerAuth } } };
type PayerAuth = { type: string; username: string; passwordEnv: string };
type Seen = { authorization: string | null; fields: Record<string, string> };

export async function checkEligibility(o: {
  partners: DocJson;
  block: string;
  dir: string;
  at: (origin: string, text: string) => string;
  bash: (script: string, env: Record<string, string>) => Promise<Ran>;
}): Promise<void> {
  const payer = (o.partners.value as { partners: Payer[] }).partners[0]!;
  const { url, auth } = payer.x12.endpoint;
  expect(auth.type).toBe('basic');
  const password = `pw-${Math.random().toString(36).slice(2)}`;
  const seen: Seen[] = [];
  const msw = mockPayers();
  msw.use(
    http.post(url, async ({ request }) => {
      const form = await request.formData();
      const fields = Object.fromEntries([...form].map(([k, v]) => [k, String(v)]));
      seen.push({ authorization: request.headers.get('authorization'), fields });
      // A payer echoes the subscriber's demographics (2100C DMG) when they match its record.
      const dmg = read270(fields.Payload ?? '')
        .segs.find((seg) => seg[0] === 'DMG')!
        .join('*');
      const answer = answer271(fields.Payload ?? '').replace(/DMG\*[^~]*/, dmg);
      const { body, contentType } = await encodeForm(coreResponse(answer));
      return new HttpResponse(body, { headers: { 'content-type': contentType } });
    })
  );
  const file = join(o.dir, 'partners-payer.json');
  writeFileSync(file, o.partners.text);
  process.env[auth.passwordEnv] = password;
  msw.start();
  const g = await testGateway({ DATABASE_URL: await freshDatabase(), FRONTDESK_PARTNERS: file });
  try {
    const out = await o.bash(o.at(new URL(g.fhirUrl).origin, o.block), { TOKEN: await getToken(g) });
    expect(out.code, out.stderr).toBe(0);
    // The doc's promise: the stored response, complete, with a one-line disposition for the clerk.
    expect(JSON.parse(out.stdout)).toMatchObject({
      resourceType: 'CoverageEligibilityResponse',
      outcome: 'complete',
      disposition: 'Coverage active: SILVER PPO 500',
      insurance: [{ inforce: true }],
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.authorization).toBe(`Basic ${btoa(`${auth.username}:${password}`)}`);
    expect(seen[0]!.fields).toMatchObject({ PayloadType: 'X12_270_Request_005010X279A1', ProcessingMode: 'RealTime' });
    // What the example posts reaches the payer, in the envelope the partners file sets.
    const x270 = read270(seen[0]!.fields.Payload!);
    const said = (pattern: RegExp) => pattern.exec(o.block)?.[1];
    expect([x270.isaSender, x270.isaReceiver]).toEqual([payer.x12.senderId, payer.x12.receiverId]);
    expect(x270.subscriber[9]).toBe(said(/"subscriberId":"([^"]+)"/));
    expect(x270.provider[9]).toBe(said(/us-npi","value":"(\d+)"/));
    expect(x270.dtp.at(-1)).toBe(said(/"servicedDate":"([\d-]+)"/)?.replaceAll('-', ''));
    expect(x270.eq).toEqual([said(/service-type-codes","code":"(\w+)"/)]);
  } finally {
    await g.stop();
    msw.close();
    delete process.env[auth.passwordEnv];
  }
}
