import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';
import { connectMllp } from '../../helpers/hl7.ts';

let g: TestGateway;
beforeAll(async () => {
  g = await testGateway();
});
afterAll(async () => g?.stop());

const msg = (control: string, type = 'ZZZ^Z01') =>
  `MSH|^~\\&|TESTAPP|TESTFAC|FRONTDESK|CLINIC|20260105120000||${type}|${control}|P|2.5.1\rPID|1||X1^^^T^MR\r`;

describe('MLLP listener', () => {
  it('answers pipelined messages each with its own ACK, in order, and stores each raw', async () => {
    const peer = await connectMllp(g.mllp.port);
    const ids = [unique('c'), unique('c'), unique('c')].map((s) => s.slice(-20));
    peer.write(...ids.map((id) => msg(id)));
    const got = await peer.next(3);
    expect(got.map((a) => a.split('\r')[1]?.split('|')[2])).toEqual(ids);
    for (const a of got) {
      expect(a.split('\r')[1]).toMatch(/^MSA\|AR\|/);
      expect(a).toContain('|200^Unsupported message type^HL70357|');
      expect(a.split('\r')[0]).toMatch(/^MSH\|\^~\\&\|FRONTDESK\|CLINIC\|TESTAPP\|TESTFAC\|/);
    }
    const rows = await g.db.sql`SELECT control_id, status, raw, sender FROM message WHERE control_id = ANY(${ids}) ORDER BY id`;
    expect(rows.map((r) => r.control_id)).toEqual(ids);
    expect(rows.every((r) => r.status === 'rejected' && r.sender === 'TESTAPP^TESTFAC')).toBe(true);
    expect(Buffer.from(rows[0]!.raw).toString('utf8')).toBe(msg(ids[0]!));
    peer.close();
  });

  it('gives a resend of the same control id the first ACK and stores it once', async () => {
    const peer = await connectMllp(g.mllp.port);
    const id = unique('d').slice(-20);
    const first = await peer.send(msg(id));
    const second = await peer.send(msg(id));
    expect(second).toBe(first);
    const [{ n }] = (await g.db.sql`SELECT count(*)::int AS n FROM message WHERE control_id = ${id}`) as unknown as [{ n: number }];
    expect(n).toBe(1);
    peer.close();
  });

  it('rejects unreadable input with AR and an ERR segment, and keeps the bytes', async () => {
    const peer = await connectMllp(g.mllp.port);
    const garbage = `not hl7 at all ${unique()}`;
    const ack = await peer.send(garbage);
    expect(ack.split('\r')[1]).toMatch(/^MSA\|AR\|/);
    expect(ack).toContain('ERR||MSH^1|100^Segment sequence error^HL70357|E');
    const rows = await g.db.sql`SELECT status FROM message WHERE raw = ${Buffer.from(garbage)}`;
    expect(rows.map((r) => r.status)).toEqual(['rejected']);
    peer.close();
  });

  it('rejects an unknown processing id (MSH-11) with AR code 202', async () => {
    const peer = await connectMllp(g.mllp.port);
    const id = unique('p').slice(-20);
    const ack = await peer.send(msg(id).replace('|P|2.5.1', '|X|2.5.1'));
    expect(ack).toContain('|202^Unsupported processing id^HL70357|');
    peer.close();
  });
});
