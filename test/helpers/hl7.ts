/**
 * Small helpers for tests that speak HL7 v2 by hand: build a segment, set a field, post to `POST /hl7v2`, and a
 * raw MLLP client that writes exactly the bytes a test gives it and collects the frames that come back.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { frame, MllpFramer } from '../../src/inbound/mllp/framer.ts';
import { getToken, type TestGateway } from './gateway.ts';

/** A segment from its fields by number (`{ 3: 'x' }` is field 3); the fields not given are empty. */
export function seg(name: string, fields: Record<number, string>): string {
  const max = Math.max(...Object.keys(fields).map(Number));
  return [name, ...Array.from({ length: max }, (_, i) => fields[i + 1] ?? '')].join('|');
}

/** Sets field `n` of one segment (MSH counted as HL7 does: MSH-3 is the third field). */
export function setField(segment: string, n: number, value: string): string {
  const parts = segment.split('|');
  const i = segment.startsWith('MSH|') ? n - 1 : n;
  while (parts.length <= i) parts.push('');
  parts[i] = value;
  return parts.join('|');
}

/** An HL7 v2 message posted to the gateway's `POST /hl7v2` with a token: the ACK as text and as segments. */
export async function postHl7(
  g: TestGateway, message: string
): Promise<{ status: number; segments: string[]; text: string }> {
  const token = await getToken(g);
  const res = await fetch(`${new URL(g.fhirUrl).origin}/hl7v2`, {
    method: 'POST', body: message.replace(/\n/g, '\r'), headers: { authorization: `Bearer ${token}` },
  });
  const text = await res.text();
  return { status: res.status, segments: text.split('\r').filter(Boolean), text };
}

export type MllpTestClient = {
  /** The socket itself, for what a test does to the connection (pause, resume, writableLength, destroyed). */
  socket: Socket;
  /** Frames received and not yet taken by `next`/`send`, in order. */
  frames: string[];
  /** Settles when the connection closes, with how long it was open (ms). */
  closed: Promise<number>;
  /** Frames each message and writes them in one chunk, so several arrive pipelined. */
  write(...messages: (string | Buffer)[]): void;
  /** Writes bytes as given, unframed: for split frames, junk and frames built by hand. */
  sendBytes(bytes: Buffer): void;
  /** Takes up to `n` frames, waiting for them until `timeoutMs` (default 20 s) or until the connection closes. */
  next(n?: number, timeoutMs?: number): Promise<string[]>;
  /** Sends one message and takes the next frame: its ACK, or '' when none came in time. */
  send(message: string | Buffer, timeoutMs?: number): Promise<string>;
  /** Ends the connection (FIN); `closed` says when the server has closed its side too. */
  close(): void;
};

export type MllpConnectOptions = {
  host?: string;
  /** MLLP over TLS: certificate options for `tls.connect` (host and port are filled in). */
  tls?: ConnectionOptions;
  /** How frames are read into text: ACKs to Latin-1 messages are Latin-1. */
  encoding?: BufferEncoding;
};

/**
 * Opens a raw MLLP connection. Resolves once connected; over TLS also once closed, since a refused handshake is
 * something tests check (TLS 1.3 may only refuse a client certificate after the client thinks it is connected).
 * Socket errors are swallowed: a test sees them as a closed connection and missing frames.
 */
export async function connectMllp(port: number, o: MllpConnectOptions = {}): Promise<MllpTestClient> {
  const host = o.host ?? '127.0.0.1';
  const socket: Socket = o.tls ? tlsConnect({ host, port, ...o.tls }) : tcpConnect(port, host);
  const opened = Date.now();
  const framer = new MllpFramer(1 << 22);
  const frames: string[] = [];
  const waiting = new Set<() => void>();
  const wake = () => waiting.forEach((w) => w());
  let isClosed = false;
  socket.on('data', (chunk: Buffer) => {
    for (const e of framer.push(chunk)) if ('frame' in e) frames.push(e.frame.toString(o.encoding ?? 'utf8'));
    wake();
  });
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve(Date.now() - opened);
      wake();
    })
  );
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once(o.tls ? 'secureConnect' : 'connect', () => resolve());
    if (o.tls) socket.once('close', () => resolve());
    else socket.once('error', reject);
  });

  // Generous: it bounds only a failing test, and a gateway's first message can take seconds (cold caches).
  const next = async (n = 1, timeoutMs = 20_000): Promise<string[]> => {
    const end = Date.now() + timeoutMs;
    while (frames.length < n && !isClosed && Date.now() < end) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiting.delete(done);
          resolve();
        };
        const timer = setTimeout(done, end - Date.now());
        waiting.add(done);
      });
    }
    return frames.splice(0, n);
  };
  return {
    socket,
    frames,
    closed,
    write: (...messages) => void socket.write(Buffer.concat(messages.map((m) => frame(m)))),
    sendBytes: (bytes) => void socket.write(bytes),
    next,
    send: async (message, timeoutMs) => {
      socket.write(frame(message));
      return (await next(1, timeoutMs))[0] ?? '';
    },
    close: () => void socket.end(),
  };
}
