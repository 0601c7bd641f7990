/**
 * `lpclust etl <source>`: one source → clean daily profiles CSV, as a tracked run.
 * Sub-commands: `oldmongo`, `generic` (here), `sql` and `newmongo` (ETL-sources). Each
 * sub-command lives in its own function and uses {@link addCommonEtlOptions} /
 * {@link commonEtlOptions} for the options every source shares.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import type { EtlStageOptions } from '../../pipeline/etl.js';
import { checkInputPath } from '../../io/preflight.js';
import { ZoneMapper } from '../../etl/time.js';
import type { CleanOptions, OnBadRow } from '../../etl/types.js';
import { contextFor } from '../context.js';
import { addOptions } from '../options.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_HISTORIAN_TABLE, isPostgresUri, quoteTableName } from '../../etl/sql-db.js';
import { DEFAULT_NEWMONGO_COLLECTION, DEFAULT_NEWMONGO_DB } from '../../etl/newmongo.js';
import { maskUri, registerUriPassword } from '../../util/mask.js';

/** Values of the common options, parsed (src/cli/options.ts). */
export interface CommonEtlFlags {
  meters?: string;
  out: string;
  resolution: number;
  timezone: string;
  rules?: string;
  fillWindow: number;
  onBadRow: OnBadRow;
  autoScale: boolean;
  rejectOutliers: boolean;
}

/** The DST policy, as printed in every `etl` help. */
export const DST_POLICY_HELP = `Days and slot labels are in --timezone (default UTC). DST policy: the slots are the local
wall-clock slots; a 23-hour or 25-hour local day (daylight-saving change) cannot be one profile of
24 h without inventing or merging an hour, so it is dropped and counted (metric days_dropped_dst).
A zone whose UTC offset is not a multiple of --resolution is refused.`;

/** The common options as stage options (the values are parsed and checked by the option table). */
export function commonEtlOptions(f: CommonEtlFlags): Pick<EtlStageOptions, 'out' | 'metersFile' | 'rulesFile' | 'clean' | 'onBadRow'> {
  const resolution = f.resolution;
  const fillWindow = f.fillWindow;
  new ZoneMapper(f.timezone); // validates the zone name
  const clean: Partial<CleanOptions> = {
    resolutionMinutes: resolution,
    timeZone: f.timezone,
    fillWindowHours: fillWindow,
    autoScale: f.autoScale,
    rejectOutliers: f.rejectOutliers,
  };
  return { out: f.out, metersFile: f.meters, rulesFile: f.rules, clean, onBadRow: f.onBadRow };
}

/** Run a stage from a command action and print its summary (shared by the sub-commands). */
export async function runEtlCommand(cmd: Command, name: string, stage: EtlStageOptions): Promise<void> {
  const ctx = contextFor(cmd);
  const store = await ctx.openStore();
  const { etlSummary, runEtlStage } = await import('../../pipeline/etl.js');
  const res = await runEtlStage(stage, { store, experimentName: ctx.globals.experimentName });
  const corrections = res.outputs.report.meters().flatMap((q) => q.scaleCorrections.map((s) => ({ meter: q.meter, ...s })));
  ctx.print({ runId: res.runId, metrics: res.metrics, out: res.outputs.out, rows: res.outputs.rows, scaleCorrections: corrections }, etlSummary(name, res));
}

interface OldMongoFlags extends CommonEtlFlags {
  input: string;
}

