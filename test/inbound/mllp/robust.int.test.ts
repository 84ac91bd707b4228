/**
 * The MLLP door under the conditions a real feed brings: slow messages and idle timeouts, oversized frames,
 * pipelined messages that depend on each other, a database that fails at commit, acknowledgments sent to us,
 * processing ids and versions we do not take, batches and character sets, and the log's received time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame } from '../../../src/inbound/mllp/framer.ts';
import { startMllpListener } from '../../../src/inbound/mllp/listener.ts';
import { createLogger } from '../../../src/log.ts';
import { loadConfig } from '../../../src/config.ts';
import { client, getToken, testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';
import { connectMllp } from '../../helpers/hl7.ts';

let g: TestGateway;
let training: TestGateway;
beforeAll(async () => {
  g = await testGateway({ FRONTDESK_MLLP_MAX_FRAME_BYTES: '4096', FRONTDESK_TIME_ZONE: 'UTC' });
  training = await testGateway({ FRONTDESK_HL7_PROCESSING_ID: 'P,T' });
});
afterAll(async () => {
  await g?.stop();
  await training?.stop();
});

/** A raw MLLP peer; its ACKs read as Latin-1, as some of the messages here are. */
const open = (port: number) => connectMllp(port, { encoding: 'latin1' });

const control = () => unique('r').replace(/[^A-Za-z0-9]/g, '').slice(-20);
const msa = (ack: string | undefined) => ack?.split('\r')[1];
const adt = (id: string, o: { trigger?: string; mrn?: string; family?: string; processing?: string; version?: string; msh18?: string; more?: string } = {}) =>
  `MSH|^~\\&|ROBUST|ROBFAC|FRONTDESK|FD|20260105120000||ADT^${o.trigger ?? 'A04'}^ADT_A01|${id}|${o.processing ?? 'P'}|${o.version ?? '2.5.1'}${o.msh18 ? `||||||${o.msh18}` : ''}\r` +
  `PID|1||${o.mrn ?? id}^^^ROBFAC^MR||${o.family ?? 'Robust'}^Rita||19800101|F\r${o.more ?? ''}`;

