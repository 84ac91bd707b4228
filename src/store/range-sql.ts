/**
 * @module store/range-sql — R4 prefix semantics (search.html#prefix) for dates, numbers and quantities: the target's
 * range [low, high] compared with the implicit range of the search value.
 */
import type { Helper, Sql } from 'postgres';
import { invalid } from '../outcome.ts';
import { dateRange } from './date-range.ts';
import type { Fragment } from './search-sql.ts';

/**
 * R4 prefix semantics (search.html#prefix) comparing the target range [low, high] with the search value's
 * implicit range [vlow, vhigh].
 */
export function dateCondition(sql: Sql, op: string, value: string, param: string, low: Fragment, high: Fragment): Fragment | undefined {
  const [vlow, vhigh] = dateRange(value, param);
  return rangeCondition(sql, op, vlow, vhigh, low, high, () => {
    const mid = (Date.parse(vlow) + Date.parse(vhigh)) / 2;
    const slack = Math.max(86_400_000, Math.abs(Date.now() - mid) * 0.1);
    return [new Date(Date.parse(vlow) - slack).toISOString(), new Date(Date.parse(vhigh) + slack).toISOString()];
  });
}

/** number and quantity (search.html#number): a value's implicit range is ± half a unit of its last digit. */
export function numberCondition(sql: Sql, op: string, raw: string, param: string, quantity: boolean, s: Helper<string>): Fragment | undefined {
  let value = raw;
  let unit: Fragment | undefined;
  if (quantity) {
    const [n, system, code] = raw.split('|');
    value = n ?? '';
    if (code) unit = system ? sql`(${s}.system = ${system} AND ${s}.unit = ${code})` : sql`${s}.unit = ${code}`;
  }
  if (!/^[+-]?\d+(\.\d+)?([eE][+-]?\d+)?$/.test(value)) invalid(`Invalid number "${raw}" for search parameter ${param}`, param);
  const decimals = value.split(/[eE]/)[0]?.split('.')[1]?.length ?? 0;
  const half = 0.5 * 10 ** -decimals;
  const n = Number(value);
  const cond = rangeCondition(sql, op, String(n - half), String(n + half), sql`${s}.low`, sql`${s}.high`, () => [String(n * 0.9), String(n * 1.1)]);
  return cond && unit ? sql`(${cond} AND ${unit})` : cond;
}

function rangeCondition(
  sql: Sql,
  op: string,
  vlow: string,
  vhigh: string,
  low: Fragment,
  high: Fragment,
  approx: () => [string, string]
): Fragment | undefined {
  // Every indexed range has low <= high (a Period's start after its end fails the per-1 invariant on write), so
  // conditions on high imply bounds on low, written out: the (code, low, high) index can then scan just the
  // range asked for — "appointments on 2026-03-10" reads that day's rows, not every row from that day on.
  const within = sql`(${low} >= ${vlow} AND ${low} <= ${vhigh} AND ${high} <= ${vhigh})`;
  switch (op) {
    case 'eq':
      return within;
    case 'ne':
      return sql`NOT ${within}`;
    case 'gt':
      return sql`${high} > ${vhigh}`;
    case 'lt':
      return sql`${low} < ${vlow}`;
    case 'ge':
      return sql`(${high} > ${vhigh} OR ${within})`;
    case 'le':
      return sql`(${low} < ${vlow} OR ${within})`;
    case 'sa':
      return sql`${low} > ${vhigh}`;
    case 'eb':
      return sql`(${high} < ${vlow} AND ${low} < ${vlow})`;
    case 'ap': {
      const [alow, ahigh] = approx();
      return sql`(${low} <= ${ahigh} AND ${high} >= ${alow})`;
    }
    default:
      return undefined;
  }
}

