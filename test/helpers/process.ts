/**
 * A gateway started as users start it (`node src/main.ts`), for tests of whole processes: its output, and its
 * FHIR base once the start banner names it (the MLLP line follows the FHIR one).
 */
import { spawn, type ChildProcess } from 'node:child_process';

export type GatewayProcess = { child: ChildProcess; fhir: string; output: () => string; exited: Promise<number | null> };

export async function startGatewayProcess(env: NodeJS.ProcessEnv): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['src/main.ts'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const fhir = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no start banner:\n${out}`)), 60_000);
    child.stdout!.on('data', () => {
      const m = /FHIR R4 API: (\S+)/.exec(out);
      if (m && /MLLP/.test(out)) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`exited early:\n${out}`)));
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
  return { child, fhir, output: () => out, exited };
}
