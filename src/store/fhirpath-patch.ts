/**
 * @module store/fhirpath-patch — FHIRPath Patch (R4 fhirpatch.html) for top-level elements, turned into the JSON
 * Patch operations the repository applies, against the stored resource it patches.
 *
 * What `frontdesk translate` Bundles use and most clients need: `add` (path = the resource type, `name`, `value`;
 * appended to a list element, set on a single one), `insert` at an index, `replace` and `delete` of
 * `Type.element`, with `value[x]` or, for backbone elements, `part`s. Deeper FHIRPath expressions are refused
 * with a clear error rather than half-applied.
 */
import { applyPatch, getDataType, type Operation } from '@medplum/core';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';
import { invalid } from '../outcome.ts';
import { loadDefinitions } from '../validate/definitions.ts';

export function isFhirPathPatch(body: unknown): body is Parameters {
  return !!body && typeof body === 'object' && (body as Resource).resourceType === 'Parameters';
}

export function fhirPathPatchToJsonPatch(current: Resource, patch: Parameters): Operation[] {
  loadDefinitions();
  const type = current.resourceType;
  const elements = getDataType(type).elements;
  const doc = current as unknown as Record<string, unknown>;
  const ops: Operation[] = [];
  if (patch.parameter !== undefined && !Array.isArray(patch.parameter)) invalid('Parameters.parameter must be an array', 'Parameters.parameter');
  (patch.parameter ?? []).forEach((p, i) => {
    if (typeof p !== 'object' || p === null) invalid(`FHIRPath Patch parameter ${i} is not an object`, `Parameters.parameter[${i}]`);
    if (p.part !== undefined && !Array.isArray(p.part)) invalid('part must be an array', `Parameters.parameter[${i}].part`);
    if (p.name !== 'operation') invalid(`FHIRPath Patch parameter ${i} is not an "operation"`, `Parameters.parameter[${i}]`);
    const part = (n: string) => p.part?.find((x) => x.name === n);
    const kind = part('type')?.valueCode;
    const path = part('path')?.valueString ?? '';
    const where = `Parameters.parameter[${i}]`;
    const target = path === type ? part('name')?.valueString : path.startsWith(`${type}.`) ? path.slice(type.length + 1) : undefined;
    if (!target || !/^[a-zA-Z][a-zA-Z0-9]*$/.test(target)) invalid(`FHIRPath Patch: only "${type}" and "${type}.element" paths are supported (got "${path}")`, where);
    const el = elements[target];
    if (!el) invalid(`FHIRPath Patch: ${type} has no element "${target}"`, where);
    const many = el.max > 1 || el.max === Number.POSITIVE_INFINITY;
    const value = () => {
      const v = part('value');
      if (!v) invalid('FHIRPath Patch: the operation needs a value', where);
      return valueOf(v, el.type[0]?.code ?? 'string');
    };
    const exists = doc[target] !== undefined;
    switch (kind) {
      case 'add':
        if (many) ops.push(exists ? { op: 'add', path: `/${target}/-`, value: value() } : { op: 'add', path: `/${target}`, value: [value()] });
        else ops.push({ op: 'add', path: `/${target}`, value: value() });
        break;
      case 'insert': {
        const index = part('index')?.valueInteger ?? 0;
        ops.push(exists ? { op: 'add', path: `/${target}/${index}`, value: value() } : { op: 'add', path: `/${target}`, value: [value()] });
        break;
      }
      case 'replace':
        if (!exists) invalid(`FHIRPath Patch: nothing to replace at ${path}`, where);
        ops.push({ op: 'replace', path: `/${target}`, value: many ? [value()] : value() });
        break;
      case 'delete':
        if (exists) ops.push({ op: 'remove', path: `/${target}` });
        break;
      default:
        invalid(`FHIRPath Patch: operation type "${kind ?? ''}" is not supported (add, insert, replace, delete)`, where);
    }
  });
  return ops;
}

/** `value[x]`, or the parts of a backbone element as an object (a repeated part becomes a list). */
function valueOf(p: ParametersParameter, code: string): unknown {
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  if (key) return (p as unknown as Record<string, unknown>)[key];
  const out: Record<string, unknown> = {};
  const backbone = /^[A-Z]/.test(code) ? getDataType(code) : undefined;
  for (const child of p.part ?? []) {
    const el = backbone?.elements[child.name];
    const v = valueOf(child, el?.type[0]?.code ?? 'string');
    const many = !!el && (el.max > 1 || el.max === Number.POSITIVE_INFINITY);
    if (many) out[child.name] = [...((out[child.name] as unknown[]) ?? []), v];
    else out[child.name] = v;
  }
  return out;
}

/**
 * Applies JSON Patch operations to `doc` in place and says what failed: what applyPatch reports, and what it throws
 * on (a pointer into a value that is no container) as one more problem rather than an uncaught error.
 */
export function patchProblems(doc: Resource, ops: Operation[]): string[] {
  try {
    return applyPatch(doc, ops).flatMap((e) => (e ? [e.message] : []));
  } catch (err) {
    return [(err as Error).message];
  }
}
