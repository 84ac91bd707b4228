import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frame, MllpFramer } from '../../../src/inbound/mllp/framer.ts';
import { testGateway, unique, type TestGateway } from '../../helpers/gateway.ts';

let g: TestGateway;
beforeAll(async () => {
  g = await testGateway();
});
afterAll(async () => g?.stop());

/** A raw MLLP peer: writes bytes as given and collects the ACK frames it receives. */
async function peer(): Promise<{ socket: Socket; acks: (n: number) => Promise<string[]> }> {
  const port = g.mllp.port;
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  const framer = new MllpFramer(1 << 20);
  const received: string[] = [];
  socket.on('data', (c) => {
    for (const e of framer.push(c)) if ('frame' in e) received.push(e.frame.toString('utf8'));
  });
  const acks = async (n: number) => {
    for (let i = 0; i < 200 && received.length < n; i++) await new Promise((r) => setTimeout(r, 25));
    return received.splice(0, n);
  };
  return { socket, acks };
}

const msg = (control: string, type = 'ZZZ^Z01') =>
  `MSH|^~\\&|TESTAPP|TESTFAC|FRONTDESK|CLINIC|20260105120000||${type}|${control}|P|2.5.1\rPID|1||X1^^^T^MR\r`;

describe('MLLP listener', () => {
  it('answers pipelined messages each with its own ACK, in order, and stores each raw', async () => {
    const { socket, acks } = await peer();
    const ids = [unique('c'), unique('c'), unique('c')].map((s) => s.slice(-20));
    socket.write(Buffer.concat(ids.map((id) => frame(msg(id)))));
    const got = await acks(3);
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
    socket.end();
  });

  it('gives a resend of the same control id the first ACK and stores it once', async () => {
    const { socket, acks } = await peer();
    const id = unique('d').slice(-20);
    socket.write(frame(msg(id)));
    const [first] = await acks(1);
    socket.write(frame(msg(id)));
    const [second] = await acks(1);
    expect(second).toBe(first);
    const [{ n }] = (await g.db.sql`SELECT count(*)::int AS n FROM message WHERE control_id = ${id}`) as unknown as [{ n: number }];
    expect(n).toBe(1);
    socket.end();
  });

  it('rejects unreadable input with AR and an ERR segment, and keeps the bytes', async () => {
    const { socket, acks } = await peer();
    const garbage = `not hl7 at all ${unique()}`;
    socket.write(frame(garbage));
    const [ack] = await acks(1);
    expect(ack!.split('\r')[1]).toMatch(/^MSA\|AR\|/);
    expect(ack).toContain('ERR||MSH^1|100^Segment sequence error^HL70357|E');
    const rows = await g.db.sql`SELECT status FROM message WHERE raw = ${Buffer.from(garbage)}`;
    expect(rows.map((r) => r.status)).toEqual(['rejected']);
    socket.end();
  });

  it('rejects an unknown processing id (MSH-11) with AR code 202', async () => {
    const { socket, acks } = await peer();
    const id = unique('p').slice(-20);
    socket.write(frame(msg(id).replace('|P|2.5.1', '|X|2.5.1')));
    const [ack] = await acks(1);
    expect(ack).toContain('|202^Unsupported processing id^HL70357|');
    socket.end();
  });
});
