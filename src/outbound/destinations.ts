/**
 * @module outbound/destinations — where an outbox row goes: its `destination` names an Endpoint resource
 * (`Endpoint/<id>`) whose `address` is `mllp://host:port` or `mllps://host:port`; one MLLP client per destination,
 * kept open between messages (partners expect a long-lived connection) and made again when the address changes.
 *
 * The Endpoint is read for every message, so an address corrected over the FHIR API is used by the next attempt;
 * an Endpoint that is missing or holds no MLLP address is "unreachable" (retried, then a dead letter), never a
 * crash. TLS material for `mllps://` comes from the partners file (`tlsFor`), never from the resource.
 */
import type { Endpoint } from '@medplum/fhirtypes';
import type { Logger } from '../log.ts';
import type { Claimed } from '../store/outbox.ts';
import { MllpClient, type AckResult, type MllpDestination } from './mllp-client.ts';

export const MLLP_CONNECTION = { system: 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type', code: 'hl7v2-mllp' };

export type DestinationOptions = {
  readEndpoint: (id: string) => Promise<Endpoint | undefined>;
  tlsFor?: (endpoint: Endpoint) => MllpDestination['tls'];
  log: Logger;
  ackTimeoutMs?: number;
};

export class Destinations {
  private readonly o: DestinationOptions;
  private readonly clients = new Map<string, { address: string; client: MllpClient }>();

  constructor(options: DestinationOptions) {
    this.o = options;
  }

  /** Sends an outbox row to its destination; every problem is an AckResult, never a throw. */
  readonly deliver = async (row: Claimed): Promise<AckResult> => {
    const started = performance.now();
    const unreachable = (text: string): AckResult => ({ ok: false, kind: 'unreachable', text, ms: performance.now() - started });
    const [type, id] = row.destination.split('/');
    if (type !== 'Endpoint' || !id) return unreachable(`${row.destination} is not an Endpoint`);
    const endpoint = await this.o.readEndpoint(id);
    const parsed = endpoint ? parseAddress(endpoint.address) : undefined;
    const mllp = endpoint?.connectionType?.code === MLLP_CONNECTION.code;
    if (!endpoint || !mllp || endpoint.status === 'off' || !parsed) {
      return unreachable(`${row.destination} is not an active hl7v2-mllp Endpoint with an mllp:// address`);
    }
    const key = row.destination;
    let entry = this.clients.get(key);
    if (!entry || entry.address !== endpoint.address) {
      await entry?.client.close();
      const tls = parsed.tls ? (this.o.tlsFor?.(endpoint) ?? {}) : undefined;
      const client = new MllpClient(
        { host: parsed.host, port: parsed.port, ...(tls ? { tls } : {}) },
        { log: this.o.log, ...(this.o.ackTimeoutMs ? { ackTimeoutMs: this.o.ackTimeoutMs } : {}) }
      );
      this.clients.set(key, (entry = { address: endpoint.address, client }));
    }
    return entry.client.send(row.raw, row.controlId);
  };

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((e) => e.client.close()));
    this.clients.clear();
  }
}

/** `mllp://host:port` / `mllps://host:port` (IPv6 hosts in brackets). */
export function parseAddress(address: string | undefined): { host: string; port: number; tls: boolean } | undefined {
  const m = /^(mllps?):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/.exec(address ?? '');
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: (m[2] as string).replace(/^\[|\]$/g, ''), port, tls: m[1] === 'mllps' };
}
