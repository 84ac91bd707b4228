#!/usr/bin/env node
// `npx frontdesk <command>`: the TypeScript CLI, once the Node.js version is known to run it (scripts/node-version.js).
import { tooOld } from '../scripts/node-version.js';

const line = tooOld(process.versions.node);
if (line) {
  process.stderr.write(line + '\n');
  process.exit(1);
}
await import('../src/cli.ts');
