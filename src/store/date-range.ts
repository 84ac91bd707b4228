/**
 * @module store/date-range — the implicit range of a FHIR date/dateTime/instant value (search.html#date).
 *
 * "2024" denotes the whole year, "2024-03-05" the whole day, "2024-03-05T10:00" the whole minute. Values without
 * an offset are read as UTC.
 */
import { badRequest, OperationOutcomeError } from '@medplum/core';

const DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Returns `[low, high]` as ISO instants; throws a 400 naming the parameter when the value is not a date. */
export function dateRange(value: string, param: string): [string, string] {
  const m = DATE.exec(value.trim());
  if (!m) throw new OperationOutcomeError(badRequest(`Invalid date "${value}" for search parameter ${param}`, param));
  const [, y, mo, d, h, mi, s, frac, tz] = m;
  const offsetMs = tzOffsetMs(tz);
  const year = Number(y);
  let start: number;
  let end: number;
  if (mo === undefined) {
    start = Date.UTC(year, 0, 1);
    end = Date.UTC(year + 1, 0, 1);
  } else if (d === undefined) {
    start = Date.UTC(year, Number(mo) - 1, 1);
    end = Date.UTC(year, Number(mo), 1);
  } else if (h === undefined) {
    start = Date.UTC(year, Number(mo) - 1, Number(d));
    end = start + 86_400_000;
  } else {
    const base = Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi));
    if (s === undefined) {
      start = base;
      end = base + 60_000;
    } else if (frac === undefined) {
      start = base + Number(s) * 1000;
      end = start + 1000;
    } else {
      const digits = Math.min(frac.length, 3);
      start = base + Number(s) * 1000 + Number(frac.slice(0, 3).padEnd(3, '0'));
      end = start + 10 ** (3 - digits);
    }
    start -= offsetMs;
    end -= offsetMs;
  }
  if (Number.isNaN(start) || Number.isNaN(end)) {
    throw new OperationOutcomeError(badRequest(`Invalid date "${value}" for search parameter ${param}`, param));
  }
  // Closed range, matching how `convertToSearchableDates` stores periods (end = last millisecond).
  return [new Date(start).toISOString(), new Date(end - 1).toISOString()];
}

function tzOffsetMs(tz: string | undefined): number {
  if (!tz || tz === 'Z') return 0;
  const sign = tz.startsWith('-') ? -1 : 1;
  const [hh, mm] = tz.slice(1).split(':').map(Number);
  return sign * ((hh ?? 0) * 60 + (mm ?? 0)) * 60_000;
}
