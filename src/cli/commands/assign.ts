/**
 * `lpclust assign`: the day-ahead job. Takes the last days from a source (or a profiles CSV such
 * as a day-ahead forecast), assigns every meter-day to a cluster of a saved model, writes the
 * assignments and hands them on (PostgreSQL, MongoDB, HTTP), and logs the monitoring metrics and
 * drift of one tracked run. The work is in `src/assign/`.
 */
import type { Command } from 'commander';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { usageError } from '../../errors.js';
import { DEFAULT_NEWMONGO_COLLECTION, DEFAULT_NEWMONGO_DB } from '../../etl/newmongo-doc.js';
import { contextFor } from '../context.js';
import { addOptions } from '../options.js';

interface AssignFlags {
  model: string;
  in?: string;
  newmongoExport?: string;
  mongoUri?: string;
  db?: string;
  collection?: string;
  sqlInput?: string;
  sqlDb?: string;
  table?: string;
  generic?: string;
  idCol?: string;
  timeCol?: string;
  valueCol?: string;
  cumulative?: boolean;
  unit: 'Wh' | 'kWh';
  inputTimezone?: string;
  days?: number;
  since?: string;
  until?: string;
  timezone?: string;
  resolution?: number;
  meters?: string;
  rules?: string;
  fillWindow?: number;
  onBadRow: 'error' | 'skip';
  out: string;
  to?: string[];
  post?: string;
  driftThreshold?: number;
  jsThreshold?: number;
}