describe('MLLP connections', () => {
  it('never closes an idle connection while one of its messages is being processed, and closes it once idle', async () => {
    const log = createLogger(loadConfig({ FRONTDESK_LOG_LEVEL: 'silent' }));
    const listener = await startMllpListener(
      { host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, idleTimeoutMs: 300, log, newControlId: () => 'X' },
      async () => {
        await new Promise((r) => setTimeout(r, 700)); // longer than the idle timeout
        return ['MSH|^~\\&|FD||A||20260101||ACK|X|P|2.5.1\rMSA|AA|SLOW\r'];
      }
    );
    try {
      const p = await open(listener.port);
      p.write('MSH|^~\\&|A||FD||20260101||ADT^A04|SLOW|P|2.5.1\r');
      const [ack] = await p.next(1, 3000);
      expect(msa(ack)).toBe('MSA|AA|SLOW');
      // Then idle: closed by the server about one timeout after the ACK.
      const lifetime = await Promise.race([p.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))]);
      expect(lifetime).toBeGreaterThan(700);
    } finally {
      await listener.close();
    }
  });

  it('answers a message it could not record (database down) with AR addressed to it: MSA-2, swapped MSH, its delimiters', async () => {
    const log = createLogger(loadConfig({ FRONTDESK_LOG_LEVEL: 'silent' }));
    const listener = await startMllpListener({ host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, idleTimeoutMs: 10_000, log, newControlId: () => 'OURS1' }, async () => {
      throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
    });
    try {
      const p = await open(listener.port);
      p.write('MSH#^~\\&#SENDAPP#SENDFAC#RECAPP#RECFAC#20260101##ADT^A04#DOWN1#P#2.3\r');
      const [ack] = await p.next(1);
      const [msh, m, err] = ack!.split('\r');
      expect(msh).toMatch(/^MSH#\^~\\&#RECAPP#RECFAC#SENDAPP#SENDFAC#/);
      expect(msh).toMatch(/#2\.3$/);
      expect(m).toMatch(/^MSA#AR#DOWN1#/);
      expect(err).toContain('#207^Application internal error^HL70357#');
      p.close();
    } finally {
      await listener.close();
    }
  });

  it('refuses an oversized frame with AR echoing its MSH-10, stores its head as rejected and audited, and processes nothing after it', async () => {
    const big = control();
    const after = control();
    const p = await open(g.mllp.port);
    const huge = adt(big, { more: `NTE|1||${'x'.repeat(6000)}\r` });
    p.write(huge, adt(after));
    const [ack] = await p.next(1);
    expect(msa(ack)).toMatch(new RegExp(`^MSA\\|AR\\|${big}\\|Frame larger than 4096 bytes`));
    expect(await Promise.race([p.closed, new Promise<number>((r) => setTimeout(() => r(-1), 3000))])).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 1000)); // time enough for a message after it to be stored, were it processed
    const rows = await g.db.sql`SELECT control_id, status, raw, outcome, response FROM message WHERE control_id IN (${big}, ${after})`;
    expect(rows.map((r) => r.control_id)).toEqual([big]);
    expect(rows[0]!.status).toBe('rejected');
    expect(Buffer.from(rows[0]!.raw).toString('latin1')).toBe(huge.slice(0, Buffer.from(rows[0]!.raw).length));
    expect(rows[0]!.outcome.issue[0].diagnostics).toMatch(/over the size limit/);
    expect(rows[0]!.response).toBe(ack);
    await g.audit.settled();
    const events = await client(g)('GET', `AuditEvent?entity-name=${big}`);
    expect(events.body.entry?.[0]?.resource.outcome).toBe('4');
    // Kept only in part, it cannot be reprocessed (that would commit a message cut mid-segment).
    const [{ id: messageId }] = (await g.db.sql`SELECT id::text FROM message WHERE control_id = ${big}`) as unknown as [{ id: string }];
    const res = await fetch(`${new URL(g.fhirUrl).origin}/messages/${messageId}/$reprocess`, { method: 'POST', headers: { authorization: `Bearer ${await getToken(g)}` } });
    expect(res.status).toBe(409);
    expect(JSON.stringify(await res.json())).toContain('cannot be reprocessed');
  });

  it('processes no frame that follows an oversized one, even in the same TCP chunk', async () => {
    const log = createLogger(loadConfig({ FRONTDESK_LOG_LEVEL: 'silent' }));
    const handled: string[] = [];
    const listener = await startMllpListener(
      {
        host: '127.0.0.1',
        port: 0,
        maxFrameBytes: 4096,
        idleTimeoutMs: 10_000,
        log,
        newControlId: () => 'X',
        oversized: async (head, bytes, _peer, ar) => {
          handled.push(`oversized ${bytes} ${head.toString('latin1').split('|')[9]}`);
          return ar;
        },
      },
      async (m) => {
        handled.push(m.toString('latin1').split('|')[9] ?? '');
        return ['MSH|^~\\&|FD||A||20260101||ACK|X|P|2.5.1\rMSA|AA|X\r'];
      }
    );
    try {
      const p = await open(listener.port);
      const huge = `MSH|^~\\&|A||FD||20260101||ADT^A04|BIG|P|2.5.1\rNTE|1||${'x'.repeat(6000)}\r`;
      p.write(huge, 'MSH|^~\\&|A||FD||20260101||ADT^A04|AFTER|P|2.5.1\r');
      const [ack] = await p.next(1);
      expect(msa(ack)).toMatch(/^MSA\|AR\|BIG\|/);
      await p.closed;
      await new Promise((r) => setTimeout(r, 200));
      expect(handled).toEqual([`oversized ${frame(huge).length - 3} BIG`]);
    } finally {
      await listener.close();
    }
  });

  it('stops reading a connection whose queue is full (backpressure), and reads on once it drains', async () => {
    const log = createLogger(loadConfig({ FRONTDESK_LOG_LEVEL: 'silent' }));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let handled = 0;
    const listener = await startMllpListener({ host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, idleTimeoutMs: 60_000, log, newControlId: () => 'X' }, async () => {
      await gate;
      handled++;
      return [];
    });
    try {
      const p = await open(listener.port);
      const one = `MSH|^~\\&|A||FD||20260101||ADT^A04|BP|P|2.5.1\rNTE|1||${'y'.repeat(1000)}\r`;
      const count = 20_000; // ~20 MB: far more than the kernel's socket buffers hold
      p.write(...Array.from({ length: count }, () => one));
      await new Promise((r) => setTimeout(r, 1000));
      // The listener holds a bounded queue: the rest waits on the sender's side, unread.
      expect(p.socket.writableLength).toBeGreaterThan(5_000_000);
      release();
      for (let i = 0; i < 300 && handled < count; i++) await new Promise((r) => setTimeout(r, 50));
      expect(handled).toBe(count);
      expect(p.socket.writableLength).toBe(0);
      p.close();
    } finally {
      await listener.close();
    }
  });

  it('holds up the next message of a sender that does not read its ACKs, and goes on once it reads', async () => {
    const log = createLogger(loadConfig({ FRONTDESK_LOG_LEVEL: 'silent' }));
    let handled = 0;
    const bigAck = `MSH|^~\\&|FD||A||20260101||ACK|X|P|2.5.1\rMSA|AA|X|${'z'.repeat(64 * 1024)}\r`;
    const listener = await startMllpListener({ host: '127.0.0.1', port: 0, maxFrameBytes: 1 << 20, idleTimeoutMs: 60_000, log, newControlId: () => 'X' }, async () => {
      handled++;
      return [bigAck];
    });
    try {
      const p = await open(listener.port);
      p.socket.pause(); // reads nothing: its ACKs pile up in the kernel, then in the gateway's socket buffer
      const count = 500; // 500 × 64 KiB of ACKs = 32 MiB
      p.write(...Array.from({ length: count }, () => 'MSH|^~\\&|A||FD||20260101||ADT^A04|W|P|2.5.1\r'));
      await new Promise((r) => setTimeout(r, 1000));
      expect(handled).toBeLessThan(count / 2); // bounded by the socket buffers, not by what the sender sent
      p.socket.resume();
      const acks = await p.next(count);
      expect(handled).toBe(count);
      expect(acks).toHaveLength(count);
      p.close();
    } finally {
      await listener.close();
    }
  });

  it('answers a frame holding several messages without an envelope with one AR, and keeps it whole', async () => {
    const [a, b] = [control(), control()];
    const p = await open(g.mllp.port);
    p.write(adt(a) + adt(b));
    const acks = await p.next(1);
    await new Promise((r) => setTimeout(r, 300));
    p.close();
    const refusal = new RegExp(`^MSA\\|AR\\|${a}\\|An MLLP frame carries one message`);
    expect([...acks, ...p.frames].map(msa)).toEqual([expect.stringMatching(refusal)]);
    const [row] = await g.db.sql`SELECT status, raw, dedupe FROM message WHERE control_id = ${a}`;
    expect(row).toMatchObject({ status: 'rejected', dedupe: false });
    expect(Buffer.from(row!.raw).toString('latin1')).toBe(adt(a) + adt(b));
    // Sent again one per frame, both are processed.
    const q = await open(g.mllp.port);
    q.write(adt(a), adt(b));
    expect((await q.next(2)).map(msa)).toEqual([`MSA|AA|${a}`, `MSA|AA|${b}`]);
    q.close();
  });

  it('processes pipelined messages about one patient strictly in order: register, then two updates', async () => {
    const mrn = control();
    const ids = [control(), control(), control()];
    const p = await open(g.mllp.port);
    p.write(
      adt(ids[0]!, { mrn, family: 'First' }),
      adt(ids[1]!, { mrn, trigger: 'A08', family: 'Second' }),
      adt(ids[2]!, { mrn, trigger: 'A08', family: 'Third' })
    );
    const acks = await p.next(3);
    p.close();
    expect(acks.map(msa)).toEqual(ids.map((i) => `MSA|AA|${i}`));
    const found = await client(g)('GET', `Patient?identifier=${mrn}`);
    expect(found.body.entry).toHaveLength(1);
    expect(found.body.entry[0].resource.name[0].family).toBe('Third');
    expect(found.body.entry[0].resource.meta.versionId).toBe('3');
  });

  it('records when each message arrived, not when its turn came: pipelined messages share their arrival', async () => {
    const ids = [control(), control(), control()];
    const p = await open(g.mllp.port);
    p.write(...ids.map((i) => adt(i)));
    await p.next(3);
    p.close();
    const rows = await g.db.sql<{ control_id: string; received_at: Date; processed_at: Date }[]>`
      SELECT control_id, received_at, processed_at FROM message WHERE control_id = ANY(${ids}) ORDER BY id`;
    expect(rows.map((r) => r.control_id)).toEqual(ids);
    // The third arrived with the first, before the first was processed.
    expect(rows[2]!.received_at.getTime()).toBeLessThanOrEqual(rows[0]!.processed_at.getTime());
  });

  it('sends AA only once the resources are committed: a commit that fails gets no AA and leaves nothing', async () => {
    const doomed = control();
    const sql = g.db.sql;
    await sql.unsafe(`
      CREATE OR REPLACE FUNCTION robust_fail_commit() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.control_id = '${doomed}' THEN RAISE EXCEPTION 'commit refused for the test'; END IF;
        RETURN NULL;
      END $$;
      CREATE CONSTRAINT TRIGGER robust_fail_commit AFTER INSERT ON message DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION robust_fail_commit();`);
    try {
      const p = await open(g.mllp.port);
      p.write(adt(doomed));
      const [ack] = await p.next(1);
      p.close();
      expect(msa(ack)).toMatch(new RegExp(`^MSA\\|A[ER]\\|${doomed}\\|`));
      const found = await client(g)('GET', `Patient?identifier=${doomed}`);
      expect(found.body.entry ?? []).toHaveLength(0);
    } finally {
      await sql.unsafe('DROP TRIGGER robust_fail_commit ON message; DROP FUNCTION robust_fail_commit();');
    }
  });

  it('never acknowledges an acknowledgment: it is stored, nothing is sent back, and the connection goes on', async () => {
    const ackId = control();
    const next = control();
    const p = await open(g.mllp.port);
    p.write(
      `MSH|^~\\&|ROBUST|ROBFAC|FRONTDESK|FD|20260105120000||ACK^A04^ACK|${ackId}|P|2.5.1\rMSA|AA|SOMETHING-WE-SENT\r`
    );
    p.write(adt(next));
    const acks = await p.next(1);
    await new Promise((r) => setTimeout(r, 200));
    p.close();
    expect(acks.map(msa)).toEqual([`MSA|AA|${next}`]);
    expect(p.frames).toEqual([]);
    const [row] = await g.db.sql`SELECT status, response FROM message WHERE control_id = ${ackId}`;
    expect(row).toMatchObject({ status: 'processed', response: '' });
  });

  it('refuses training and debugging messages unless configured (AR 202), and versions that are not 2.x (AR 203)', async () => {
    const t = control();
    const v = control();
    const p = await open(g.mllp.port);
    p.write(adt(t, { processing: 'T' }), adt(v, { version: '3.0' }));
    const [ackT, ackV] = await p.next(2);
    p.close();
    expect(msa(ackT)).toMatch(new RegExp(`^MSA\\|AR\\|${t}\\|Processing id "T" \\(training\\)`));
    expect(ackT).toContain('|202^Unsupported processing id^HL70357|');
    expect(msa(ackV)).toMatch(new RegExp(`^MSA\\|AR\\|${v}\\|`));
    expect(ackV).toContain('|MSH^1^12|203^Unsupported version id^HL70357|');
    expect((await client(g)('GET', `Patient?identifier=${t}`)).body.entry ?? []).toHaveLength(0);
    // A gateway configured for training feeds takes them.
    const tp = await open(training.mllp.port);
    const t2 = control();
    tp.write(adt(t2, { processing: 'T' }));
    expect(msa((await tp.next(1))[0])).toBe(`MSA|AA|${t2}`);
    tp.close();
  });

  it('audits a message processed in enhanced mode with no acknowledgment asked for as a success', async () => {
    const id = control();
    const p = await open(g.mllp.port);
    const text = adt(id).replace('|P|2.5.1\r', '|P|2.5.1|||NE|NE\r');
    p.write(text);
    await new Promise((r) => setTimeout(r, 300));
    p.close();
    for (let i = 0; i < 50; i++) {
      const [row] = await g.db.sql`SELECT status FROM message WHERE control_id = ${id}`;
      if (row) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(p.frames).toEqual([]);
    await g.audit.settled();
    const events = await client(g)('GET', `AuditEvent?entity-name=${id}`);
    expect(events.body.entry?.[0]?.resource.outcome).toBe('0');
  });
});

