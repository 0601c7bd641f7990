/**
 * `lpclust etl <source>`: one source → clean daily profiles CSV, as a tracked run.
 * Sub-commands: `oldmongo`, `generic` (here), `sql` and `newmongo` (ETL-sources). Each
 * sub-command lives in its own function and uses {@link addCommonEtlOptions} /
 * {@link commonEtlOptions} for the options every source shares.
 */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { etlSummary, runEtlStage, type EtlStageOptions } from '../../pipeline/etl.js';
import { openStore } from '../../tracking/index.js';
import { genericSource } from '../../etl/generic.js';
import { oldMongoSource } from '../../etl/oldmongo.js';
import { ZoneMapper } from '../../etl/time.js';
import type { CleanOptions, OnBadRow } from '../../etl/types.js';
import { contextFor } from '../context.js';

/** Raw values of the common options (as commander gives them). */
export interface CommonEtlFlags {
  meters?: string;
  out: string;
  resolution: string;
  timezone: string;
  rules?: string;
  fillWindow: string;
  onBadRow: string;
  autoScale: boolean;
  rejectOutliers: boolean;
}

/** The DST policy, as printed in every `etl` help. */
export const DST_POLICY_HELP = `Days and slot labels are in --timezone (default UTC). DST policy: the slots are the local
wall-clock slots; a 23-hour or 25-hour local day (daylight-saving change) cannot be one profile of
24 h without inventing or merging an hour, so it is dropped and counted (metric days_dropped_dst).
A zone whose UTC offset is not a multiple of --resolution is refused.`;

/** Add the options shared by every `etl` sub-command. */
export function addCommonEtlOptions(cmd: Command, opts: { metersRequired: boolean }): Command {
  if (opts.metersRequired) cmd.requiredOption('--meters <csv>', 'meter description CSV (id,Contractual power (kW),Production (kW),Type)');
  else cmd.option('--meters <csv>', 'meter description CSV (id,Contractual power (kW),Production (kW),Type); without it the outlier bound uses 200 kW');
  return cmd
    .requiredOption('--out <csv>', 'output clean profiles CSV (written atomically, only on success)')
    .option('--resolution <minutes>', 'minutes per slot: 15, 30, 60 (any divisor of a day)', '60')
    .option('--timezone <iana>', 'time zone of days and slot labels, e.g. UTC, Europe/Rome', 'UTC')
    .option('--rules <yaml>', 'rules file of per-meter quirks (e.g. data/rules.yaml)')
    .option('--fill-window <hours>', 'fill missing slots up to this many hours after the last real value', '2')
    .option('--on-bad-row <mode>', 'error: stop at the first bad row; skip: count it in the quality report', 'error')
    .option('--no-auto-scale', 'do not detect register scale jumps (meters without scale rules)')
    .option('--no-reject-outliers', 'keep slots above the contractual-power bound');
}

function positiveNumber(raw: string, name: string, integer: boolean): number {
  const v = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw usageError('E_USAGE_VALUE', `Expected a positive ${integer ? 'integer' : 'number'} for \`${name}\` but received \`${raw}\``);
  }
  return v;
}

/** Validate the common options into stage options (throws usage errors naming the option). */
export function commonEtlOptions(f: CommonEtlFlags): Pick<EtlStageOptions, 'out' | 'metersFile' | 'rulesFile' | 'clean' | 'onBadRow'> {
  const resolution = positiveNumber(f.resolution, '--resolution', true);
  if (1440 % resolution !== 0) {
    throw usageError('E_USAGE_VALUE', `Expected a number of minutes that divides a day (15, 30, 60...) for \`--resolution\` but received \`${f.resolution}\``);
  }
  new ZoneMapper(f.timezone); // validates the zone name
  const fillWindow = Number(f.fillWindow);
  if (f.fillWindow.trim() === '' || !Number.isFinite(fillWindow) || fillWindow < 0) {
    throw usageError('E_USAGE_VALUE', `Expected a non-negative number of hours for \`--fill-window\` but received \`${f.fillWindow}\``);
  }
  if (f.onBadRow !== 'error' && f.onBadRow !== 'skip') {
    throw usageError('E_USAGE_VALUE', `Expected error|skip for \`--on-bad-row\` but received \`${f.onBadRow}\``);
  }
  const clean: Partial<CleanOptions> = {
    resolutionMinutes: resolution,
    timeZone: f.timezone,
    fillWindowHours: fillWindow,
    autoScale: f.autoScale,
    rejectOutliers: f.rejectOutliers,
  };
  return { out: f.out, metersFile: f.meters, rulesFile: f.rules, clean, onBadRow: f.onBadRow as OnBadRow };
}