/** `lpclust etl oldmongo`. */
function registerOldMongo(etl: Command): void {
  const cmd = etl
    .command('oldmongo')
    .description('old Mongo per-meter CSV exports (<dir>/csv/<METER>.csv or <dir>/<METER>.csv) → clean profiles CSV');
  addOptions(cmd, 'etl oldmongo');
  cmd.addHelpText(
    'after',
    `
${DST_POLICY_HELP}

Examples:
  lpclust etl oldmongo --input data/oldmongo --meters data/meters.csv --rules data/rules.yaml --out clean_oldmongo.csv
  lpclust etl oldmongo --input exports --meters meters.csv --resolution 15 --timezone Europe/Rome --out clean15.csv --json`,
  );
  cmd.action(async (flags: OldMongoFlags, c: Command) => {
    const { oldMongoSource } = await import('../../etl/oldmongo.js');
    const common = commonEtlOptions(flags);
    const input = checkInputPath(flags.input, '--input', 'dir');
    await runEtlCommand(c, 'etl oldmongo', { ...common, reader: oldMongoSource(input), runName: 'etl_oldmongo', params: { input_dir: input } });
  });
}

interface GenericFlags extends CommonEtlFlags {
  input: string;
  idCol: string;
  timeCol: string;
  valueCol: string;
  cumulative?: boolean;
  unit: 'Wh' | 'kWh';
  inputTimezone?: string;
}

/** `lpclust etl generic`. */
function registerGeneric(etl: Command): void {
  const cmd = etl
    .command('generic')
    .description('any long-format CSV (id, timestamp, energy per row; .gz accepted; rows grouped by meter) → clean profiles CSV');
  addOptions(cmd, 'etl generic');
  cmd.addHelpText(
    'after',
    `
${DST_POLICY_HELP}

Examples:
  # the bundled old Mongo export read as a generic CSV (cumulative Wh registers, UTC timestamps):
  lpclust etl generic --input data/oldmongo/SYN0001.csv --id-col id --time-col timestamp \\
      --value-col Active_Energy_+_Total_end --cumulative --meters data/meters.csv --out clean_generic.csv
  # interval energy in kWh every 30 minutes, gzip, naive local times (e.g. SGSC's sm_cust50.csv.gz):
  lpclust etl generic --input readings.csv.gz --id-col customer_id --time-col reading_datetime \\
      --value-col general_supply_kwh --unit kWh --resolution 30 --timezone Australia/Sydney --out clean_local.csv`,
  );
  cmd.action(async (flags: GenericFlags, c: Command) => {
    const { genericSource } = await import('../../etl/generic.js');
    const common = commonEtlOptions(flags);
    if (flags.inputTimezone !== undefined) new ZoneMapper(flags.inputTimezone);
    const input = checkInputPath(flags.input, '--input');
    const reader = genericSource({
      input,
      idCol: flags.idCol,
      timeCol: flags.timeCol,
      valueCol: flags.valueCol,
      cumulative: flags.cumulative === true,
      unit: flags.unit,
      inputTimeZone: flags.inputTimezone,
    });
    await runEtlCommand(c, 'etl generic', {
      ...common,
      reader,
      runName: 'etl_generic',
      params: {
        input_file: input,
        id_col: flags.idCol,
        time_col: flags.timeCol,
        value_col: flags.valueCol,
        cumulative: flags.cumulative === true,
        unit: flags.unit,
        input_timezone: flags.inputTimezone ?? flags.timezone,
      },
    });
  });
}

interface SqlFlags extends CommonEtlFlags {
  input?: string;
  db?: string;
  table?: string;
}

