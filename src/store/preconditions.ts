/**
 * @module store/preconditions — the checks every write makes before touching a row: a valid id, the If-Match
 * version, a conditional search that names at least one criterion, a single match.
 */
import { parseSearchRequest, type SearchRequest } from '@medplum/core';
import { invalid } from '../outcome.ts';
import { multipleMatches as multipleMatchesError, preconditionFailed } from './errors.ts';

export type CurrentVersion = { version_id: string };

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

export function parseConditional(type: string, query: string, where: string): SearchRequest {
  const q = query.startsWith('?') ? query.slice(1) : query;
  if (!q.trim()) invalid(`The ${where} search is empty`);
  const search = parseSearchRequest(`${type}?${q}`);
  if (!search.filters?.length) invalid(`The ${where} search has no criteria`);
  return search;
}

export function checkId(type: string, id: string): void {
  if (!ID.test(id)) invalid(`Invalid id "${id}": 1-64 characters of A-Z a-z 0-9 - .`, `${type}.id`);
}

export function checkIfMatch(type: string, id: string, cur: CurrentVersion | undefined, ifMatch: string | undefined): void {
  if (ifMatch === undefined) return;
  if (!cur || cur.version_id !== ifMatch) {
    throw preconditionFailed(`If-Match version ${ifMatch} is not the current version of ${type}/${id}${cur ? ` (${cur.version_id})` : ''}`);
  }
}

export function multipleMatches(what: string, n: number): Error {
  return multipleMatchesError(`The ${what} search matched ${n > 1 ? 'more than one' : n} resources`);
}

export function splitOnce(s: string, sep: string): [string, string] {
  const i = s.indexOf(sep);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** A condition (conditional write, plan entry match) naming search parameters that cannot decide a match. */
export function refuseInCondition(names: string): never {
  return invalid(`Search parameter(s) not supported in a condition: ${names}`);
}
