/**
 * @module translate/hl7v2/plan — what a translated HL7 v2 message asks of the store, as data: an ordered list of
 * resources, each with the search that finds its stored twin (business identifiers), the elements the sender
 * asked to delete (`""`) and how it meets what is stored.
 *
 * Translators are pure and build a plan; two consumers read it: the workflow that applies it inside one
 * database transaction with HL7 merge semantics (src/workflows/apply-plan.ts), and the renderer that turns it into
 * a FHIR transaction Bundle of conditional entries for any FHIR server (./bundle.ts, `frontdesk translate`).
 *
 * What a message says about each element is exact (`""` deletes, an empty field keeps, a value replaces): an entry
 * lists the parts of its resource the sender deleted (`remove`) and, where several fields feed one element, the
 * parts its valued fields set (`partial`), so that merging it over the stored twin touches only those (`Part`).
 *
 * Entries refer to each other through placeholders `urn:uuid:…` (the Bundle's fullUrls), in references and in
 * match queries alike; they are replaced by the stored `Type/id` as entries are applied, in order. The uuids are
 * derived from the message control id and the entry key, so a translation is reproducible (golden files).
 */
import { createHash } from 'node:crypto';
import type { Identifier, Resource } from '@medplum/fhirtypes';

/** A reference to another entry (or by display only): assignable to any `Reference<T>`. */
export type Ref = { reference?: string; display?: string };

export type PlanMode =
  /** Stored twin found → the message's values over the stored ones (`remove` applied, identifiers united); else created. */
  | 'upsert'
  /** Stored twin found → left as it is (e.g. a practitioner named in a visit); else created. */
  | 'ensure'
  /** The stored twin must exist (e.g. the patient an A40 merges away); AE 204 otherwise. */
  | 'update-existing';

export type PlanEntry = {
  key: string;
  fullUrl: string;
  resource: Resource;
  /** FHIR search (without the type) that identifies the stored twin; may hold other entries' placeholders. */
  match: string;
  mode: PlanMode;
  /** Parts (`Part`) the sender asked to delete (`""`). */
  remove: string[];
  /**
   * Parts of elements that several fields feed which this message sets (`telecom[use=work]`, `period.start`): only
   * these replace what is stored; the rest of the element is kept. An element set and not listed is set whole.
   */
  partial?: string[];
  /** Profiles (canonical URLs) the stored result must conform to. */
  profiles: string[];
  /** Where in the message this came from (ERR location for a content error), e.g. `PID`, `IN1[2]`. */
  source: string;
  /** Skipped when it finds the same stored resource as that entry (an A40 sent again: already merged). */
  distinctFrom?: string;
  /** Elements set only when the entry creates its resource (required ones a later message must not overwrite). */
  defaults?: Record<string, unknown>;
};

export type Plan = {
  /** Message type as `CODE^TRIGGER`. */
  event: string;
  controlId: string;
  entries: PlanEntry[];
  /** Segments (or repetitions) present in the message that were not mapped: reported, never silently dropped. */
  unmapped: string[];
};

export class PlanBuilder {
  readonly entries: PlanEntry[] = [];
  readonly unmapped: string[] = [];
  readonly event: string;
  readonly controlId: string;
  private readonly seed: string;

  constructor(event: string, controlId: string) {
    this.event = event;
    this.controlId = controlId;
    this.seed = `${event}|${controlId}`;
  }

