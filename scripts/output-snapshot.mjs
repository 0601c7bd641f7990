#!/usr/bin/env node
// Behaviour snapshot for refactors: runs a fixed set of lpclust commands on the bundled sample
// in a scratch folder and prints one normalised line per output file, so that two checkouts can
// be compared with `diff`. What changes from run to run by nature (run ids, times, durations,
// memory, the scratch path, random model uuids) is replaced by stable placeholders; everything
// else — CSVs, .npy matrices, plots, params, metric values, tags, MLmodel files — is compared
// byte for byte (text verbatim, binaries by SHA-256).
//
// Usage: node scripts/output-snapshot.mjs [--bin path/to/bin/lpclust.js] [--keep] > snap.txt
//        diff snap-before.txt snap-after.txt
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const here = dirname(dirname(fileURLToPath(import.meta.url)));
const binIndex = args.indexOf('--bin');
const bin = resolve(binIndex >= 0 ? args[binIndex + 1] : join(here, 'bin/lpclust.js'));
const keep = args.includes('--keep');

/** Each step: a label and the CLI arguments; all run in one scratch folder, in this order. */
const STEPS = [
  ['pipeline kmeans', ['pipeline', '--model', 'kmeans', '-k', '12']],
  ['pipeline kmedoids dtw', ['pipeline', '--model', 'kmedoids', '--metric', 'dtw', '-k', '6', '--out-dir', 'p2']],
  ['pipeline choose k', ['pipeline', '--model', 'agglomerative', '--metric', 'dtw', '-k', '0', '--k-range', '3..6', '--min-cluster-share', '0', '--out-dir', 'p3']],
  ['pipeline dba', ['pipeline', '--model', 'kmeans', '--metric', 'dtw', '-k', '4', '--n-init', '2', '--out-dir', 'p4']],
  ['pipeline som', ['pipeline', '--model', 'som', '-k', '4', '--normalize', 'zscore', '--out-dir', 'p5']],
  [
    'sweep',
    ['sweep', '--models', 'kmeans,kmedoids,agglomerative,som', '--metrics', 'euclidean,dtw', '-k', '3..5', '--seeds', '0,1', '--out-dir', 'sw'],
  ],
  ['etl oldmongo', ['etl', 'oldmongo', '--input', 'data/oldmongo', '--meters', 'data/meters.csv', '--rules', 'data/rules.yaml', '--out', 'clean_oldmongo.csv']],
  ['etl sql', ['etl', 'sql', '--input', 'data/sql', '--meters', 'data/meters.csv', '--rules', 'data/rules.yaml', '--out', 'clean_sql.csv']],
  ['etl newmongo', ['etl', 'newmongo', '--export', 'data/newmongo/newmongo.jsonl', '--meters', 'data/meters.csv', '--out', 'clean_newmongo.csv']],
  [
    'etl generic',
    ['etl', 'generic', '--input', 'data/oldmongo/SYN0001.csv', '--id-col', 'id', '--time-col', 'timestamp', '--value-col', 'Active_Energy_+_Total_end', '--cumulative', '--meters', 'data/meters.csv', '--out', 'clean_generic.csv'],
  ],
  [
    'harmonize',
    ['harmonize', '--oldmongo', 'clean_oldmongo.csv', '--sql', 'clean_sql.csv', '--newmongo', 'clean_newmongo.csv', '--rules', 'data/rules.yaml', '--drop-zero-days', '--out', 'harmonized.csv'],
  ],
  ['dtw', ['dtw', '--in', 'harmonized.csv', '--out', 'dtw.npy', '--radius', '2', '--workers', '2']],
  ['dtw condensed', ['dtw', '--in', 'harmonized.csv', '--out', 'dtwc.npy', '--layout', 'condensed']],
  ['cluster', ['cluster', '--in', 'harmonized.csv', '--model', 'kmedoids', '--metric', 'dtw', '-k', '5', '--dtw', 'dtw.npy', '--radius', '2', '--out-dir', 'clusters']],
  ['cluster sampled', ['cluster', '--in', 'harmonized.csv', '--model', 'kmedoids', '--metric', 'dtw', '-k', '4', '--scale', 'sampled', '--sample-size', '200', '--out-dir', 'sampled']],
  ['validate', ['validate', '--in', 'harmonized.csv', '--labels', 'GLOB:clusters/*/labels.csv', '--centres', 'GLOB:clusters/*/centres.csv', '--dtw', 'dtw.npy']],
];

const work = mkdtempSync(join(tmpdir(), 'lpclust-snap-'));
cpSync(join(here, 'data'), join(work, 'data'), { recursive: true });
const env = { ...process.env, LPCLUST_TRACKING_URI: 'file:./mlruns', LPCLUST_WORKERS: '2', NO_COLOR: '1' };
delete env.LPCLUST_CONFIG;

