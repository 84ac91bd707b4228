/**
 * @module inbound/mllp/listener — the MLLP door: a TCP listener that frames HL7 v2 messages and answers each
 * with the acknowledgment its handler returns.
 *
 * Messages of one connection are processed strictly in order (a sender that pipelines gets its ACKs in the
 * order it sent); connections run concurrently. Idle connections are closed after `idleTimeoutMs`; a frame
 * larger than `maxFrameBytes` gets AR and the connection is closed (its bytes could not be kept).
 *
 * With `tls` the same handling runs over `tls.createServer`. With a CA, a client certificate is required and
 * verified against it, and must belong to a partner (`partnerOf`): a valid certificate of no known partner is
 * refused before any message is read. The connection's partner travels with each of its messages.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Logger } from '../../log.ts';
import { buildAck } from '../../translate/hl7v2/ack.ts';
import { frame, MllpFramer } from './framer.ts';

/** The acknowledgments to send back, in order: usually one; none or two in enhanced acknowledgment mode. */
export type MllpHandler = (message: Buffer, peer: MllpPeer) => Promise<string[]>;

/** Who is on the other end: the remote address and, over TLS with client certificates, the partner's id. */
export type MllpPeer = { address: string; partner?: string };

export type MllpOptions = {
  host: string;
  port: number;
  maxFrameBytes: number;
  idleTimeoutMs: number;
  log: Logger;
  newControlId: () => string;
  tls?: { cert: string; key: string; ca?: string };
  /** The partner id a verified client certificate belongs to (undefined: unknown, refused). */
  partnerOf?: (cert: { fingerprint256?: string; subject?: Record<string, unknown> }) => string | undefined;
};

export type MllpListener = { port: number; close: () => Promise<void> };

export async function startMllpListener(options: MllpOptions, handle: MllpHandler): Promise<MllpListener> {
  const { log } = options;
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  const serve = (socket: Socket, partner?: string) => {
    sockets.add(socket);
    // Each ACK goes out at once: with Nagle on, pipelined ACKs waited for the peer's delayed TCP ACK (40 ms stalls).
    socket.setNoDelay(true);
    const address = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
    const peer: MllpPeer = partner ? { address, partner } : { address };
    const framer = new MllpFramer(options.maxFrameBytes);
    let queue: Promise<void> = Promise.resolve();
    socket.setTimeout(options.idleTimeoutMs, () => socket.end());
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => log.debug({ peer: address, code: (err as NodeJS.ErrnoException).code }, 'mllp socket error'));
    socket.on('data', (chunk: Buffer) => {
      for (const event of framer.push(chunk)) {
        if ('error' in event) {
          log.warn({ peer: address, error: event.error, bytes: event.bytes }, 'mllp framing error');
          if (event.error === 'too-large') {
            const text = `Frame larger than ${options.maxFrameBytes} bytes`;
            const ack = buildAck(undefined, { code: 'AR', controlId: options.newControlId(), time: new Date(), text, error: { code: '100', text } });
            queue = queue.then(() => void socket.end(frame(ack)));
          }
          continue;
        }
        const message = event.frame;
        const work = queue.then(async () => {
          let acks: string[];
          try {
            acks = await handle(message, peer);
          } catch (err) {
            // The message could not even be recorded (database down): AR asks the sender to try again later.
            log.error({ peer: address, err: { name: (err as Error).name, code: (err as { code?: string }).code } }, 'mllp message not processed');
            const text = 'The gateway could not record the message; please resend later';
            acks = [buildAck(undefined, { code: 'AR', controlId: options.newControlId(), time: new Date(), text, error: { code: '207', text } })];
          }
          for (const ack of acks) if (!socket.destroyed) socket.write(frame(ack));
        });
        queue = work;
        inFlight.add(work);
        void work.finally(() => inFlight.delete(work));
      }
    });
  };
  const server: Server = options.tls ? tlsServer(options, serve, sockets) : createServer((socket) => serve(socket));
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : options.port);
    });
  });
  return {
    port,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...inFlight]);
      for (const s of sockets) s.end();
      setTimeout(() => sockets.forEach((s) => s.destroy()), 1000).unref();
      await closed;
    },
  };
}

/** The TLS variant: a client certificate, when required, must be valid and belong to a known partner. */
function tlsServer(options: MllpOptions, serve: (socket: Socket, partner?: string) => void, sockets: Set<Socket>): Server {
  const t = options.tls as { cert: string; key: string; ca?: string };
  const server = createTlsServer(
    {
      cert: readFileSync(t.cert),
      key: readFileSync(t.key),
      ...(t.ca ? { ca: readFileSync(t.ca), requestCert: true, rejectUnauthorized: true } : {}),
      minVersion: 'TLSv1.2',
    },
    (socket: TLSSocket) => {
      if (!t.ca) return serve(socket);
      const cert = socket.getPeerCertificate();
      const partner = options.partnerOf?.(cert as { fingerprint256?: string; subject?: Record<string, unknown> });
      if (!partner) {
        options.log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, fingerprint256: cert.fingerprint256 }, 'mllp tls client certificate of no known partner: refused');
        socket.destroy();
        return;
      }
      serve(socket, partner);
    }
  );
  // A handshake that fails (no certificate, another CA) never reaches the handler: log it, keep no socket.
  server.on('tlsClientError', (err, socket) => {
    options.log.warn({ peer: `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`, code: (err as NodeJS.ErrnoException).code }, 'mllp tls handshake refused');
    sockets.delete(socket);
  });
  return server;
}
