/**
 * @module access/scopes — SMART on FHIR scopes (v2 `system/Patient.rs`, v1 `system/*.read`) and the question
 * every door asks: may this client do this interaction on this resource type?
 *
 * SMART App Launch 2.0 "Scopes and Launch Context": v2 permissions are the letters c r u d s; v1 `read` means
 * r+s and `write` c+u+d; `*` as a permission (v1) means all. Besides FHIR types, the non-FHIR doors use their
 * own resource names in the same grammar: `system/hl7v2.c` (send HL7 v2 over HTTP), `system/x12.c`,
 * `system/Message.rs` (read the message log) and `system/Message.u` (reprocess).
 */
export const PERMISSIONS = ['c', 'r', 'u', 'd', 's'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export type Grant = { context: 'system' | 'user' | 'patient'; resource: string; permissions: ReadonlySet<Permission> };

const SCOPE = /^(system|user|patient)\/([A-Za-z0-9]+|\*)\.(\*|read|write|c?r?u?d?s?)(\?.*)?$/;

/** Parses a space-separated scope string; scopes that are not resource scopes (openid, launch, …) are skipped. */
export function parseScopes(scope: string): Grant[] {
  const grants: Grant[] = [];
  for (const s of scope.split(/\s+/).filter(Boolean)) {
    const m = SCOPE.exec(s);
    if (!m || m[3] === '') continue;
    const [, context, resource, perm] = m as unknown as [string, Grant['context'], string, string];
    const permissions = new Set<Permission>(
      perm === '*' ? PERMISSIONS : perm === 'read' ? ['r', 's'] : perm === 'write' ? ['c', 'u', 'd'] : (perm.split('') as Permission[])
    );
    grants.push({ context, resource, permissions });
  }
  return grants;
}

/** A scope string is well formed when every part is a resource scope this server understands. */
export function invalidScopes(scope: string): string[] {
  return scope.split(/\s+/).filter((s) => s && (!SCOPE.exec(s) || s.endsWith('.')));
}

/** Backend services act in the `system` context only (SMART Backend Services). */
export function allows(grants: readonly Grant[], resource: string, permission: Permission): boolean {
  return grants.some(
    (g) => g.context === 'system' && (g.resource === '*' || g.resource === resource) && g.permissions.has(permission)
  );
}

/** Narrows requested scopes to what a client was registered with (RFC 6749 3.3): each kept scope must be covered. */
export function narrow(requested: string, registered: string): string {
  const have = parseScopes(registered);
  return requested
    .split(/\s+/)
    .filter(Boolean)
    .filter((s) => {
      const [g] = parseScopes(s);
      return g !== undefined && [...g.permissions].every((p) => allows(have, g.resource, p));
    })
    .join(' ');
}
