/**
 * The outbound MLLP client against real sockets: a specialist office's listener in the test, framing with the
 * gateway's own framer and answering with ACKs it builds (or not answering, or hanging up), over TCP and over TLS
 * with throwaway certificates.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { MllpFramer } from '../../src/inbound/mllp/framer.ts';
import { MllpClient, type MllpClientOptions, type MllpDestination } from '../../src/outbound/mllp-client.ts';
import { makeCertificates, type Certificates } from '../helpers/payer.ts';

/** What the listener does with a message: an ACK to write, nothing (undefined), or hang up. */
type Reply = (controlId: string) => string | undefined | 'hang up' | Promise<string | undefined>;

type Listener = {
  port: number;
  /** Every byte received, all connections, in order. */
  bytes: Buffer[];
  /** `received <id>` and `answered <id>`, in the order they happened. */
  events: string[];
  connections: number;
  closed: number;
  peers: string[];
};

const servers: Server[] = [];
const clients: MllpClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(reply: Reply, tls?: TlsOptions): Promise<Listener> {
  const l: Listener = { port: 0, bytes: [], events: [], connections: 0, closed: 0, peers: [] };
  const serve = (socket: Socket) => {
    l.connections++;
    if (tls) l.peers.push(String((socket as TLSSocket).getPeerCertificate().subject?.CN));
    socket.on('error', () => undefined);
    socket.on('close', () => l.closed++);
    const framer = new MllpFramer(1 << 20);
    socket.on('data', async (chunk: Buffer) => {
      l.bytes.push(chunk);
      for (const e of framer.push(chunk)) {
        if (!('frame' in e)) continue;
        const id = e.frame.toString('latin1').split('\r')[0]?.split('|')[9] ?? '';
        l.events.push(`received ${id}`);
        const answer = await reply(id);
        if (answer === 'hang up') socket.destroy();
        else if (answer !== undefined && !socket.destroyed) {
          l.events.push(`answered ${id}`);
          socket.write(Buffer.concat([Buffer.from([0x0b]), Buffer.from(answer, 'latin1'), Buffer.from([0x1c, 0x0d])]));
        }
      }
    });
  };
  const server = tls ? createTlsServer(tls, serve) : createServer(serve);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  l.port = (server.address() as { port: number }).port;
  return l;
}

const ack = (controlId: string, code = 'AA', text = '') =>
  `MSH|^~\\&|SPECIALIST|OFFICE|FRONTDESK|CLINIC|20260101120000||ACK^I12^ACK|A-${controlId}|P|2.5.1\r` +
  `MSA|${code}|${controlId}${text ? `|${text}` : ''}\r`;

/** A referral in ISO 8859-1 bytes (a made-up patient), as the outbox holds it for a partner that reads Latin-1. */
const referral = (controlId: string) =>
  Buffer.from(
    `MSH|^~\\&|FRONTDESK|CLINIC|SPECIALIST|OFFICE|20260101120000||REF^I12^REF_I12|${controlId}|P|2.5.1|||||||8859/1\r` +
      'PID|1||MRN-TEST-1^^^CLINIC^MR||Müller^Jürgen\r',
    'latin1'
  );

function client(port: number, options: MllpClientOptions = {}, tls?: MllpDestination['tls']): MllpClient {
  const c = new MllpClient({ host: '127.0.0.1', port, ...(tls ? { tls } : {}) }, options);
  clients.push(c);
  return c;
}