/** `lpclust etl sql` (SQL historian: folder of text exports, SQLite file or PostgreSQL). */
function registerSql(etl: Command): void {
  const cmd = etl
    .command('sql')
    .description('SQL historian (folder of <METER>.txt exports, or a SQLite / PostgreSQL table) → clean profiles CSV');
  addOptions(cmd, 'etl sql');
  cmd.addHelpText(
    'after',
    `
Energy is Wh per record; the export tag Energy_Ameno_2_8_0_<METER>.kWh is negated; records are
summed per slot (a slot without a record is missing). In a database the meter of a row is the
end of its tag (..._<METER>.kWh). Naive timestamps are read in --timezone. With the shipped rules
file, data before 2021-09-01 is dropped and the named meters get their zero-fill hours.
${DST_POLICY_HELP}

Examples:
  lpclust etl sql --input data/sql --meters data/meters.csv --rules data/rules.yaml --out clean_sql.csv
  lpclust etl sql --db historian.sqlite --table historian --meters data/meters.csv --rules data/rules.yaml --out clean_sql.csv
  lpclust etl sql --db postgres://reader:PASSWORD@db.example:5432/scada --meters meters.csv --out clean_sql.csv --json`,
  );
  cmd.action(async (flags: SqlFlags, c: Command) => {
    const { sqlDatabaseSource, sqlFolderSource, SQL_CLEAN_DEFAULTS } = await import('../../etl/sql.js');
    const common = commonEtlOptions(flags);
    if ((flags.input === undefined) === (flags.db === undefined)) {
      throw usageError('E_USAGE_OPTION', 'Expected exactly one of `--input <dir>` or `--db <sqlite file | postgres://...>`');
    }
    if (flags.table !== undefined && flags.db === undefined) throw usageError('E_USAGE_OPTION', '`--table` needs `--db`');
    if (flags.table !== undefined) quoteTableName(flags.table); // validates the name
    if (flags.db !== undefined && isPostgresUri(flags.db)) registerUriPassword(flags.db);
    const input = flags.input === undefined ? undefined : checkInputPath(flags.input, '--input', 'dir');
    const db = flags.db === undefined || isPostgresUri(flags.db) ? flags.db : checkInputPath(flags.db, '--db');
    const reader = input !== undefined ? sqlFolderSource(input) : sqlDatabaseSource(db!, flags.table ?? DEFAULT_HISTORIAN_TABLE);
    const params = input !== undefined ? { input_dir: input } : { db: maskUri(db!), table: flags.table ?? DEFAULT_HISTORIAN_TABLE };
    await runEtlCommand(c, 'etl sql', { ...common, clean: { ...SQL_CLEAN_DEFAULTS, ...common.clean }, reader, runName: 'etl_sql', params });
  });
}

interface NewMongoFlags extends CommonEtlFlags {
  uri?: string;
  export?: string;
  db?: string;
  collection?: string;
  days?: number;
  since?: string;
  until?: string;
  rawOut?: string;
}

