/**
 * @module workflows/plan-match — the first pass of applying translated messages (./apply-plan.ts): every entry of
 * every plan finds its stored twin by its match (under the repository's advisory lock after a miss, so two
 * transactions about the same patient cannot both create one) or gets a fresh id.
 *
 * Entries refer to each other by placeholder, and a match may name an earlier entry, so matching goes in waves:
 * the entries whose matches name no unresolved entry are looked up together, the misses locked together
 * (store/match.ts lockAndMatchMany). Several plans applied in one transaction share each wave's statements, so a
 * batch of messages costs the statements of one.
 */
import { randomUUID } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { Repository } from '../store/repository.ts';
import { lockKeys } from '../store/match.ts';
import { parseConditional } from '../store/preconditions.ts';
import { contentError } from '../translate/hl7v2/datatypes.ts';
import type { Plan, PlanEntry } from '../translate/hl7v2/plan.ts';

export type Target = { type: string; id: string; existing: boolean };

type Ask = { entry: PlanEntry; query: string };

/** One plan's entries as they are resolved: each entry's target, and what the plan creates after a miss. */
export class Resolution {
  readonly plan: Plan;
  private readonly ids = new Map<string, Target>();
  /**
   * The advisory-lock keys of the matches that found nothing: the resources this plan will create. Two plans of
   * one transaction holding the same key would both create (a transaction's locks do not exclude each other).
   */
  readonly creating: string[] = [];
  private pending: PlanEntry[];

  constructor(plan: Plan) {
    this.plan = plan;
    this.pending = plan.entries;
  }

  get done(): boolean {
    return this.pending.length === 0;
  }

  /** The resolved target of the entry with this key (every entry has one once {@link matchPlans} returns). */
  target(key: string): Target {
    return this.ids.get(key) as Target;
  }

  /** `text` with the placeholders of resolved entries replaced by `Type/id`. */
  resolve(text: string): string {
    let out = text;
    for (const e of this.plan.entries) {
      const target = this.ids.get(e.key);
      if (target) out = out.replaceAll(e.fullUrl, `${target.type}/${target.id}`);
    }
    return out;
  }

  /** The next wave: the pending entries whose matches name no pending entry (a cycle cannot happen; never stall). */
  wave(): PlanEntry[] {
    const waiting = (e: PlanEntry) => this.pending.some((o) => o !== e && e.match.includes(o.fullUrl));
    const wave = this.pending.filter((e) => !waiting(e));
    return wave.length > 0 ? wave : [this.pending[0] as PlanEntry];
  }

  /**
   * What of a wave is looked up. A match that requires a reference to a resource this message creates
   * (`patient=<new Patient>`) cannot find anything: the new id is unknown outside this transaction. It is not
   * looked up, and needs no lock.
   */
  asks(wave: PlanEntry[]): Ask[] {
    const fresh = (v: string) =>
      this.plan.entries.some((o) => o.fullUrl === v && this.ids.get(o.key)?.existing === false);
    const missesSurely = (e: PlanEntry) => e.match.split('&').some((part) => fresh(part.slice(part.indexOf('=') + 1)));
    return wave.filter((e) => !missesSurely(e)).map((entry) => ({ entry, query: this.resolve(entry.match) }));
  }

  /** The wave's lookups answered (`hits` by entry; absent: not looked up): each entry gets its target. */
  settle(wave: PlanEntry[], asked: Ask[], hits: Map<PlanEntry, string[]>): void {
    for (const e of wave) {
      const type = e.resource.resourceType;
      const found = hits.get(e) ?? [];
      if (found.length > 1) {
        throw contentError(
          `More than one ${type} matches the ${e.source} identifiers: cannot tell which to update`,
          e.source,
          '205'
        );
      }
      if (!found[0] && e.mode === 'update-existing')
        throw contentError(`No active ${type} matches ${e.source}`, e.source, '204');
      const ask = asked.find((a) => a.entry === e);
      if (!found[0] && ask) this.creating.push(...lockKeys(parseConditional(type, ask.query, `${e.source} match`)));
      this.ids.set(
        e.key,
        found[0] ? { type, id: found[0], existing: true } : { type, id: randomUUID(), existing: false }
      );
    }
    this.pending = this.pending.filter((e) => !wave.includes(e));
  }
}

/**
 * Resolves every entry of every plan, in `tx`: one lookup (and one lock-and-look-again) per wave for all plans.
 * The content of the resources found by identifier goes in `contents` (by `Type/id`), read with the match.
 */
export async function matchPlans(
  tx: Repository,
  plans: Plan[],
  contents: Map<string, Resource> = new Map()
): Promise<Resolution[]> {
  const all = plans.map((p) => new Resolution(p));
  for (let open = all; open.length > 0; open = all.filter((r) => !r.done)) {
    const rounds = open.map((r) => {
      const wave = r.wave();
      return { r, wave, asked: r.asks(wave) };
    });
    const asked = rounds.flatMap((x) => x.asked);
    const where = (a: Ask) => ({
      type: a.entry.resource.resourceType,
      query: a.query,
      where: `${a.entry.source} match`,
    });
    const ids = asked.length > 0 ? await tx.matchManyForWrite(asked.map(where), contents) : [];
    const hits = new Map(asked.map((a, i) => [a.entry, ids[i] as string[]]));
    for (const { r, wave, asked: own } of rounds) r.settle(wave, own, hits);
  }
  return all;
}
