/**
 * @module inbound/mllp/listener — the MLLP door: a TCP listener that frames HL7 v2 messages and answers each
 * with the acknowledgment its handler returns.
 *
 * Messages of one connection are processed strictly in order (a sender that pipelines gets its ACKs in the
 * order it sent); connections run concurrently. A connection that queues more than {@link QUEUE_HIGH} messages
 * is not read from until its queue drains, and the next message waits while the ACKs already written have not
 * left (a sender that never reads them): memory stays bounded whatever a sender pipelines.
 * Connections idle for `idleTimeoutMs` are closed, never while one of their messages is being processed (its
 * ACK would be lost). A frame larger than `maxFrameBytes` gets AR and the connection is closed; its first
 * {@link OVERSIZED_HEAD} bytes go to `oversized` (stored and audited), and nothing after it is processed.
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
import { peekHeader } from '../../translate/hl7v2/header.ts';
import { frame, MllpFramer } from './framer.ts';

/** Queued messages of one connection above which it is paused, and at or below which it is read again. */
export const QUEUE_HIGH = 64;
const QUEUE_LOW = 16;
/** How much of an oversized frame is kept (its header, and enough to tell what it was). */
export const OVERSIZED_HEAD = 64 * 1024;

/** The acknowledgments to send back, in order: usually one; none or two in enhanced acknowledgment mode. */
export type MllpHandler = (message: Buffer, peer: MllpPeer) => Promise<string[]>;

/**
 * Who is on the other end: the remote address and, over TLS with client certificates, the partner's id; and when
 * the frame was complete (before it waited in the connection's queue).
 */
export type MllpPeer = { address: string; partner?: string; receivedAt?: Date };

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
  /**
   * A frame over `maxFrameBytes`: its first bytes, its size so far and the AR to send (built here); returns the
   * acknowledgment to send instead (e.g. after storing it). Without it the AR is sent as built.
   */
  oversized?: (head: Buffer, bytes: number, peer: MllpPeer, ar: string) => Promise<string>;
};

export type MllpListener = { port: number; close: () => Promise<void> };

export async function startMllpListener(options: MllpOptions, handle: MllpHandler): Promise<MllpListener> {
  const { log } = options;
  const sockets = new Set<Socket>();
  const inFlight = new Set<Promise<void>>();
  /** Messages waiting for their connection's ACKs to drain; released at close. */
  const draining = new Set<() => void>();
  let stopping = false;
  const serve = (socket: Socket, partner?: string) => {
    sockets.add(socket);
    // Each ACK goes out at once: with Nagle on, pipelined ACKs waited for the peer's delayed TCP ACK (40 ms stalls).
    socket.setNoDelay(true);
    const address = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? ''}`;
    const peer: MllpPeer = partner ? { address, partner } : { address };
    const framer = new MllpFramer(options.maxFrameBytes, OVERSIZED_HEAD);
    let queue: Promise<void> = Promise.resolve();
    let queued = 0; // messages received and not yet answered
    let closing = false; // after an oversized frame: nothing more is read or processed
    let timedOutBusy = false; // the idle timer fired while a message was being processed
    // Idle means nothing is being processed either: the ACK of a slow message must not be cut off. A timeout while
    // busy is ignored, and the timer starts again once the queue is empty.
    socket.setTimeout(options.idleTimeoutMs);
    socket.on('timeout', () => {
      if (queued === 0) socket.end();
      else timedOutBusy = true;
    });
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', (err) => log.debug({ peer: address, code: (err as NodeJS.ErrnoException).code }, 'mllp socket error'));
    const enqueue = (job: () => Promise<void>) => {
      queued++;
      if (queued > QUEUE_HIGH) socket.pause();
      const work = queue.then(job).finally(() => {
        queued--;
        if (queued === 0 && timedOutBusy) {
          timedOutBusy = false;
          socket.setTimeout(options.idleTimeoutMs); // idle from now: the timeout while busy was ignored
        }
        if (queued <= QUEUE_LOW && socket.isPaused() && !closing) socket.resume();
      });
      queue = work;
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
    };
    socket.on('data', (chunk: Buffer) => {
      if (closing) return;
      for (const event of framer.push(chunk)) {
        const at: MllpPeer = { ...peer, receivedAt: new Date() };
        if ('error' in event) {
          log.warn({ peer: address, error: event.error, bytes: event.bytes }, 'mllp framing error');
          if (event.error === 'too-large') {
            closing = true;
            // What follows is read and dropped (closing without reading could reset the connection before the AR
            // arrives), for a few seconds at most.
            setTimeout(() => socket.destroy(), 5000).unref();
            const head = event.head ?? Buffer.alloc(0);
            const text = `Frame larger than ${options.maxFrameBytes} bytes`;
            const ar = buildAck(peekHeader(head), { code: 'AR', controlId: options.newControlId(), time: new Date(), text, error: { code: '100', text } });
            enqueue(async () => {
              const ack = options.oversized
                ? await options.oversized(head, event.bytes, at, ar).catch((err: unknown) => {
                    log.error({ peer: address, err: { name: (err as Error).name, code: (err as { code?: string }).code } }, 'mllp oversized frame not recorded');
                    return ar;
                  })
                : ar;
              socket.end(frame(ack));
            });
            break;
          }
          continue;
        }
        const message = event.frame;
        enqueue(async () => {
          let acks: string[];
          try {
            acks = await handle(message, at);
          } catch (err) {
            // The message could not even be recorded (database down): AR asks the sender to try again later,
            // echoing its MSH-10 so that it can tell which message to resend.
            log.error({ peer: address, err: { name: (err as Error).name, code: (err as { code?: string }).code } }, 'mllp message not processed');
            const text = 'The gateway could not record the message; please resend later';
            acks = [buildAck(peekHeader(message), { code: 'AR', controlId: options.newControlId(), time: new Date(), text, error: { code: '207', text } })];
          }
          for (const ack of acks) if (!socket.destroyed) socket.write(frame(ack));
          // A sender that does not read its ACKs holds up its next message, not the gateway's memory.
          if (socket.writableNeedDrain && !socket.destroyed && !stopping) {
            await new Promise<void>((resolve) => {
              const done = () => {
                draining.delete(done);
                resolve();
              };
              draining.add(done);
              socket.once('drain', done).once('close', done);
            });
          }
        });
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
      stopping = true;
      for (const release of [...draining]) release();
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
