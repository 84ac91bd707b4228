/**
 * @module store/sequences — numbers drawn from database sequences, unique across processes and never reused.
 */
import type { Sql } from 'postgres';

/** The next X12 control number (ISA13/GS06/ST02) from the database sequence: never reused, across processes. */
export async function nextX12Control(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: string }[]>`SELECT nextval('x12_control')::text AS n`;
  return Number(row?.n);
}