describe('enhanced acknowledgment modes', () => {
  const send = async (text: string, n: number) => {
    const p = await open(g.mllp.port);
    p.write(text);
    const got = await p.next(n);
    await new Promise((r) => setTimeout(r, n === 0 ? 500 : 100)); // nothing more may come
    p.close();
    return [...got, ...p.frames];
  };
  const enhanced = (id: string, accept: string, application: string, o: Parameters<typeof adt>[1] = {}) =>
    adt(id, o).replace(/\|P\|2\.5\.1\r/, `|P|2.5.1|||${accept}|${application}\r`);

  it('AL/AL with a content error: CA, then AE with its ERR', async () => {
    const id = control();
    const acks = await send(enhanced(id, 'AL', 'AL').replace('|19800101|', '|19801301|'), 2);
    expect(acks.map(msa)).toEqual([`MSA|CA|${id}`, expect.stringMatching(new RegExp(`^MSA\\|AE\\|${id}\\|`))]);
    expect(acks[1]).toContain('ERR||PID^1^7|102^Data type error^HL70357|E');
  });

  it('SU asks for a commit acknowledgment on success only: CA when stored, nothing when refused', async () => {
    const ok = control();
    expect((await send(enhanced(ok, 'SU', 'NE'), 1)).map(msa)).toEqual([`MSA|CA|${ok}`]);
    const refused = control();
    expect(await send(enhanced(refused, 'SU', 'NE').replace('ADT^A04^ADT_A01', 'ORU^R01^ORU_R01'), 0)).toEqual([]);
    const [row] = await g.db.sql`SELECT status FROM message WHERE control_id = ${refused}`;
    expect(row!.status).toBe('rejected');
  });

  it('ER with an unsupported type: CR carrying ERR 200', async () => {
    const id = control();
    const acks = await send(enhanced(id, 'ER', 'ER').replace('ADT^A04^ADT_A01', 'ORU^R01^ORU_R01'), 1);
    expect(acks.map(msa)).toEqual([expect.stringMatching(new RegExp(`^MSA\\|CR\\|${id}\\|`))]);
    expect(acks[0]).toContain('|MSH^1^9|200^Unsupported message type^HL70357|');
  });
});

