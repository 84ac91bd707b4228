import { connect } from './src/store/db.ts';
import { migrate } from './src/store/migrate.ts';
const admin = connect('postgres://postgres@127.0.0.1:5432/postgres', 1);
await admin.unsafe('DROP DATABASE IF EXISTS fd_scratch'); await admin.unsafe('CREATE DATABASE fd_scratch'); await admin.end();
const sql = connect('postgres://postgres@127.0.0.1:5432/fd_scratch', 2);
await migrate(sql);
await sql.unsafe(`
INSERT INTO resource (resource_type, id, version_id, last_updated, content)
  SELECT 'Appointment', 'A' || g, 1, now(), jsonb_build_object('resourceType','Appointment','id','A'||g, 'pad', repeat('x', 400)) FROM generate_series(0, 199999) g;
INSERT INTO search_reference (resource_type, id, code, target)
  SELECT 'Appointment', 'A' || g, c, 'Practitioner/P' || (g % 200) FROM generate_series(0, 199999) g, unnest(ARRAY['actor','practitioner']) c
  UNION ALL SELECT 'Appointment', 'A' || g, c, 'Patient/Patient-' || (g % 100000) FROM generate_series(0, 199999) g, unnest(ARRAY['actor','patient']) c;
INSERT INTO search_date (resource_type, id, code, low, high)
  SELECT 'Appointment', 'A' || g, 'date', d, d FROM (SELECT g, timestamptz '2026-01-05 08:00Z' + ((g / 200 / 24) || ' days')::interval + (((g / 200) % 24) * 20 || ' minutes')::interval AS d FROM generate_series(0, 199999) g) x;
`);
await sql`VACUUM (ANALYZE)`;
const q1 = async () => sql`SELECT r.content FROM resource r WHERE r.resource_type = 'Appointment' AND NOT r.deleted
  AND EXISTS (SELECT 1 FROM search_reference s1 WHERE s1.resource_type = r.resource_type AND s1.id = r.id AND s1.code = 'actor' AND s1.target = 'Practitioner/P7')
  AND EXISTS (SELECT 1 FROM search_date s2 WHERE s2.resource_type = r.resource_type AND s2.id = r.id AND s2.code = 'date' AND s2.low >= '2026-01-20T00:00:00Z' AND s2.high <= '2026-01-20T23:59:59.999Z')
  ORDER BY (SELECT min(o.low) FROM search_date o WHERE o.resource_type = r.resource_type AND o.id = r.id AND o.code = 'date') ASC NULLS LAST, r.id LIMIT 51`;
const q2 = async () => sql`SELECT r.content FROM (SELECT DISTINCT s1.resource_type, s1.id FROM search_reference s1 WHERE s1.resource_type = 'Appointment' AND s1.code = 'actor' AND s1.target = 'Practitioner/P7') c
  JOIN resource r ON r.resource_type = c.resource_type AND r.id = c.id
  WHERE NOT r.deleted AND EXISTS (SELECT 1 FROM search_date s2 WHERE s2.resource_type = c.resource_type AND s2.id = c.id AND s2.code = 'date' AND s2.low >= '2026-01-20T00:00:00Z' AND s2.high <= '2026-01-20T23:59:59.999Z')
  ORDER BY (SELECT min(o.low) FROM search_date o WHERE o.resource_type = r.resource_type AND o.id = r.id AND o.code = 'date') ASC NULLS LAST, r.id LIMIT 51`;
for (const [name, q] of [['current', q1], ['candidates first', q2]] as const) {
  for (let i = 0; i < 3; i++) await q();
  const t = performance.now(); let n = 0;
  for (let i = 0; i < 20; i++) n = (await q()).length;
  console.log(name, ((performance.now() - t) / 20).toFixed(2), 'ms', n, 'rows');
}
await sql.end();
