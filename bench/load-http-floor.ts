/**
 * The HTTP floor of `npm run bench:load` (bench/load.ts): the gateway's own HTTP stack (hono on
 * @hono/node-server) answering FHIR create and read from memory — the JSON body parsed, an id given, the
 * resource serialised back with its Location — with no database, no token, no validation and no audit.
 *
 * What it costs per request on this machine (with the load client's share) is the least any design of this
 * stack pays before the database is asked anything; beside the pgbench floor of the same rows it bounds the
 * throughput two cores can reach (docs/benchmarks.md).
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Patient } from '@medplum/fhirtypes';

const FHIR_JSON = 'application/fhir+json';

export async function startHttpFloor(stored: Patient): Promise<{ port: number; close: () => Promise<void> }> {
  const app = new Hono();
  const meta = (id: string) => ({ versionId: '1', lastUpdated: new Date().toISOString(), id });
  app.post('/fhir/Patient', async (c) => {
    const body = (await c.req.json()) as Patient;
    const m = meta(randomUUID());
    const created = { ...body, id: m.id, meta: { versionId: m.versionId, lastUpdated: m.lastUpdated } };
    c.header('location', `${new URL(c.req.url).origin}/fhir/Patient/${m.id}/_history/1`);
    return c.body(JSON.stringify(created), 201, { 'content-type': FHIR_JSON });
  });
  app.get('/fhir/Patient/:id', (c) => {
    const m = meta(c.req.param('id'));
    const read = { ...stored, id: m.id, meta: { versionId: m.versionId, lastUpdated: m.lastUpdated } };
    return c.body(JSON.stringify(read), 200, { 'content-type': FHIR_JSON });
  });
  let server: ServerType | undefined;
  const port = await new Promise<number>((resolve) => {
    server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve(info.port));
  });
  return {
    port,
    close: () => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())),
  };
}