describe('MllpClient sending to a partner listener', () => {
  it('returns AA with the raw ACK, and the listener receives exactly the bytes sent in one MLLP frame', async () => {
    const l = await listen((id) => ack(id));
    const result = await client(l.port).send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: true, code: 'AA', ack: ack('M1') });
    expect(result.ms).toBeGreaterThanOrEqual(0);
    const expected = Buffer.concat([Buffer.from([0x0b]), referral('M1'), Buffer.from([0x1c, 0x0d])]);
    expect(Buffer.concat(l.bytes).equals(expected)).toBe(true);
  });

  it('logs host:port, control id, code and ms, never the message', async () => {
    const l = await listen((id) => ack(id));
    const lines: object[] = [];
    const log = { info: (o: object) => lines.push(o), warn: (o: object) => lines.push(o) };
    await client(l.port, { log }).send(referral('M1'), 'M1');
    expect(lines).toContainEqual({ peer: `127.0.0.1:${l.port}`, control: 'M1', code: 'AA', ms: expect.any(Number) });
    expect(JSON.stringify(lines)).not.toMatch(/MRN-TEST|Müller|PID/);
  });

  it('reports AE as rejected with the text of MSA-3', async () => {
    const reason = 'Referral reason missing';
    const l = await listen((id) => ack(id, 'AE', reason));
    const result = await client(l.port).send(referral('M1'), 'M1');
    const expected = { kind: 'rejected', code: 'AE', text: reason, ack: ack('M1', 'AE', reason) };
    expect(result).toMatchObject({ ok: false, ...expected });
  });

  it('reads an AR written with its own delimiters, its reason in ERR-3', async () => {
    const own = (id: string) =>
      `MSH#^~\\&#SPECIALIST#OFFICE#FRONTDESK#CLINIC#20260101120000##ACK#A-${id}#P#2.5.1\r` +
      `MSA#AR#${id}\rERR###101^Required field missing^HL70357#E\r`;
    const l = await listen(own);
    const result = await client(l.port).send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: false, kind: 'rejected', code: 'AR', text: 'Required field missing' });
  });

  it('gives up after ackTimeoutMs with timeout, drops that connection, and sends the next on a fresh one', async () => {
    const l = await listen((id) => (id === 'M1' ? undefined : ack(id)));
    const c = client(l.port, { ackTimeoutMs: 300 });
    const first = await c.send(referral('M1'), 'M1');
    expect(first).toMatchObject({ ok: false, kind: 'timeout' });
    expect(first.ms).toBeGreaterThanOrEqual(290);
    expect(first.ms).toBeLessThan(1500);
    await vi.waitFor(() => expect(l.closed).toBe(1)); // the client, not the listener, ended it
    const second = await c.send(referral('M2'), 'M2');
    expect(second).toMatchObject({ ok: true, code: 'AA' });
    expect(l.connections).toBe(2);
  });

  it('reports an ACK naming another control id as bad-ack and does not reuse that connection', async () => {
    const l = await listen((id) => ack(id === 'M1' ? 'M0' : id));
    const c = client(l.port);
    const result = await c.send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: false, kind: 'bad-ack' });
    expect(result.ok ? '' : result.text).toContain('"M0"');
    expect(await c.send(referral('M2'), 'M2')).toMatchObject({ ok: true, code: 'AA' });
    expect(l.connections).toBe(2);
  });

  it('reports closed when the listener hangs up before answering, and reconnects for the next message', async () => {
    const l = await listen((id) => (id === 'M1' ? 'hang up' : ack(id)));
    const c = client(l.port);
    expect(await c.send(referral('M1'), 'M1')).toMatchObject({ ok: false, kind: 'closed' });
    expect(await c.send(referral('M2'), 'M2')).toMatchObject({ ok: true, code: 'AA' });
    expect(l.connections).toBe(2);
  });

  it('reports unreachable when nothing listens on the port', async () => {
    const l = await listen(() => undefined);
    await new Promise((resolve) => servers.pop()?.close(resolve)); // the port is now free, and refuses
    const result = await client(l.port, { connectTimeoutMs: 2000 }).send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(result.ok ? '' : result.text).toContain('ECONNREFUSED');
  });

  it('sends a second concurrent message only after the first was answered', async () => {
    const l = await listen((id) => new Promise((resolve) => setTimeout(() => resolve(ack(id)), 100)));
    const c = client(l.port);
    const results = await Promise.all([c.send(referral('M1'), 'M1'), c.send(referral('M2'), 'M2')]);
    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(l.events).toEqual(['received M1', 'answered M1', 'received M2', 'answered M2']);
  });

  it('keeps one connection open for five messages', async () => {
    const l = await listen((id) => ack(id));
    const c = client(l.port);
    for (const id of ['M1', 'M2', 'M3', 'M4', 'M5']) expect(await c.send(referral(id), id)).toMatchObject({ ok: true });
    expect(l.connections).toBe(1);
    expect(l.events.filter((e) => e.startsWith('received'))).toHaveLength(5);
  });

  it('refuses to send once closed', async () => {
    const l = await listen((id) => ack(id));
    const c = client(l.port);
    await c.close();
    expect(await c.send(referral('M1'), 'M1')).toMatchObject({ ok: false, kind: 'closed' });
    expect(l.connections).toBe(0);
  });
});

describe('MllpClient over TLS (mllps://)', () => {
  let certs: Certificates;
  let tls: TlsOptions;
  beforeAll(() => {
    certs = makeCertificates();
    tls = { ...certs.server, ca: [certs.ca], requestCert: true, rejectUnauthorized: true };
  });

  it('sends with a client certificate and reads the AA', async () => {
    const l = await listen((id) => ack(id), tls);
    const result = await client(l.port, {}, { ca: certs.ca, ...certs.client }).send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: true, code: 'AA', ack: ack('M1') });
    expect(l.peers).toEqual(['client.example.org']);
  });

  it('reports unreachable when the listener certificate is not from the configured CA', async () => {
    const l = await listen((id) => ack(id), tls);
    const result = await client(l.port, {}, { ca: certs.stranger.cert, ...certs.client }).send(referral('M1'), 'M1');
    expect(result).toMatchObject({ ok: false, kind: 'unreachable' });
    expect(l.events).toEqual([]);
  });
});