const lines = [];
for (const [label, argv] of STEPS) {
  const resolved = argv.map((a) => {
    if (!a.startsWith('GLOB:')) return a;
    const [dir, , name] = a.slice(5).split('/');
    const sub = readdirSync(join(work, dir)).filter((d) => statSync(join(work, dir, d)).isDirectory());
    return join(dir, sub[0], name);
  });
  const r = spawnSync(process.execPath, [bin, ...resolved], { cwd: work, env, encoding: 'utf8' });
  lines.push(`step ${label}: exit ${r.status}`);
  if (r.status !== 0) lines.push(`  stderr: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
}

// Run ids → stable names: runName, then the order of start times among equal names.
const runIds = new Map();
const mlruns = join(work, 'mlruns');
const found = [];
for (const exp of safeList(mlruns)) {
  for (const run of safeList(join(mlruns, exp))) {
    const meta = join(mlruns, exp, run, 'meta.yaml');
    let text;
    try {
      text = readFileSync(meta, 'utf8');
    } catch {
      continue;
    }
    // Sweep configurations run concurrently: their config tag, not the start order, tells them apart.
    let config = '';
    try {
      config = ` ${readFileSync(join(mlruns, exp, run, 'tags', 'lpclust.sweep.config'), 'utf8')}`;
    } catch {
      // not a sweep configuration
    }
    const name = (/run_name: (.*)/.exec(text)?.[1] ?? '?') + config;
    const start = Number(/start_time: (\d+)/.exec(text)?.[1] ?? 0);
    found.push({ run, name, start, exp });
  }
}
found.sort((a, b) => a.name.localeCompare(b.name) || a.start - b.start);
const counts = new Map();
for (const f of found) {
  const n = (counts.get(f.name) ?? 0) + 1;
  counts.set(f.name, n);
  runIds.set(f.run, `<run ${f.name} #${n}>`);
}
const experiments = [...new Set(found.map((f) => f.exp))].sort();

const VOLATILE_METRIC = /seconds|secs|(^|[/_])ms($|[/_])|rss|throughput|per_s|elapsed|wall|cpu/;
const VOLATILE_KEY = /^(createdAt|created_at|utc_time_created|model_uuid|startTime|endTime|start_time|end_time|owner)$|seconds|rss|elapsed|wall/;
const VOLATILE_LINE =
  /^(start_time|end_time|utc_time_created|model_uuid|createdAt|created_at|last_update_time|creation_time):?|"(createdAt|created_at|utc_time_created|model_uuid|startTime|endTime|seconds)"/;

function normalise(text) {
  let t = text.split(work).join("<work>").split(here).join("<repo>");
  for (const [id, name] of runIds) t = t.split(id).join(name);
  experiments.forEach((e, i) => {
    t = t.split(e).join(`<exp ${i}>`);
  });
  // Timing rows of run descriptions (`| seconds | 0.0485 |`, `peak_rss_mb`, throughput).
  t = t.replace(/^\| ([^|]*(seconds|rss|per_s|throughput|wall)[^|]*) \| [^|]* \|$/gm, '| $1 | * |');
  t = t.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?/g, '<iso time>');
  // SHA-256s of files that hold times (sidecars): each such file is compared on its own.
  t = t.replace(/\b[0-9a-f]{64}\b/g, '<sha256>');
  return t;
}

function* walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else yield p;
  }
}

const out = [];
for (const file of walk(work)) {
  const rel = relative(work, file);
  if (rel.startsWith('data/')) continue;
  // MLflow input folders are random uuids: named by their content instead.
  const shown = normalise(rel).replace(/\/inputs\/[0-9a-f]{32}\//, '/inputs/<id>/');
  const buf = readFileSync(file);
  const isText = !buf.subarray(0, 8000).includes(0) && !/\.(npy|png|bin|f32|tiles)$/.test(file);
  if (/\/metrics\//.test(rel)) {
    // "timestamp value step" per line: timestamps dropped; volatile metrics' values hidden.
    const vol = VOLATILE_METRIC.test(rel.split('/metrics/')[1]);
    const vals = buf
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [, v, s] = l.split(' ');
        return `${vol ? '*' : v}@${s}`;
      });
    out.push(`${shown} = ${vals.join(' ')}`);
  } else if (/\/tags\/(mlflow\.user|mlflow\.source\.git\.commit|lpclust\.git_commit|lpclust\.owner)$/.test(rel)) {
    out.push(`${shown} = <volatile>`);
  } else if (isText) {
    let text = buf.toString('utf8');
    if (/\.json$/.test(file) || /^[{[]/.test(text)) {
      try {
        text = JSON.stringify(JSON.parse(text), (k, v) => (VOLATILE_KEY.test(k) ? '<volatile>' : v));
      } catch {
        // not JSON after all: compared as text
      }
    }
    if (/\.csv$/.test(file)) text = blankVolatileColumns(text);
    const body = normalise(text)
      .split('\n')
      .filter((l) => !VOLATILE_LINE.test(l.trim()))
      .join('\n');
    out.push(body.length < 300 && !body.includes('\n') ? `${shown} = ${body}` : `${shown} sha=${sha(body)}`);
  } else {
    out.push(`${shown} sha=${sha(buf)} bytes=${buf.length}`);
  }
}
out.sort();
process.stdout.write(`${[...lines, ...out].join('\n')}\n`);
if (keep) process.stderr.write(`kept ${work}\n`);
else rmSync(work, { recursive: true, force: true });

/** Splits one CSV line on commas outside double quotes (quotes kept). */
function cells(line) {
  const out = [];
  let cur = '';
  let quoted = false;
  for (const ch of line) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Replaces the values of timing/memory columns of a CSV by `*`. */
function blankVolatileColumns(text) {
  const rows = text.split('\n');
  const header = cells(rows[0]);
  const volatile = header.map((h) => VOLATILE_METRIC.test(h));
  if (!volatile.includes(true)) return text;
  return rows
    .map((row, i) => {
      const row1 = cells(row);
      if (i === 0 || row1.length !== header.length) return row;
      return row1.map((c, j) => (volatile[j] ? '*' : c)).join(',');
    })
    .join('\n');
}

function sha(x) {
  return createHash('sha256').update(x).digest('hex').slice(0, 16);
}
function safeList(dir) {
  try {
    return readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory() && d !== '.trash' && d !== 'models');
  } catch {
    return [];
  }
}
