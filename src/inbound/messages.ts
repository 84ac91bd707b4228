/**
 * @module inbound/messages — the doors for integration engineers and partners over HTTP:
 * `POST /hl7v2` (an HL7 v2 message in, its ACK out: the same processing as MLLP), `POST /x12` (an X12
 * interchange in, its TA1/999 out), and the message log
 * `GET /messages`, `GET /messages/{id}`, `POST /messages/{id}/$reprocess`. Token and scope checked, audited.
 *
 * Scopes: `system/hl7v2.c` / `system/x12.c` to send, `system/Message.rs` to read the log, `system/Message.u` to
 * reprocess an inbound message or send an outbound dead letter again (`POST /messages/{id}/$resend`).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { getConnInfo } from '@hono/node-server/conninfo';
import { demand, requireToken } from '../access/guard.ts';
import { rateLimit, type RateLimiter } from '../access/rate-limit.ts';
import type { TokenService } from '../access/tokens.ts';
import type { AuditTrail } from '../audit/trail.ts';
import { httpError, invalid } from '../outcome.ts';
import { getMessage, listMessages } from '../store/messages.ts';
import { requeue } from '../store/outbox.ts';
import { decodeHl7 } from '../translate/hl7v2/charset.ts';
import { receiveHl7v2Input } from '../workflows/hl7v2-input.ts';
import { reprocessHl7v2, type ReceiveContext } from '../workflows/receive-hl7v2.ts';
import { receiveX12, type X12Context } from '../workflows/receive-x12.ts';
import { auditRequests, type AuditEnv } from './fhir/audit.ts';

export type MessageDoorOptions = {
  receive: ReceiveContext;
  x12: X12Context;
  tokens: TokenService | undefined;
  audit: AuditTrail | undefined;
  limiter: RateLimiter | undefined;
  maxBodyBytes: number;
  outbox?: { kick(): void } | undefined;
};

const HL7_MEDIA = 'x-application/hl7-v2+er7; charset=utf-8';

export function messageRoutes(o: MessageDoorOptions): Hono<AuditEnv> {
  const app = new Hono<AuditEnv>({ strict: false });
  app.use('/hl7v2', auditRequests(o.audit, () => 'operation'));
  app.use('/x12', auditRequests(o.audit, () => 'operation'));
  // Not `/messages/*`: Hono's wildcard also matches `/messages`, which would then be audited and counted twice.
  const oneMessage = '/messages/:rest{.+}';
  app.use(oneMessage, auditRequests(o.audit, (method) => (method === 'GET' ? 'read' : 'operation')));
  app.use('/messages', auditRequests(o.audit, () => 'search-type'));
  for (const path of ['/hl7v2', '/x12', '/messages', oneMessage]) {
    app.use(path, requireToken(o.tokens));
    app.use(path, rateLimit(o.limiter));
  }

  app.post(
    '/hl7v2',
    bodyLimit({ maxSize: o.maxBodyBytes, onError: () => { throw httpError(413, 'too-costly', `HL7 v2 body larger than ${o.maxBodyBytes} bytes`); } }),
    async (c) => {
      demand(c.get('principal'), 'hl7v2', 'c', 'sending HL7 v2');
      const raw = Buffer.from(await c.req.arrayBuffer());
      if (raw.length === 0) invalid('The body must be an HL7 v2 message');
      // A client a partner lists speaks for that partner only: MSH-3/MSH-4 must be one of its senders.
      const partner = o.receive.partners?.byClient(c.get('principal').clientId)?.id;
      const result = await receiveHl7v2Input(o.receive, raw, 'http', { address: peerOf(c), ...(partner ? { partner } : {}), receivedAt: new Date() });
      const headers = messageIdHeaders(result.messageIds);
      // Enhanced mode with MSH-15 and MSH-16 both NE asks for no acknowledgment at all.
      if (!result.acks.length) return c.body(null, 204, headers);
      return c.body(result.acks.join(''), 200, { ...headers, 'Content-Type': HL7_MEDIA });
    }
  );

  app.post(
    '/x12',
    bodyLimit({ maxSize: o.maxBodyBytes, onError: () => { throw httpError(413, 'too-costly', `X12 body larger than ${o.maxBodyBytes} bytes`); } }),
    async (c) => {
      demand(c.get('principal'), 'x12', 'c', 'sending X12');
      const raw = Buffer.from(await c.req.arrayBuffer());
      if (raw.length === 0) invalid('The body must be an X12 interchange');
      const result = await receiveX12(o.x12, raw, 'http', peerOf(c));
      // Not an interchange at all: nothing to acknowledge in X12; the raw bytes are stored all the same.
      if (!result.ok && 'pending' in result) {
        const err = httpError(
          409,
          'conflict',
          `Interchange already received (message ${result.messageId}) and still being answered: ` +
            'send it again in a few seconds for the answer'
        );
        Object.assign(err, { headers: { 'Retry-After': '5' } });
        throw err;
      }
      if (!result.ok) throw httpError(400, 'structure', `${result.error.message} (TA1 note ${result.error.code}); stored as message ${result.messageId}`, 'ISA');
      return c.body(result.response, 200, { 'Content-Type': 'application/edi-x12', 'X-Message-Id': result.messageId });
    }
  );

  app.get('/messages', async (c) => {
    demand(c.get('principal'), 'Message', 's', 'reading the message log');
    const q = (k: string) => c.req.query(k) || undefined;
    for (const k of ['since', 'until']) {
      const v = q(k);
      if (v && Number.isNaN(Date.parse(v))) invalid(`${k} must be a date or date-time`, k);
    }
    const count = Math.min(Math.max(Number(q('_count') ?? 50) || 50, 1), 500);
    const offset = Math.max(Number(q('_offset') ?? 0) || 0, 0);
    const { messages, hasMore } = await listMessages(o.receive.sql, {
      status: q('status'),
      type: q('type'),
      sender: q('sender'),
      partner: q('partner'),
      since: q('since'),
      until: q('until'),
      direction: q('direction'),
      count,
      offset,
    });
    const next = new URL(c.req.url);
    next.searchParams.set('_offset', String(offset + count));
    return c.json({ messages, next: hasMore ? `${next.pathname}${next.search}` : null });
  });

  app.get('/messages/:id', async (c) => {
    demand(c.get('principal'), 'Message', 'r', 'reading a message');
    const m = await getMessage(o.receive.sql, c.req.param('id'));
    if (!m) throw httpError(404, 'not-found', `No message ${c.req.param('id')}`);
    // `raw`: the text as the gateway read it (HL7 v2: the partner's character set, else MSH-18); `rawBase64`: the
    // bytes exactly as received.
    const charset = m.protocol === 'hl7v2' ? o.receive.partners?.partners.find((p) => p.id === m.partner)?.hl7v2.charset : undefined;
    const text = m.protocol === 'hl7v2' ? decodeHl7(m.raw, charset).text : m.raw.toString('utf8');
    return c.json({ ...m, raw: text, rawBase64: m.raw.toString('base64') });
  });

  app.post('/messages/:id/:op{\\$resend}', async (c) => {
    demand(c.get('principal'), 'Message', 'u', 'sending a message again');
    // Only a dead letter: a pending message is on its way, a delivered one must not be sent twice.
    if (!(await requeue(o.receive.sql, c.req.param('id')))) {
      throw httpError(409, 'conflict', `Message ${c.req.param('id')} is not an outbound dead letter: only those are sent again`);
    }
    o.outbox?.kick();
    return c.json({ id: c.req.param('id'), status: 'pending' });
  });

  app.post('/messages/:id/:op{\\$reprocess}', async (c) => {
    demand(c.get('principal'), 'Message', 'u', 'reprocessing a message');
    const result = await reprocessHl7v2(o.receive, c.req.param('id'));
    if (!result) throw httpError(404, 'not-found', `No inbound HL7 v2 message ${c.req.param('id')}`);
    return c.json({ id: result.messageId, status: result.status, acknowledgment: result.acks.join('') });
  });
  return app;
}

/** The remote address of an HTTP request, as the message log keeps it. */
function peerOf(c: Parameters<typeof getConnInfo>[0]): string {
  try {
    const info = getConnInfo(c).remote;
    return `${info.address ?? ''}:${info.port ?? ''}`;
  } catch {
    return 'http';
  }
}

/** Response headers stay far below what HTTP clients accept in all (undici and Node: 16 KB). */
const MAX_ID_HEADER = 4096;

/**
 * `X-Message-Id`: the stored messages' ids, comma-separated; a file of thousands of messages gets the first ones
 * that fit in 4 KB, and `X-Message-Count` says how many there are (`GET /messages` lists them all).
 */
function messageIdHeaders(ids: readonly string[]): Record<string, string> {
  let list = ids.join(', ');
  if (list.length > MAX_ID_HEADER) list = list.slice(0, list.lastIndexOf(', ', MAX_ID_HEADER));
  return { 'X-Message-Id': list, 'X-Message-Count': String(ids.length) };
}
