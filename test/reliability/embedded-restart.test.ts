/**
 * The embedded PostgreSQL across crashes of the gateway process (`node src/main.ts`, as users run it, data in a
 * directory of its own): only the Node process killed, its server left running (as after an out-of-memory kill);
 * the whole process group killed and the gateway restarted at once, as a supervisor does; and a `postmaster.pid`
 * naming a live process that is not the cluster's server (a pid reused after a reboot). No DATABASE_URL: these
 * are the embedded server's cases, run once, in the embedded pass.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, FHIR_JSON } from '../helpers/gateway.ts';
import { startGatewayProcess, type GatewayProcess } from '../helpers/process.ts';
import { until } from '../helpers/wait.ts';

let dir: string;
const started: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'frontdesk-restart-'));
});
afterAll(async () => {
  for (const c of started) {
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const pid = await postmasterPid().catch(() => undefined);
  if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

async function gateway(): Promise<GatewayProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env, PORT: String(await freePort()), FRONTDESK_MLLP_PORT: String(await freePort()),
    FRONTDESK_AUTH: 'off', FRONTDESK_DATA_DIR: dir,
  };
  delete env.DATABASE_URL;
  const g = await startGatewayProcess(env, { ownGroup: true });
  started.push(g.child);
  return g;
}

const postmasterPid = async () => Number((await readFile(join(dir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[0]);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function createPatient(g: GatewayProcess, family: string): Promise<string> {
  const res = await fetch(`${g.fhir}/Patient`, {
    method: 'POST', headers: { 'content-type': FHIR_JSON },
    body: JSON.stringify({ resourceType: 'Patient', name: [{ family }] }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

const readStatus = async (g: GatewayProcess, id: string) => (await fetch(`${g.fhir}/Patient/${id}`)).status;

describe('the embedded PostgreSQL when the gateway dies', () => {
  it('restarts after only the Node process was killed, and a later stop leaves no PostgreSQL behind', async () => {
    const first = await gateway();
    const id = await createPatient(first, 'Orphan');
    const server = await postmasterPid();
    first.child.kill('SIGKILL'); // the Node process alone: its PostgreSQL keeps running
    await first.exited;
    expect(alive(server)).toBe(true);

    const second = await gateway();
    expect(await readStatus(second, id)).toBe(200);
    expect(alive(server)).toBe(false); // the orphan was stopped; the new gateway runs its own server
    const own = await postmasterPid();
    expect(own).not.toBe(server);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await until(() => !alive(own), 20_000);
  }, 120_000);

  it('starts at once after its whole process group was SIGKILLed, with what was committed', async () => {
    const first = await gateway();
    const id = await createPatient(first, 'Grouped');
    process.kill(-first.child.pid!, 'SIGKILL');
    await first.exited;
    const second = await gateway(); // no wait: the killed server may not have been reaped yet
    expect(await readStatus(second, id)).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);

  it('refuses to start, saying what to do, when postmaster.pid names a live process that is not its server', async () => {
    const other = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const file = join(dir, 'pg', 'postmaster.pid');
      await writeFile(file, `${other.pid}\n${join(dir, 'pg')}\n1700000000\n5999\n${join(dir, 'pg')}\n127.0.0.1\n`);
      const failed = gateway();
      await expect(failed).rejects.toThrow(/names process \d+, which is alive but is not this cluster's PostgreSQL/);
      await expect(failed).rejects.toThrow(/delete that file and start again/);
      await rm(file);
      const g = await gateway(); // once the file is gone, the start works
      g.child.kill('SIGTERM');
      expect(await g.exited).toBe(0);
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);
});