  /** The placeholder of entry `key` (also its Bundle fullUrl). */
  placeholder(key: string): string {
    const h = createHash('sha256').update(`${this.seed}|${key}`).digest('hex');
    // Shaped as a version-4 style uuid so FHIR validators accept it; derived, not random.
    return `urn:uuid:${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${((parseInt(h[16] ?? '0', 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }

  ref(key: string, display?: string): Ref {
    return display ? { reference: this.placeholder(key), display } : { reference: this.placeholder(key) };
  }

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  /**
   * Adds an entry and returns the reference to it. An entry of the same type and match already in the plan
   * (the same practitioner twice, a subscriber who is also the next of kin) is the same resource: its reference
   * is returned and nothing is added.
   */
  add(
    key: string,
    resource: Resource,
    o: {
      match: string;
      mode?: PlanMode;
      remove?: string[];
      partial?: string[];
      profiles?: string[];
      source: string;
      distinctFrom?: string;
      defaults?: Record<string, unknown>;
    }
  ): Ref {
    const same = this.entries.find((e) => e.key === key || (e.resource.resourceType === resource.resourceType && e.match === o.match));
    if (same) return this.ref(same.key);
    const entry: PlanEntry = {
      key,
      fullUrl: this.placeholder(key),
      resource,
      match: o.match,
      mode: o.mode ?? 'upsert',
      remove: o.remove ?? [],
      profiles: o.profiles ?? [],
      source: o.source,
    };
    if (o.partial?.length) entry.partial = o.partial;
    if (o.distinctFrom) entry.distinctFrom = o.distinctFrom;
    if (o.defaults) entry.defaults = o.defaults;
    this.entries.push(entry);
    return this.ref(key);
  }

  build(): Plan {
    return { event: this.event, controlId: this.controlId, entries: this.entries, unmapped: [...new Set(this.unmapped)] };
  }
}

/**
 * `system|value` of an identifier for a search query: `\` and `,` escaped (search.html#escaping: a bare comma
 * would split `12,3` into two values, OR-ed, and `3` alone could match someone else), then URL-encoded.
 */
export function tokenOf(id: Pick<Identifier, 'system' | 'value'>): string {
  const escape = (v: string) => encodeURIComponent(v.replace(/[\\,]/g, (c) => `\\${c}`));
  return `${escape(id.system ?? '')}|${escape(id.value ?? '')}`;
}

/** `identifier=system|value` — the usual match of an entry; with several, any of them (`s1|v1,s2|v2`: search OR). */
export function byIdentifier(...ids: Pick<Identifier, 'system' | 'value'>[]): string {
  return `identifier=${[...new Set(ids.map(tokenOf))].join(',')}`;
}

/**
 * What one field feeds, as a string: a top-level element (`birthDate`), a member of one (`period.start`), or a
 * slice of an array element — its items whose value at a dotted path is (`=`) or is not (`!=`) a value
 * (`telecom[use=work]`, `telecom[use!=work]`, `relationship[coding.system=http://…/v2-0131]`).
 */
export type Part = { element: string; member?: string; slice?: { path: string; not: boolean; value: string } };

const PART = /^([A-Za-z][A-Za-z0-9]*)(?:\.([A-Za-z][A-Za-z0-9]*)|\[([A-Za-z][A-Za-z0-9.]*)(!?=)([^\]]*)\])?$/;

const parsed = new Map<string, Part>();

/** A part from its text (remembered: plans name the same few parts over and over). */
export function parsePart(text: string): Part {
  let p = parsed.get(text);
  if (!p) {
    p = partOf(text);
    parsed.set(text, p);
  }
  return p;
}

function partOf(text: string): Part {
  const m = PART.exec(text);
  if (!m) throw new Error(`Not a part of a resource (element, element.member or element[path=value]): "${text}"`);
  const [, element = '', member, path, op, value = ''] = m;
  if (member) return { element, member };
  if (path) return { element, slice: { path, not: op === '!=', value } };
  return { element };
}

/** Whether an item of an array element is in a slice: a value at the path equals (or, with `!=`, none does). */
export function inSlice(item: unknown, slice: NonNullable<Part['slice']>): boolean {
  const found = valuesAt(item, slice.path.split('.')).some((v) => v === slice.value);
  return slice.not ? !found : found;
}

/** The values at a dotted path, through arrays (`coding.system` of a CodeableConcept). */
function valuesAt(v: unknown, path: string[]): unknown[] {
  if (Array.isArray(v)) return v.flatMap((x) => valuesAt(x, path));
  if (path.length === 0) return [v];
  if (!v || typeof v !== 'object') return [];
  return valuesAt((v as Record<string, unknown>)[path[0] as string], path.slice(1));
}