/** Run a stage from a command action and print its summary (shared by the sub-commands). */
export async function runEtlCommand(cmd: Command, name: string, stage: EtlStageOptions): Promise<void> {
  const ctx = contextFor(cmd);
  const store = await openStore(ctx.globals.trackingUri);
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
    .description('old Mongo per-meter CSV exports (<dir>/csv/<METER>.csv or <dir>/<METER>.csv) → clean profiles CSV')
    .requiredOption('--input <dir>', 'folder of the per-meter CSVs (cumulative registers Active_Energy_±_Total_end)');
  addCommonEtlOptions(cmd, { metersRequired: true });
  cmd.addHelpText(
    'after',
    `
${DST_POLICY_HELP}

Examples:
  lpclust etl oldmongo --input data/oldmongo --meters data/meters.csv --rules data/rules.yaml --out clean_oldmongo.csv
  lpclust etl oldmongo --input ../shared/datasets/inergy-uc7 --meters ../shared/datasets/inergy-uc7/smart_meter_description.csv --out clean.csv
  lpclust etl oldmongo --input exports --meters meters.csv --resolution 15 --timezone Europe/Rome --out clean15.csv --json`,
  );
  cmd.action(async (flags: OldMongoFlags, c: Command) => {
    const common = commonEtlOptions(flags);
    await runEtlCommand(c, 'etl oldmongo', { ...common, reader: oldMongoSource(flags.input), runName: 'etl_oldmongo', params: { input_dir: flags.input } });
  });
}

interface GenericFlags extends CommonEtlFlags {
  input: string;
  idCol: string;
  timeCol: string;
  valueCol: string;
  cumulative: boolean;
  unit: string;
  inputTimezone?: string;
}

/** `lpclust etl generic`. */
function registerGeneric(etl: Command): void {
  const cmd = etl
    .command('generic')
    .description('any long-format CSV (id, timestamp, energy per row; .gz accepted; rows grouped by meter) → clean profiles CSV')
    .requiredOption('--input <csv>', 'input CSV or CSV.gz')
    .requiredOption('--id-col <name>', 'column of the meter id')
    .requiredOption('--time-col <name>', 'column of the timestamp (ISO 8601; naive = --input-timezone)')
    .requiredOption('--value-col <name>', 'column of the energy')
    .option('--cumulative', 'values are cumulative registers (default: energy of the interval starting at the timestamp)', false)
    .option('--unit <unit>', 'unit of the values: Wh or kWh', 'Wh')
    .option('--input-timezone <iana>', 'zone of naive timestamps (default: --timezone)');
  addCommonEtlOptions(cmd, { metersRequired: false });
  cmd.addHelpText(
    'after',
    `
${DST_POLICY_HELP}

Examples:
  lpclust etl generic --input ../shared/datasets/sgsc-50-households/sm_cust50.csv.gz \\
      --id-col customer_id --time-col reading_datetime --value-col general_supply_kwh --unit kWh \\
      --resolution 30 --out clean_sgsc.csv
  lpclust etl generic --input readings.csv --id-col meter --time-col ts --value-col wh --cumulative --out clean.csv
  lpclust etl generic --input sgsc.csv.gz --id-col customer_id --time-col reading_datetime --value-col general_supply_kwh \\
      --unit kWh --timezone Australia/Sydney --out clean_local.csv`,
  );
  cmd.action(async (flags: GenericFlags, c: Command) => {
    const common = commonEtlOptions(flags);
    if (flags.unit !== 'Wh' && flags.unit !== 'kWh') {
      throw usageError('E_USAGE_VALUE', `Expected Wh|kWh for \`--unit\` but received \`${flags.unit}\``);
    }
    if (flags.inputTimezone !== undefined) new ZoneMapper(flags.inputTimezone);
    const reader = genericSource({
      input: flags.input,
      idCol: flags.idCol,
      timeCol: flags.timeCol,
      valueCol: flags.valueCol,
      cumulative: flags.cumulative,
      unit: flags.unit,
      inputTimeZone: flags.inputTimezone,
    });
    await runEtlCommand(c, 'etl generic', {
      ...common,
      reader,
      runName: 'etl_generic',
      params: {
        input_file: flags.input,
        id_col: flags.idCol,
        time_col: flags.timeCol,
        value_col: flags.valueCol,
        cumulative: flags.cumulative,
        unit: flags.unit,
        input_timezone: flags.inputTimezone ?? flags.timezone,
      },
    });
  });
}

/** Register `lpclust etl` and its sub-commands. */
export function register(program: Command): void {
  const etl = program
    .command('etl')
    .description('read one source of meter data, clean it and write the clean daily profiles CSV (a tracked run)');
  registerOldMongo(etl);
  registerGeneric(etl);
}
