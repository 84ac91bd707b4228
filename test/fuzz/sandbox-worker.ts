/**
 * @module test/fuzz/sandbox-worker — the worker side of ./sandbox.ts: runs one target on one input and posts its
 * verdict. Loaded by Node itself (type stripping), not by Vitest: everything it imports must be erasable TypeScript.
 */
import { parentPort } from 'node:worker_threads';
import { RESOURCE_TYPES } from '../../src/inbound/fhir/registry.ts';
import { warmSchemas } from '../../src/validate/schema.ts';
import { parseAll, translateOne } from './targets-hl7v2.ts';
import { framerRoundTrip, framerStream } from './targets-mllp.ts';
import { envelopeAndAck, tokenizeAll, translateAll } from './targets-x12.ts';
import { judge } from './verdict.ts';

const TARGETS: Record<string, (input: never) => unknown> = {
  'hl7v2.parse': parseAll,
  'hl7v2.translate': translateOne,
  'x12.tokenize': tokenizeAll,
  'x12.envelope': envelopeAndAck,
  'x12.translate': translateAll,
  'mllp.stream': framerStream,
  'mllp.roundtrip': framerRoundTrip,
};

parentPort?.on('message', (m: { id: number; target: string; input: unknown }) => {
  const fn = TARGETS[m.target];
  const verdict = fn ? judge(() => fn(m.input as never)) : judge(() => { throw new Error(`no target ${m.target}`); });
  // Results can be large or hold what structured clone refuses: only their shape travels back.
  if (verdict.kind === 'ok') verdict.value = typeof verdict.value === 'object' ? 'object' : verdict.value;
  parentPort?.postMessage({ id: m.id, verdict });
});
// Compiling the JSON schemas takes seconds once: paid before the time bound applies, as the gateway does at start.
warmSchemas(Object.keys(RESOURCE_TYPES));
parentPort?.postMessage({ ready: true });
