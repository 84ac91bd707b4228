// Plain JavaScript on purpose: it must run on the old Node.js it refuses. `npm start`, `npm test` and
// `npx frontdesk` run it first; Node >= 22.18 runs the TypeScript sources directly (type stripping), and older
// versions would fail on the first `.ts` import with an error that does not say why.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const NEEDED = [22, 18];

/** The one line an older Node.js gets, or undefined when this one will do. */
export function tooOld(version) {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major > NEEDED[0] || (major === NEEDED[0] && minor >= NEEDED[1])) return undefined;
  return (
    `Frontdesk needs Node.js ${NEEDED.join('.')} or newer (this is v${version.replace(/^v/, '')}): ` +
    'install Node.js 24 LTS from https://nodejs.org, or run `npm install --prefix .node node@24` and put ' +
    '.node/node_modules/.bin first on PATH'
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const line = tooOld(process.versions.node);
  if (line) {
    process.stderr.write(line + '\n');
    process.exit(1);
  }
}