describe('batches and character sets', () => {
  const latin1 = (text: string) => Buffer.from(text, 'latin1');

  it('splits an FHS/BHS batch over MLLP on its bytes: each Latin-1 message decoded once, its own bytes stored, one batch ACK', async () => {
    const ids = [control(), control()];
    const batch = latin1(
      'FHS|^~\\&|ROBUST|ROBFAC|FRONTDESK|FD|20260105120000||||F1\r' +
        'BHS|^~\\&|ROBUST|ROBFAC|FRONTDESK|FD|20260105120000||||B1\r' +
        ids.map((i) => adt(i, { family: 'Muñoz', msh18: '8859/1' })).join('') +
        'BTS|2\rFTS|1\r'
    );
    const p = await open(g.mllp.port);
    p.write(batch);
    const [ack] = await p.next(1);
    p.close();
    const segs = ack!.split('\r').filter(Boolean);
    expect(segs.map((s) => s.slice(0, 3))).toEqual(['FHS', 'BHS', 'MSH', 'MSA', 'MSH', 'MSA', 'BTS', 'FTS']);
    expect(segs.filter((s) => s.startsWith('MSA'))).toEqual(ids.map((i) => `MSA|AA|${i}`));
    expect(segs[1]!.split('|')[11]).toBe('B1'); // BHS-12: the batch answered
    for (const i of ids) {
      const found = await client(g)('GET', `Patient?identifier=${i}`);
      expect(found.body.entry[0].resource.name[0].family).toBe('Muñoz');
      const [row] = await g.db.sql`SELECT raw FROM message WHERE control_id = ${i}`;
      expect(Buffer.from(row!.raw).equals(latin1(adt(i, { family: 'Muñoz', msh18: '8859/1' })))).toBe(true);
    }
  });

  it('keeps a batch whole when segments in it belong to no message, beside the messages it held', async () => {
    const ok = control();
    const body =
      'BHS|^~\\&|ROBUST|ROBFAC|FRONTDESK|FD|20260105120000||||B2\r' +
      'ZXX|stray segment before any MSH\r' +
      adt(ok) +
      'BTS|1\r';
    const token = await getToken(g);
    const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
    const ack = await res.text();
    expect(ack.split('\r').filter((x) => x.startsWith('MSA'))).toEqual([`MSA|AA|${ok}`]);
    expect(ack).toContain('ZXX segment outside any message');
    const ids = res.headers.get('x-message-id')!.split(', ');
    expect(ids).toHaveLength(2);
    const [kept] = await g.db.sql`SELECT status, message_type, raw FROM message WHERE id = ${ids[1]!}`;
    expect(kept).toMatchObject({ status: 'rejected', message_type: 'BATCH' });
    expect(Buffer.from(kept!.raw).toString('latin1')).toBe(body);
  });

  it('answers several messages sent one after the other without an envelope each with its own ACK', async () => {
    const ids = [control(), control()];
    const token = await getToken(g);
    const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: ids.map((i) => adt(i)).join('') });
    const text = await res.text();
    expect(text.split('\r').filter((s) => s.startsWith('MSA'))).toEqual(ids.map((i) => `MSA|AA|${i}`));
    expect(res.headers.get('x-message-id')!.split(', ')).toHaveLength(2);
    for (const i of ids) expect((await client(g)('GET', `Patient?identifier=${i}`)).body.entry).toHaveLength(1);
  });

  it('shows a stored Latin-1 message as the text it was read as, with its exact bytes beside it', async () => {
    const id = control();
    const bytes = latin1(adt(id, { family: 'Muñoz', msh18: '8859/1' }));
    const token = await getToken(g);
    const origin = new URL(g.fhirUrl).origin;
    const res = await fetch(`${origin}/hl7v2`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: bytes });
    const messageId = res.headers.get('x-message-id');
    const shown = (await (await fetch(`${origin}/messages/${messageId}`, { headers: { authorization: `Bearer ${token}` } })).json()) as { raw: string; rawBase64: string };
    expect(shown.raw).toContain('Muñoz^Rita');
    expect(Buffer.from(shown.rawBase64, 'base64').equals(bytes)).toBe(true);
  });
});
