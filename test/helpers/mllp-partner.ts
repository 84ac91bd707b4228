/**
 * A specialist office's MLLP listener for outbound tests: real sockets, framed with the gateway's own framer,
 * answering each message with an ACK it builds from the message's MSH (AA unless told otherwise), or not at all.
 * It records what it received, in order, and can be closed and opened again on the same port (a partner down).
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Hl7Message } from '@medplum/core';
import { frame, MllpFramer } from '../../src/inbound/mllp/framer.ts';

export type PartnerAnswer = 'AA' | 'AE' | 'AR' | 'none';

export type MllpPartner = {
  port: number;
  /** Control ids (MSH-10) in the order received, repeats included. */
  received: string[];
  messages: string[];
  /** Messages @medplum/core's Hl7Message could not read, or in which it found no MSH-10. */
  unreadable: string[];
  answer: (controlId: string) => PartnerAnswer;
  /** The most messages it ever held unanswered at once, over all connections (the gateway must keep it at 1). */
  maxOutstanding: number;
  up(): Promise<void>;
  down(): Promise<void>;
};

/** `tls`: serve MLLP over TLS, requiring a client certificate signed by `ca`. */
export async function startMllpPartner(
  answer: (controlId: string) => PartnerAnswer = () => 'AA',
  delayMs = 0,
  tls?: { cert: string; key: string; ca: string }
): Promise<MllpPartner> {
  const sockets = new Set<Socket>();
  let outstanding = 0;
  let server: Server | undefined;
  const partner: MllpPartner = {
    port: 0,
    received: [],
    messages: [],
    unreadable: [],
    answer,
    maxOutstanding: 0,
    up: () =>
      new Promise<void>((resolve, reject) => {
        const serve = (socket: Socket) => {
          sockets.add(socket);
          socket.on('close', () => sockets.delete(socket));
          socket.on('error', () => undefined);
          const framer = new MllpFramer(1 << 22);
          socket.on('data', (chunk) => {
            for (const e of framer.push(chunk)) {
              if (!('frame' in e)) continue;
              const text = e.frame.toString('utf8');
              // Every message the gateway sends is read by an independent parser, in its own delimiters.
              const header = independentRead(text);
              if (!header) partner.unreadable.push(text.slice(0, 60));
              const msh = text.split('\r')[0]?.split(text.charAt(3)) ?? [];
              const control = header?.control ?? msh[9] ?? '';
              partner.received.push(control);
              partner.messages.push(text);
              const code = partner.answer(control);
              if (code === 'none') continue;
              partner.maxOutstanding = Math.max(partner.maxOutstanding, ++outstanding);
              const ack = `MSH|^~\\&|SPECIALIST|OFFICE|${msh[2] ?? ''}|${msh[3] ?? ''}|20261204120000||ACK|A${control}|P|2.5.1\r` +
                `MSA|${code}|${control}${code === 'AA' ? '' : '|Patient not known here'}\r`;
              setTimeout(() => {
                outstanding--;
                socket.write(frame(Buffer.from(ack)));
              }, delayMs);
            }
          });
        };
        server = tls
          ? createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true }, serve)
          : createServer(serve);
        server.once('error', reject);
        server.listen(partner.port, '127.0.0.1', () => {
          const a = server?.address();
          if (a && typeof a === 'object') partner.port = a.port;
          resolve();
        });
      }),
    down: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      server = undefined;
    },
  };
  await partner.up();
  return partner;
}

/** MSH-10 as @medplum/core's Hl7Message reads it; undefined when it cannot read the message. */
function independentRead(text: string): { control: string } | undefined {
  try {
    const control = Hl7Message.parse(text.replace(/\r+$/, '')).getSegment('MSH')?.getField(10)?.toString();
    return control ? { control } : undefined;
  } catch {
    return undefined;
  }
}
