import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getToken, testGateway, unique, type TestGateway } from '../helpers/gateway.ts';

let g: TestGateway;
let origin: string;
beforeAll(async () => {
  g = await testGateway();
  origin = new URL(g.fhirUrl).origin;
});
afterAll(async () => g?.stop());

const msg = (control: string, type = 'ZZT^Z01', sender = 'HTTPAPP') =>
  `MSH|^~\\&|${sender}|CLINIC|FRONTDESK|FD|20260105120000||${type}|${control}|P|2.5.1\rPID|1||X1^^^T^MR\r`;

async function call(path: string, init: RequestInit & { scope?: string } = {}) {
  const token = init.scope === 'none' ? undefined : await getToken(g, init.scope);
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${origin}${path}`, { ...init, headers });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // HL7 text
  }
  return { status: res.status, headers: res.headers, body };
}

describe('POST /hl7v2', () => {
  it('processes a message like MLLP does and answers with its ACK', async () => {
    const control = unique('h').slice(-20);
    const res = await call('/hl7v2', { method: 'POST', body: msg(control), headers: { 'content-type': 'x-application/hl7-v2+er7' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('x-application/hl7-v2+er7');
    expect(res.body.split('\r')[1]).toMatch(new RegExp(`^MSA\\|AR\\|${control}`));
    expect(res.headers.get('x-message-id')).toMatch(/^\d+$/);
  });

  it('answers a file of a thousand messages with headers a client can read: the first ids and the count', async () => {
    const file = Array.from({ length: 1000 }, (_, i) => msg(`${unique('f').slice(-14)}${i}`)).join('');
    const res = await call('/hl7v2', { method: 'POST', body: file, headers: { 'content-type': 'x-application/hl7-v2+er7' } });
    expect(res.status).toBe(200);
    expect(res.body.split(/\r(?=MSH)/)).toHaveLength(1000);
    expect(res.headers.get('x-message-count')).toBe('1000');
    const ids = res.headers.get('x-message-id')!.split(', ');
    expect(ids.length).toBeGreaterThan(10);
    expect(ids.length).toBeLessThan(1000);
    expect(ids.every((id) => /^\d+$/.test(id))).toBe(true);
    expect(res.headers.get('x-message-id')!.length).toBeLessThanOrEqual(4096);
  }, 120_000);

  it('needs a token (401) and the hl7v2 scope (403)', async () => {
    expect((await call('/hl7v2', { method: 'POST', body: msg(unique().slice(-20)), scope: 'none' })).status).toBe(401);
    const denied = await call('/hl7v2', { method: 'POST', body: msg(unique().slice(-20)), scope: 'system/Patient.rs' });
    expect(denied.status).toBe(403);
    expect(denied.body.resourceType).toBe('OperationOutcome');
  });
});

describe('message log', () => {
  it('lists messages filtered by sender, type and status, newest first, and shows one with its raw text', async () => {
    const sender = unique('S').replace(/[^A-Za-z0-9]/g, '').slice(0, 15);
    const ids = [unique('a').slice(-20), unique('b').slice(-20)];
    for (const id of ids) await call('/hl7v2', { method: 'POST', body: msg(id, 'ZZT^Z02', sender) });
    const list = await call(`/messages?sender=${sender}^CLINIC&type=ZZT&status=rejected`);
    expect(list.status).toBe(200);
    expect(list.body.messages.map((m: any) => m.controlId)).toEqual([...ids].reverse());
    expect(list.body.messages[0]).toMatchObject({ direction: 'inbound', protocol: 'hl7v2', transport: 'http', messageType: 'ZZT^Z02' });
    const paged = await call(`/messages?sender=${sender}^CLINIC&_count=1`);
    expect(paged.body.messages).toHaveLength(1);
    expect(paged.body.next).toContain('_offset=1');
    const one = await call(`/messages/${list.body.messages[0].id}`);
    expect(one.body.raw).toBe(msg(ids[1]!, 'ZZT^Z02', sender));
    expect(one.body.response).toContain('MSA|AR|');
    expect((await call('/messages/999999999')).status).toBe(404);
    expect((await call('/messages?since=yesterday')).status).toBe(400);
  });

  it('filters by received time (since, until) and direction, and pages through the next link to the end', async () => {
    const sender = unique('TIME').replace(/[^A-Za-z0-9]/g, '').slice(-16);
    const ids = Array.from({ length: 5 }, () => unique('p').slice(-20));
    for (const id of ids.slice(0, 2)) await call('/hl7v2', { method: 'POST', body: msg(id, 'ZZT^Z01', sender) });
    await new Promise((r) => setTimeout(r, 50));
    const cut = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 50));
    for (const id of ids.slice(2)) await call('/hl7v2', { method: 'POST', body: msg(id, 'ZZT^Z01', sender) });
    const of = async (q: string) => (await call(`/messages?sender=${sender}^CLINIC&${q}`)).body.messages.map((m: { controlId: string }) => m.controlId);
    expect(await of(`until=${encodeURIComponent(cut)}`)).toEqual(ids.slice(0, 2).reverse());
    expect(await of(`since=${encodeURIComponent(cut)}`)).toEqual(ids.slice(2).reverse());
    expect(await of('direction=outbound')).toEqual([]);
    expect(await of('direction=inbound')).toHaveLength(5);
    // Two at a time: the next links visit every message once, newest first, and the last page has none.
    const seen: string[] = [];
    let next: string | null = `/messages?sender=${sender}^CLINIC&_count=2`;
    let pages = 0;
    while (next) {
      const page: { body: { messages: { controlId: string }[]; next: string | null } } = await call(next);
      seen.push(...page.body.messages.map((m) => m.controlId));
      next = page.body.next;
      pages++;
    }
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBe(3);
  });

  it('needs Message.rs to read and Message.u to reprocess', async () => {
    expect((await call('/messages', { scope: 'none' })).status).toBe(401);
    expect((await call('/messages', { scope: 'system/Patient.rs' })).status).toBe(403);
    expect((await call('/messages/1/$reprocess', { method: 'POST', scope: 'system/Message.rs' })).status).toBe(403);
  });

  it('reprocesses a stored message with the handlers of now: a rejected message becomes processed', async () => {
    const control = unique('r').slice(-20);
    const first = await call('/hl7v2', { method: 'POST', body: msg(control, 'ZZR^Z01') });
    expect(first.body).toContain('MSA|AR|');
    const id = first.headers.get('x-message-id')!;
    // a handler for the type arrives (in real life: a new mapping)
    g.receive.handlers.set('ZZR^Z01', async () => ({ resources: ['Patient/example'], unmapped: ['ZXX'] }));
    try {
      const again = await call(`/messages/${id}/$reprocess`, { method: 'POST' });
      expect(again.status).toBe(200);
      expect(again.body.status).toBe('processed');
      expect(again.body.acknowledgment.split('\r')[1]).toBe(`MSA|AA|${control}`);
      const stored = await call(`/messages/${id}`);
      expect(stored.body).toMatchObject({ status: 'processed', resources: ['Patient/example'], unmapped: ['ZXX'] });
      // a resend of the same control id now gets the new acknowledgment, still stored once
      const resend = await call('/hl7v2', { method: 'POST', body: msg(control, 'ZZR^Z01') });
      expect(resend.body.split('\r')[1]).toBe(`MSA|AA|${control}`);
      expect(resend.headers.get('x-message-id')).toBe(id);
    } finally {
      g.receive.handlers.delete('ZZR^Z01');
    }
  });

  it('answers AE (and keeps the message) when a handler fails on the content', async () => {
    const { OperationOutcomeError, badRequest } = await import('@medplum/core');
    g.receive.handlers.set('ZZE^Z01', async () => {
      throw new OperationOutcomeError(badRequest('PID-3 is empty', 'PID-3'));
    });
    try {
      const control = unique('e').slice(-20);
      const res = await call('/hl7v2', { method: 'POST', body: msg(control, 'ZZE^Z01') });
      const [, msa, err] = res.body.split('\r');
      expect(msa).toBe(`MSA|AE|${control}|PID-3 is empty`);
      expect(err).toContain('ERR||PID^1^3|102^Data type error^HL70357|E');
      const stored = await call(`/messages/${res.headers.get('x-message-id')}`);
      expect(stored.body.status).toBe('error');
    } finally {
      g.receive.handlers.delete('ZZE^Z01');
    }
  });
});
