/**
 * @module store/repository — FHIR resources in PostgreSQL: create, read, vread, update, patch, delete, history,
 * search and their conditional forms (http.html), each write validated and versioned.
 *
 * Concurrency: an update locks the current row (`FOR UPDATE`), so two PUTs with the same `If-Match` serialise
 * and the second gets 412. Conditional writes that match nothing take a transaction-scoped advisory lock on their
 * normalised search, so ten concurrent `If-None-Exist` creates for one identifier make exactly one resource.
 *
 * Changes of the types the composition root's hook watches (`onChange`, ./changes.ts) are handed to it inside their
 * transaction, before the commit: what sends referrals and appointments to partner offices through the outbox.
 */
import { randomUUID } from 'node:crypto';
import { type Operation, type SearchRequest, type WithId } from '@medplum/core';
import type { Parameters, Resource } from '@medplum/fhirtypes';
import type { Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { conflict, gone, notFound, unprocessable } from './errors.ts';
import { fhirPathPatchToJsonPatch, patchProblems } from './fhirpath-patch.ts';
import { canonicalOrder } from './order.ts';
import { checkId, checkIfMatch, multipleMatches, parseConditional, refuseInCondition } from './preconditions.ts';
import { resolveConditionalReferences } from './conditional-references.ts';
import { readHistory, type HistoryEntry } from './history.ts';
import { lockAndMatch, lockAndMatchMany } from './match.ts';
import { search, type SearchOptions, type SearchResult } from './search.ts';
import { writeNewResources, writeVersion, type CreateCommit } from './write.ts';
import { batcherFor } from './create-batch.ts';
import { lockCurrent, readBatcherFor, readCurrent, type CurrentRow } from './read-batch.ts';
import { AUDIT_TYPE, auditHistory, readAuditEvent } from './audit-search.ts';
import { ChangeLog, type ChangeHook, type Origin } from './changes.ts';

export type RepositoryOptions = {
  /** Absolute FHIR base, to recognise absolute references to this server. */
  baseUrl: string;
  /** Throws an OperationOutcomeError when a resource about to be stored is invalid. */
  validate: (resource: Resource) => void;
  /** Given the changes of the types it watches, inside their transaction (./changes.ts). */
  onChange?: ChangeHook;
};

export type WriteResult<T extends Resource = Resource> = { resource: WithId<T>; created: boolean };
export type { HistoryEntry } from './history.ts';
export type { SearchResult } from './search.ts';

export class Repository {
  readonly sql: Sql;
  readonly options: RepositoryOptions;
  private readonly inTransaction: boolean;
  /** Who is writing, when a message is being applied (the change hook does not send it back there). */
  readonly origin: Origin | undefined;
  private readonly changes: ChangeLog | undefined;

  constructor(sql: Sql, options: RepositoryOptions, inTransaction = false, origin?: Origin, changes?: ChangeLog) {
    this.sql = sql;
    this.options = options;
    this.inTransaction = inTransaction;
    this.origin = origin;
    this.changes = changes;
  }

  /** The same repository writing on behalf of a message's sender. */
  from(origin: Origin | undefined): Repository {
    return new Repository(this.sql, this.options, this.inTransaction, origin, this.changes);
  }

  /** Runs `fn` once the current transaction has committed (at once outside a transaction). */
  afterCommit(fn: () => void): void {
    if (this.changes) this.changes.afterCommit(fn);
    else fn();
  }

  /**
   * Runs `fn` in one database transaction (joins the current one when already inside). Two transactions that
   * take the same advisory locks in opposite order deadlock; PostgreSQL aborts one (40P01), which is retried.
   */
  async transaction<T>(fn: (repo: Repository) => Promise<T>): Promise<T> {
    if (this.inTransaction) return fn(this);
    for (let attempt = 1; ; attempt++) {
      const log = new ChangeLog(this.options.onChange);
      try {
        const out = (await this.sql.begin(async (tx) => {
          const repo = new Repository(tx as unknown as Sql, this.options, true, this.origin, log);
          const result = await fn(repo);
          await log.drain(repo);
          return result;
        })) as T;
        log.committed();
        return out;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 4 || (code !== '40P01' && code !== '40001')) throw err;
      }
    }
  }

  async read<T extends Resource = Resource>(type: string, id: string): Promise<WithId<T>> {
    if (type === AUDIT_TYPE) return (await readAuditEvent(this.sql, id)) as unknown as WithId<T>;
    const sql = this.sql;
    const row = this.inTransaction ? await readCurrent(sql, type, id) : await readBatcherFor(sql).read(type, id);
    if (!row) throw notFound(`${type}/${id} is not known`);
    if (row.deleted || !row.content) throw gone(`${type}/${id} was deleted`);
    return canonicalOrder(row.content) as WithId<T>;
  }

  async vread<T extends Resource = Resource>(type: string, id: string, vid: string): Promise<WithId<T>> {
    if (!/^\d{1,18}$/.test(vid)) throw notFound(`${type}/${id} has no version ${vid}`);
    if (type === AUDIT_TYPE) return (await readAuditEvent(this.sql, id, vid)) as unknown as WithId<T>;
    const [row] = await this.sql<CurrentRow[]>`
      SELECT version_id, deleted, content, last_updated FROM resource_history
      WHERE resource_type = ${type} AND id = ${id} AND version_id = ${vid}`;
    if (!row) throw notFound(`${type}/${id} has no version ${vid}`);
    if (row.deleted || !row.content) throw gone(`${type}/${id} version ${vid} is a deletion`);
    return canonicalOrder(row.content) as WithId<T>;
  }

  /** create (http.html#create): the server assigns the id; `ifNoneExist` makes it conditional; `commit`: see CreateCommit. */
  async create<T extends Resource>(resource: T, ifNoneExist?: string, commit?: CreateCommit): Promise<WriteResult<T>> {
    if (ifNoneExist !== undefined) {
      const search = parseConditional(resource.resourceType, ifNoneExist, 'If-None-Exist');
      return this.transaction(async (repo) => {
        const ids = await repo.lockAndMatch(search);
        if (ids.length > 1) throw multipleMatches('If-None-Exist', ids.length);
        if (ids.length === 1) return { resource: await repo.read<T>(search.resourceType, ids[0] as string), created: false };
        return { resource: await repo.insert(resource, randomUUID()), created: true };
      });
    }
    return { resource: await this.insertWatched(resource, randomUUID(), commit), created: true };
  }

  /** Creates with an id chosen before the write (transaction entries whose id others already reference). */
  async createWithId<T extends Resource>(resource: T, id: string): Promise<WithId<T>> {
    return this.insertWatched(resource, id);
  }

  /** A create of a type the change hook watches gets a transaction; others share a commit (./create-batch.ts). */
  private insertWatched<T extends Resource>(resource: T, id: string, commit?: CreateCommit): Promise<WithId<T>> {
    if (this.inTransaction || !this.options.onChange?.types.has(resource.resourceType)) return this.insert(resource, id, commit);
    return this.transaction((repo) => repo.insert(resource, id));
  }

  /** Creates several resources, each under its chosen id, in one statement: a translated message's new ones. */
  async createManyWithIds(items: { resource: Resource; id: string }[]): Promise<WithId<Resource>[]> {
    if (!this.inTransaction) return this.transaction((repo) => repo.createManyWithIds(items));
    if (items.length === 1) return [await this.insert(items[0]!.resource, items[0]!.id)];
    const stored = await Promise.all(items.map((i) => this.prepare(i.resource, i.id, 1)));
    try {
      await writeNewResources(this.sql, stored.map((r) => ({ type: r.resourceType, id: r.id, lastUpdated: r.meta.lastUpdated, resource: r })));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`One of ${stored.map((r) => `${r.resourceType}/${r.id}`).join(', ')} already exists`);
      throw err;
    }
    for (const r of stored) this.changes?.record({ type: r.resourceType, id: r.id, after: r });
    return stored;
  }

  /** update (http.html#update), update-as-create when the id is new; `ifMatch` is a version id. */
  async update<T extends Resource>(resource: T, ifMatch?: string): Promise<WriteResult<T>> {
    const type = resource.resourceType;
    const id = resource.id;
    if (!id) invalid('Resource id is required for update', `${type}.id`);
    checkId(type, id);
    return this.transaction(async (repo) => {
      const cur = await lockCurrent(repo.sql, type, id);
      checkIfMatch(type, id, cur, ifMatch);
      const version = cur ? Number(cur.version_id) + 1 : 1;
      const stored = await repo.prepare(resource, id, version);
      await writeVersion(repo.sql, { type, id, version, lastUpdated: stored.meta.lastUpdated, resource: stored, isNew: !cur });
      repo.changes?.record({ type, id, before: cur?.content ?? undefined, after: stored });
      return { resource: stored as WithId<T>, created: !cur || cur.deleted };
    });
  }

  /** Conditional update (http.html#cond-update): match by search, then update, create, or refuse. */
  async conditionalUpdate<T extends Resource>(resource: T, query: string, ifMatch?: string): Promise<WriteResult<T>> {
    const search = parseConditional(resource.resourceType, query, 'conditional update');
    return this.transaction(async (repo) => {
      const ids = await repo.lockAndMatch(search);
      if (ids.length > 1) throw multipleMatches('conditional update', ids.length);
      const match = ids[0];
      if (match === undefined) {
        if (resource.id) return repo.update(resource, ifMatch);
        return { resource: await repo.insert(resource, randomUUID()), created: true };
      }
      if (resource.id && resource.id !== match) {
        invalid(`Resource id ${resource.id} does not match the resource found by the search (${match})`, `${resource.resourceType}.id`);
      }
      return repo.update({ ...resource, id: match }, ifMatch);
    });
  }

  /** delete (http.html#delete): a new version marking the deletion; deleting a deleted resource is a no-op. */
  async delete(type: string, id: string, ifMatch?: string): Promise<void> {
    await this.transaction(async (repo) => {
      const cur = await lockCurrent(repo.sql, type, id);
      if (!cur) throw notFound(`${type}/${id} is not known`);
      checkIfMatch(type, id, cur, ifMatch);
      if (cur.deleted) return;
      const version = Number(cur.version_id) + 1;
      await writeVersion(repo.sql, { type, id, version, lastUpdated: new Date().toISOString(), resource: undefined, isNew: false });
      repo.changes?.record({ type, id, before: cur.content ?? undefined });
    });
  }

  /** Conditional delete (http.html#cdelete): one match is deleted, none is success, several are refused. */
  async conditionalDelete(type: string, query: string): Promise<number> {
    const search = parseConditional(type, query, 'conditional delete');
    return this.transaction(async (repo) => {
      const ids = await repo.lockAndMatch(search);
      if (ids.length > 1) throw multipleMatches('conditional delete', ids.length);
      if (ids[0] !== undefined) await repo.delete(type, ids[0]);
      return ids.length;
    });
  }

  /** patch with JSON Patch (RFC 6902) or FHIRPath Patch (a Parameters resource) — http.html#patch. */
  async patch<T extends Resource>(type: string, id: string, patch: Operation[] | Parameters, ifMatch?: string): Promise<WithId<T>> {
    return this.transaction(async (repo) => {
      const cur = await lockCurrent(repo.sql, type, id);
      if (!cur) throw notFound(`${type}/${id} is not known`);
      if (cur.deleted || !cur.content) throw gone(`${type}/${id} was deleted`);
      checkIfMatch(type, id, cur, ifMatch);
      const patched = JSON.parse(JSON.stringify(cur.content)) as Resource;
      const ops = Array.isArray(patch) ? patch : fhirPathPatchToJsonPatch(cur.content as Resource, patch);
      const errors = patchProblems(patched, ops);
      if (errors.length > 0) throw unprocessable(`JSON Patch failed: ${errors.join('; ')}`);
      if (patched.resourceType !== type || patched.id !== id) {
        invalid('A patch may not change resourceType or id', `${type}.id`);
      }
      const version = Number(cur.version_id) + 1;
      const stored = await repo.prepare(patched, id, version);
      await writeVersion(repo.sql, { type, id, version, lastUpdated: stored.meta.lastUpdated, resource: stored, isNew: false });
      repo.changes?.record({ type, id, before: cur.content, after: stored });
      return stored as WithId<T>;
    });
  }

  /** Instance, type or system history, newest first (http.html#history). */
  async history(type: string | undefined, id: string | undefined, count: number, offset = 0, since?: string): Promise<HistoryEntry[]> {
    if (type === AUDIT_TYPE) return auditHistory(this.sql, { id, count, offset, since });
    return readHistory(this.sql, { type, id, count, offset, since });
  }

  /** search (search.html): matches, order, page, total and included resources (see store/search.ts). */
  async search(request: SearchRequest, options: SearchOptions = {}): Promise<SearchResult> {
    return search(this.sql, request, this.options.baseUrl, options);
  }

  /**
   * Ids matching the search of a conditional write (`Type?query`), at most two; after a miss the advisory lock is
   * held until the transaction ends: what the transaction processor resolves conditional entries with.
   */
  async matchForWrite(type: string, query: string, where: string): Promise<string[]> {
    return this.lockAndMatch(parseConditional(type, query, where));
  }

  /**
   * {@link matchForWrite} for several conditions, in three statements however many (./match.ts); the content of
   * resources found by identifier goes in `contents` (by `Type/id`).
   */
  async matchManyForWrite(
    items: { type: string; query: string; where: string }[],
    contents?: Map<string, Resource>
  ): Promise<string[][]> {
    const searches = items.map((i) => parseConditional(i.type, i.query, i.where));
    return lockAndMatchMany(this.sql, searches, this.options.baseUrl, refuseInCondition, contents);
  }

  /** Ids matching a conditional search, at most two; the advisory lock after a miss (./match.ts). */
  private lockAndMatch(search: SearchRequest): Promise<string[]> {
    return lockAndMatch(this.sql, search, this.options.baseUrl, refuseInCondition);
  }

  private async insert<T extends Resource>(resource: T, id: string, commit?: CreateCommit): Promise<WithId<T>> {
    const stored = await this.prepare(resource, id, 1);
    const item = { type: stored.resourceType, id, lastUpdated: stored.meta.lastUpdated, resource: stored };
    try {
      if (this.inTransaction) await writeNewResources(this.sql, [item]);
      else await (commit ? commit(item) : batcherFor(this.sql).write(item));
    } catch (err) {
      if ((err as { code?: string }).code === '23505') throw conflict(`${stored.resourceType}/${id} already exists`);
      throw err;
    }
    this.changes?.record({ type: stored.resourceType, id, after: stored });
    return stored as WithId<T>;
  }

  /** The stored form: server-owned `id` and `meta`, conditional references resolved, validated. */
  private async prepare<T extends Resource>(resource: T, id: string, version: number): Promise<WithId<T> & { meta: { lastUpdated: string } }> {
    checkId(resource.resourceType, id);
    const lastUpdated = new Date().toISOString();
    const stored = JSON.parse(JSON.stringify(resource)) as WithId<T>; // plain JSON: 8× cheaper than structuredClone
    stored.id = id;
    stored.meta = { ...stored.meta, versionId: String(version), lastUpdated };
    await resolveConditionalReferences(this.sql, this.options.baseUrl, stored);
    this.options.validate(stored);
    return canonicalOrder(stored) as WithId<T> & { meta: { lastUpdated: string } };
  }
}