/** Register `lpclust assign`. */
export function register(program: Command): void {
  const cmd = program
    .command('assign')
    .description('day-ahead job: assign the last days (or a forecast) to the clusters of a model, write/upsert the assignments, log monitoring and drift metrics (one tracked run)');
  addOptions(cmd, 'assign')
    .addHelpText(
      'after',
      `
One source: --in, --newmongo-export, --mongo-uri, --sql-input, --sql-db or --generic. A raw source
is cleaned as \`lpclust etl\` cleans it and harmonized as \`lpclust harmonize\` does (rules' excluded
meters, incomplete and all-zero days dropped), at the model's resolution and time zone; a
mismatching --resolution or --timezone is refused. With --in every row is assigned unless a window
is given. Days the model cannot normalise (all-zero for l2, constant for zscore) are skipped with a
warning.

Output columns: distance = distance to the assigned centre (normalised units), margin = distance to
the second-nearest centre minus distance, novel = true when distance is above the 99th percentile
of the training days' distances (stored in the model; empty for models saved before it was).

Metrics, per day (step = days since 1970-01-01, timestamp = the day's local midnight):
  assign/rows, assign/share/<c>, assign/distance_mean, assign/distance_p95, assign/novel_share,
  drift/psi, drift/js (the day's shares against the training shares);
and at the last day: drift/window_psi, drift/window_js (the whole window). --drift-threshold and
--js-threshold compare the window's scores; passing one sets the tag
lpclust.retrain_recommended=true and warns, and the command still exits 0.

Credentials stay out of the command line (where \`ps\` shows them) when given in the environment:
LPCLUST_MONGO_URI for --mongo-uri, LPCLUST_ASSIGN_TO for one --to, LPCLUST_ASSIGN_POST for --post
(deploy/assign/ has cron, systemd and Kubernetes recipes that do so).

--to and --post upsert on (id, date): assigning a day again replaces its rows. PostgreSQL: one
transaction (table created if missing, primary key (id, date)). A sink that fails leaves the run
FAILED (the CSV and metrics are kept) and the exit code 4.

Examples:
  lpclust assign --model runs:/3f2a9c1e/model --newmongo-export data/newmongo/newmongo.jsonl \\
      --meters data/meters.csv --days 2 --until 2013-07-30 --out assignments.csv
  lpclust assign --model runs:/3f2a9c1e/model --mongo-uri "mongodb://reader:PASSWORD@db:27017/?authSource=admin" \\
      --meters meters.csv --days 7 --out assignments.csv --to "postgres://writer:PASSWORD@db:5432/energy#assignments" \\
      --drift-threshold 0.25
  lpclust assign --model lpclust-out/cluster/<run-id>/model --in forecast_tomorrow.csv --out tomorrow.csv`,
    )
    .action(async (flags: AssignFlags, cmd: Command) => {
      const sources = (['in', 'newmongoExport', 'mongoUri', 'sqlInput', 'sqlDb', 'generic'] as const).filter((s) => flags[s] !== undefined);
      if (sources.length !== 1) {
        const named = sources.map((s) => `--${s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}${cmd.getOptionValueSource(s) === 'env' ? ' (from LPCLUST_MONGO_URI)' : ''}`);
        throw usageError('E_USAGE_OPTION', `Expected exactly one source (--in, --newmongo-export, --mongo-uri, --sql-input, --sql-db or --generic) but received ${sources.length === 0 ? 'none' : named.join(', ')}`);
      }
      const [{ runAssign }, { resolveModel }, { parseSinkUri, PostSink }, { checkInputPath }, { ZoneMapper }] = await Promise.all([
        import('../../assign/run.js'),
        import('../../model/resolve.js'),
        import('../../assign/sinks.js'),
        import('../../io/preflight.js'),
        import('../../etl/time.js'),
      ]);
      const { days, since, until, resolution } = flags;
      if (flags.timezone !== undefined) new ZoneMapper(flags.timezone);
      const fillWindowHours = flags.fillWindow;
      const psiThreshold = flags.driftThreshold;
      const jsThreshold = flags.jsThreshold;
      if (jsThreshold !== undefined && jsThreshold > 1) throw usageError('E_USAGE_VALUE', `Expected a Jensen–Shannon distance in (0, 1] for \`--js-threshold\` but received \`${flags.jsThreshold}\``);
      const genericOnly = [['--id-col', flags.idCol], ['--time-col', flags.timeCol], ['--value-col', flags.valueCol], ['--input-timezone', flags.inputTimezone]] as const;
      if (flags.generic === undefined) {
        for (const [name, v] of genericOnly) if (v !== undefined) throw usageError('E_USAGE_OPTION', `\`${name}\` applies to --generic only`);
      }
      if (flags.mongoUri === undefined && (flags.db !== undefined || flags.collection !== undefined)) throw usageError('E_USAGE_OPTION', '`--db` and `--collection` apply to --mongo-uri only');
      if (flags.sqlDb === undefined && flags.table !== undefined) throw usageError('E_USAGE_OPTION', '`--table` applies to --sql-db only');
      if (flags.meters === undefined && (flags.newmongoExport !== undefined || flags.mongoUri !== undefined || flags.sqlInput !== undefined || flags.sqlDb !== undefined)) {
        throw usageError('E_USAGE_OPTION', `\`--${sources[0].replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\` needs \`--meters <csv>\` (the meter description: contractual power for the outlier bound, the known meters), as \`lpclust etl\` does`);
      }
      const sinkList = (flags.to ?? []).map((t) => parseSinkUri(t));
      if (flags.post !== undefined) sinkList.push(new PostSink(flags.post));
      const input = await buildInput(flags, checkInputPath);
      const ctx = contextFor(cmd);
      const loaded = await resolveModel(flags.model, () => ctx.openStore({ launch: false }));
      const store = await ctx.openStore();
      const res = await runAssign(
        {
          model: loaded,
          modelSpec: flags.model,
          input,
          days,
          since,
          until,
          timezone: flags.timezone,
          resolution,
          metersFile: flags.meters,
          rulesFile: flags.rules,
          onBadRow: flags.onBadRow,
          fillWindowHours,
          out: flags.out,
          psiThreshold,
          jsThreshold,
          sinks: sinkList,
        },
        { store, experimentName: ctx.globals.experimentName },
      );
      const o = res.outputs;
      const m = loaded.model;
      const novel = o.rows.filter((r) => r.novel).length;
      const lines = [
        `assigned ${o.rows.length} meter-days of ${o.window.since}..${o.window.until} (${o.timezone}) with ${m.model} ${m.metric} k=${m.k} → ${path.resolve(o.out)}`,
        `  window shares  ${o.windowShares.map((s) => s.toFixed(3)).join(' ')}`,
        `  drift  PSI ${o.psi.toFixed(4)}, Jensen–Shannon ${o.js.toFixed(4)}${o.retrainRecommended ? '  → retraining recommended' : ''}`,
        `  novel days  ${o.missing.length > 0 ? 'unknown (the model has no training reference)' : `${novel} of ${o.rows.length}`}`,
        ...(Object.keys(o.skipped).length > 0 ? [`  not assigned  ${Object.entries(o.skipped).map(([k2, v]) => `${v} ${k2.replace(/_/g, ' ')}`).join(', ')}`] : []),
        ...o.sinks.map((s) => `  upserted into ${s}`),
        `  run ${res.runId}`,
      ];
      ctx.print(
        { runId: res.runId, out: path.resolve(o.out), window: o.window, timezone: o.timezone, rows: o.rows.length, novel: o.missing.length > 0 ? null : novel, windowShares: o.windowShares, psi: o.psi, js: o.js, retrainRecommended: o.retrainRecommended, missing: o.missing, skipped: o.skipped, sinks: o.sinks, days: o.days },
        lines.join('\n'),
      );
    });
}