/** `lpclust etl newmongo` (live collection through load_newmongo, or an export file). */
function registerNewMongo(etl: Command): void {
  const cmd = etl
    .command('newmongo')
    .description('new Mongo daily documents (live collection, or a mongoexport / raw CSV file) → clean profiles CSV');
  addOptions(cmd, 'etl newmongo');
  cmd.addHelpText(
    'after',
    `
Documents {id, date, energy_type, "00:00:00": Wh, ... "23:45:00": Wh}; only energy_type
"active_sum" is used; a missing key or null is a missing quarter hour; a slot is missing when all
its quarter hours are. The date and time keys are read in --timezone. A live read makes two runs:
load_newmongo (raw CSV artifact raw_newmongo/) and etl_newmongo (clean CSV from that raw CSV).
${DST_POLICY_HELP}

Examples:
  lpclust etl newmongo --export data/newmongo/newmongo.jsonl --meters data/meters.csv --rules data/rules.yaml --out clean_newmongo.csv
  lpclust etl newmongo --export newmongo.csv --meters meters.csv --out clean_newmongo.csv
  lpclust etl newmongo --uri "mongodb://reader:PASSWORD@db.example:27017/?authSource=admin" --days 30 \\
      --meters meters.csv --rules data/rules.yaml --out clean_newmongo.csv`,
  );
  cmd.action(async (flags: NewMongoFlags, c: Command) => {
    const [{ checkMongoUri, daysAgo, newMongoExportSource, NEWMONGO_CLEAN_DEFAULTS }, { etlSummary, runEtlStage, runNewMongoLoadStage }] = await Promise.all([
      import('../../etl/newmongo.js'),
      import('../../pipeline/etl.js'),
    ]);
    const common = commonEtlOptions(flags);
    const clean = { ...NEWMONGO_CLEAN_DEFAULTS, ...common.clean };
    if ((flags.uri === undefined) === (flags.export === undefined)) {
      throw usageError('E_USAGE_OPTION', 'Expected exactly one of `--uri <mongodb://...>` or `--export <file>`');
    }
    if (flags.export !== undefined) {
      for (const [name, v] of [['--days', flags.days], ['--since', flags.since], ['--until', flags.until], ['--raw-out', flags.rawOut]] as const) {
        if (v !== undefined) throw usageError('E_USAGE_OPTION', `\`${name}\` applies to --uri only (an export file is read whole)`);
      }
      const exportFile = checkInputPath(flags.export, '--export');
      const reader = newMongoExportSource(exportFile);
      await runEtlCommand(c, 'etl newmongo', { ...common, clean, reader, runName: 'etl_newmongo', params: { export_file: exportFile } });
      return;
    }
    const uri = flags.uri!;
    checkMongoUri(uri);
    let since: string | undefined;
    let until: string | undefined;
    if (flags.days !== undefined) {
      if (flags.since !== undefined || flags.until !== undefined) throw usageError('E_USAGE_OPTION', 'Expected either `--days N` or `--since D --until D`, not both');
      since = daysAgo(Date.now(), flags.days);
    } else {
      since = flags.since;
      until = flags.until;
      if (since !== undefined && until !== undefined && since > until) throw usageError('E_USAGE_VALUE', `Expected \`--since\` (${since}) on or before \`--until\` (${until})`);
    }
    const ctx = contextFor(c);
    const store = await ctx.openStore();
    const tracking = { store, experimentName: ctx.globals.experimentName };
    const tmp = flags.rawOut === undefined ? await mkdtemp(path.join(tmpdir(), 'lpclust-newmongo-')) : undefined;
    const rawOut = flags.rawOut ?? path.join(tmp!, 'newmongo.csv');
    try {
      const db = flags.db ?? DEFAULT_NEWMONGO_DB;
      const collection = flags.collection ?? DEFAULT_NEWMONGO_COLLECTION;
      const query = { uri, db, collection, since, until };
      const load = await runNewMongoLoadStage({ query, rawOut }, tracking);
      const res = await runEtlStage(
        {
          ...common,
          clean,
          reader: newMongoExportSource(rawOut),
          runName: 'etl_newmongo',
          params: { uri: maskUri(uri), db, collection, since: since ?? '', until: until ?? '', load_run_id: load.runId },
        },
        { ...tracking, tags: { load_newmongo_run_id: load.runId } },
      );
      const corrections = res.outputs.report.meters().flatMap((q) => q.scaleCorrections.map((s) => ({ meter: q.meter, ...s })));
      ctx.print(
        { runId: res.runId, loadRunId: load.runId, metrics: res.metrics, loadMetrics: load.metrics, out: res.outputs.out, rows: res.outputs.rows, scaleCorrections: corrections },
        `load_newmongo: ${load.outputs.documents} documents of ${load.outputs.meters} meter(s); run ${load.runId}\n` + etlSummary('etl newmongo', res),
      );
    } finally {
      if (tmp !== undefined) await rm(tmp, { recursive: true, force: true });
    }
  });
}

/** Register `lpclust etl` and its sub-commands. */
export function register(program: Command): void {
  const etl = program
    .command('etl')
    .description('read one source of meter data, clean it and write the clean daily profiles CSV (a tracked run)');
  etl.addHelpText(
    'after',
    `
Each source has its own options: \`lpclust etl <source> --help\`.

Examples (the bundled sample data):
  lpclust etl oldmongo --input data/oldmongo --meters data/meters.csv --rules data/rules.yaml --out clean_oldmongo.csv
  lpclust etl sql --input data/sql --meters data/meters.csv --rules data/rules.yaml --out clean_sql.csv
  lpclust etl newmongo --export data/newmongo/newmongo.jsonl --meters data/meters.csv --out clean_newmongo.csv`,
  );
  registerOldMongo(etl);
  registerGeneric(etl);
  registerSql(etl);
  registerNewMongo(etl);
}
