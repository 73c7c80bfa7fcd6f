// Drives sqlgate through node-postgres (pg) and pg-cursor. Prints one
// "key<TAB>value" line per fact for the Rust test; a failing step prints
// "error<TAB>step<TAB>sqlstate<TAB>message" and the script goes on.
//
// Usage: node pg_client.js PORT CERT USER PASSWORD PRIV_USER PRIV_PASSWORD NUMBER

'use strict';

const fs = require('fs');
const { Client } = require('pg');
const Cursor = require('pg-cursor');

const [port, cert, user, password, privUser, privPassword, number] = process.argv.slice(2);

function clean(value) {
  return String(value).replace(/[\t\n]/g, ' ');
}

function out(key, value) {
  console.log(`${key}\t${clean(value)}`);
}

function error(step, state, message) {
  console.log(`error\t${clean(step)}\t${clean(state)}\t${clean(message)}`);
}

async function step(name, body) {
  try {
    await body();
  } catch (e) {
    error(name, e.code || '-', e.message);
  }
}

function client(u, p) {
  return new Client({
    host: 'localhost',
    port: Number(port),
    database: 'sqlgate',
    user: u,
    password: p,
    ssl: { ca: fs.readFileSync(cert, 'utf8'), servername: 'localhost', rejectUnauthorized: true },
    connectionTimeoutMillis: 20000,
    application_name: 'sqlgate-node-test',
  });
}

async function main() {
  const c = client(user, password);
  try {
    await c.connect();
  } catch (e) {
    error('connect', e.code || '-', e.message);
    return;
  }
  out('connected', 'yes');

  await step('simple', async () => {
    const r = await c.query('SELECT count(*) AS n FROM incident');
    out('simple-count', r.rows[0].n);
  });

  // Parameters go untyped (text); the server infers their types.
  await step('params', async () => {
    const r = await c.query(
      'SELECT number, priority, active, opened_at, business_duration FROM incident WHERE number = $1',
      [number],
    );
    const row = r.rows[0];
    out('param-row', row
      ? [row.number, `${typeof row.priority}:${row.priority}`, `${typeof row.active}:${row.active}`,
        `${row.opened_at instanceof Date}`, `${typeof row.business_duration}:${row.business_duration}`].join('|')
      : 'none');
    out('param-types', r.fields.map((f) => `${f.name}:${f.dataTypeID}`).join(','));
  });

  await step('typed-params', async () => {
    const r = await c.query({
      text: 'SELECT count(*) AS n FROM incident WHERE priority = $1 AND active = $2 AND opened_at < $3',
      values: [4, true, new Date(Date.UTC(2030, 0, 1))],
      rowMode: 'array',
    });
    out('typed-count', r.rows[0][0]);
  });

  // A named prepared statement, executed twice.
  await step('named', async () => {
    const q = { name: 'by-priority', text: 'SELECT count(*) AS n FROM incident WHERE priority = $1', values: [1] };
    const a = await c.query(q);
    const b = await c.query({ ...q, values: [2] });
    out('named-counts', `${a.rows[0].n},${b.rows[0].n}`);
  });

  await step('tables', async () => {
    const r = await c.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    out('tables', r.rows.map((x) => x.table_name).join(','));
  });

  // pg-cursor: one portal, rows fetched 100 at a time (Execute with a row limit).
  await step('cursor', async () => {
    const cursor = c.query(new Cursor('SELECT number FROM incident ORDER BY number'));
    let n = 0;
    let batches = 0;
    for (;;) {
      const rows = await cursor.read(100);
      if (rows.length === 0) break;
      n += rows.length;
      batches += 1;
    }
    await cursor.close();
    out('cursor-rows', n);
    out('cursor-batches', batches);
  });

  await step('forbidden', async () => {
    try {
      await c.query('SELECT count(*) FROM sn_hr_core_case');
      out('forbidden-query', 'answered');
    } catch (e) {
      out('forbidden-query', e.code);
    }
  });
  await c.end();

  await step('privileged', async () => {
    const p = client(privUser, privPassword);
    await p.connect();
    const r = await p.query(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    out('priv-tables', r.rows.map((x) => x.table_name).join(','));
    await p.end();
  });
  out('done', 'yes');
}

main().catch((e) => {
  error('main', '-', e.stack || e);
});