type CheckPath = (p: string, what: string, kind?: 'file' | 'dir' | 'any') => string;

/** The source of the flags, as the assign library takes it (readers imported on use). */
async function buildInput(flags: AssignFlags, checkInputPath: CheckPath): Promise<import('../../assign/run.js').AssignInput> {
  if (flags.in !== undefined) return { kind: 'profiles', file: flags.in };
  if (flags.newmongoExport !== undefined) {
    const file = checkInputPath(flags.newmongoExport, '--newmongo-export');
    const { newMongoExportSource, NEWMONGO_CLEAN_DEFAULTS } = await import('../../etl/newmongo.js');
    return { kind: 'source', source: 'newmongo', describe: file, clean: NEWMONGO_CLEAN_DEFAULTS, params: { export_file: file }, open: async () => ({ reader: newMongoExportSource(file) }) };
  }
  if (flags.mongoUri !== undefined) {
    const uri = flags.mongoUri;
    const { checkMongoUri, dumpNewMongo, newMongoExportSource, NEWMONGO_CLEAN_DEFAULTS } = await import('../../etl/newmongo.js');
    const { maskUri } = await import('../../util/mask.js');
    checkMongoUri(uri);
    const db = flags.db ?? DEFAULT_NEWMONGO_DB;
    const collection = flags.collection ?? DEFAULT_NEWMONGO_COLLECTION;
    return {
      kind: 'source',
      source: 'newmongo',
      describe: `${maskUri(uri)} ${db}.${collection}`,
      clean: NEWMONGO_CLEAN_DEFAULTS,
      params: { uri: maskUri(uri), db, collection },
      open: async (w) => {
        const dir = await mkdtemp(path.join(tmpdir(), 'lpclust-assign-'));
        const raw = path.join(dir, 'newmongo.csv');
        try {
          await dumpNewMongo({ uri, db, collection, since: w.since, until: w.until }, raw);
        } catch (e) {
          await rm(dir, { recursive: true, force: true });
          throw e;
        }
        return { reader: newMongoExportSource(raw), cleanup: () => rm(dir, { recursive: true, force: true }), rawArtifact: { file: raw, dir: 'raw_newmongo' } };
      },
    };
  }
  if (flags.sqlInput !== undefined || flags.sqlDb !== undefined) {
    const { sqlDatabaseSource, sqlFolderSource, SQL_CLEAN_DEFAULTS, isPostgresUri, quoteTableName, DEFAULT_HISTORIAN_TABLE } = await import('../../etl/sql.js');
    const { maskUri } = await import('../../util/mask.js');
    if (flags.sqlInput !== undefined) {
      const dir = checkInputPath(flags.sqlInput, '--sql-input', 'dir');
      return { kind: 'source', source: 'sql', describe: dir, clean: SQL_CLEAN_DEFAULTS, params: { input_dir: dir }, open: async () => ({ reader: sqlFolderSource(dir) }) };
    }
    const table = flags.table ?? DEFAULT_HISTORIAN_TABLE;
    quoteTableName(table);
    const db = isPostgresUri(flags.sqlDb!) ? flags.sqlDb! : checkInputPath(flags.sqlDb!, '--sql-db');
    if (isPostgresUri(db)) {
      // Registered as a secret: masked in every message, param and tag from here on.
      const { registerUriPassword } = await import('../../util/mask.js');
      registerUriPassword(db);
    }
    return { kind: 'source', source: 'sql', describe: `${maskUri(db)} table ${table}`, clean: SQL_CLEAN_DEFAULTS, params: { db: maskUri(db), table }, open: async () => ({ reader: sqlDatabaseSource(db, table) }) };
  }
  const { genericSource } = await import('../../etl/generic.js');
  for (const [name, v] of [['--id-col', flags.idCol], ['--time-col', flags.timeCol], ['--value-col', flags.valueCol]] as const) {
    if (v === undefined) throw usageError('E_USAGE_OPTION', `\`--generic\` needs \`${name}\``);
  }
  const file = checkInputPath(flags.generic!, '--generic');
  const reader = genericSource({ input: file, idCol: flags.idCol!, timeCol: flags.timeCol!, valueCol: flags.valueCol!, cumulative: flags.cumulative === true, unit: flags.unit, inputTimeZone: flags.inputTimezone });
  return { kind: 'source', source: 'generic', describe: file, params: { input_file: file, id_col: flags.idCol!, time_col: flags.timeCol!, value_col: flags.valueCol! }, open: async () => ({ reader }) };
}
