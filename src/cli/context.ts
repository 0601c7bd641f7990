/**
 * What every command gets from the CLI: resolved global settings (with their sources), output
 * helpers that respect `--json`, and the process-wide logger.
 */
import type { Command } from 'commander';
import { availableParallelism } from 'node:os';
import fs, { existsSync } from 'node:fs';
import path from 'node:path';
import { GLOBAL_SETTINGS, readDotenv, resolveSettings, valuesOf, describeSettings, type GlobalSettings, type Resolved } from '../config.js';
import { usageError, type LpclustError } from '../errors.js';
import { checkOutputDir } from '../io/preflight.js';
import { launchDefaults, launchTargetFromEnv } from '../tracking/launcher.js';
import { DEFAULT_FILE_URI, defaultTrackingUri } from '../tracking/store-uri.js';
import type { TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';
import { isSecretName, registerSecret } from '../util/mask.js';
import { progressDefaults } from '../util/progress.js';
import { suggestSimilar } from '../util/suggest.js';
import { describeOptions } from './options.js';

/** Settings resolved for one invocation. */
export interface CliContext {
  /** Global settings values. */
  globals: GlobalSettings;
  /** Global settings with their sources (for logging). */
  resolved: { [K in keyof GlobalSettings]: Resolved<GlobalSettings[K]> };
  /** Print a result: `json` when `--json`, else the human text (if any). */
  print(json: unknown, human?: string): void;
  /**
   * Open the tracking store of `--tracking-uri` (with `--spool-dir` for a server). Under
   * `mlflow run` (MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_ID set) it also points `globals.experimentName`
   * at the launcher's experiment and makes the launcher's run the parent of the runs this process
   * starts: read `globals.experimentName` after awaiting it. `launch: false` (commands that start
   * no run, such as `runs`) skips that and the once-per-store note about MLflow 3 and ./mlruns.
   */
  openStore(options?: { launch?: boolean }): Promise<TrackingStore>;
}

/**
 * Resolve the global settings for a command from its flags (commander merges the program's global
 * options into `optsWithGlobals`), the environment, `.env` and `lpclust.config.json`, and apply
 * the log level and quiet switch.
 */
export function contextFor(cmd: Command, env: Record<string, string | undefined> = process.env, cwd = process.cwd()): CliContext {
  const o = cmd.optsWithGlobals() as Record<string, unknown>;
  const flags: Record<string, unknown> = {
    trackingUri: o.trackingUri,
    experimentName: o.experimentName,
    logLevel: o.logLevel,
    quiet: o.quiet,
    json: o.json,
    spoolDir: o.spoolDir,
    sqliteSchema: o.sqliteSchema,
    // commander gives a --no-… flag the value true when absent: only an explicit --no-spool counts.
    spool: rootOf(cmd).getOptionValueSource('spool') === 'cli' ? false : undefined,
  };
  registerEnvironmentSecrets(env, cwd);
  const settings = resolveSettings(GLOBAL_SETTINGS, { flags, env, cwd, configFile: o.config as string | undefined });
  // As MLflow 3 chooses: a ./mlruns that holds runs stays the store, any other folder gets mlflow.db.
  const defaultUri = settings.trackingUri.source === 'default' ? defaultTrackingUri(cwd) : undefined;
  const resolved = defaultUri === undefined ? settings : {
    ...settings,
    trackingUri: { value: defaultUri, source: 'default' as const, from: defaultUri === DEFAULT_FILE_URI ? 'default: ./mlruns holds runs' : 'default: no runs in ./mlruns' },
  };
  const globals = valuesOf(resolved) as GlobalSettings;
  log.level = globals.quiet && globals.logLevel !== 'debug' ? (globals.logLevel === 'silent' ? 'silent' : 'error') : globals.logLevel;
  progressDefaults.quiet = globals.quiet || globals.logLevel === 'silent' || globals.json;
  for (const line of describeSettings(resolved, GLOBAL_SETTINGS)) log.debug(`setting ${line}`);
  for (const line of describeOptions(cmd)) log.debug(`option ${line}`);
  return {
    globals,
    resolved: resolved as CliContext['resolved'],
    async openStore(options: { launch?: boolean } = {}) {
      // Imported here, not at the top: the tracking stores are not needed to parse or print help.
      const [{ openStore }, { FileStore }, { ResilientStore }] = await Promise.all([
        import('../tracking/index.js'),
        import('../tracking/file-store.js'),
        import('../tracking/spool.js'),
      ]);
      // The note is for commands that log runs (those that only read, e.g. `runs`, pass launch: false).
      if (options.launch !== false && resolved.trackingUri.source === 'default' && globals.trackingUri === DEFAULT_FILE_URI) noteFileStoreOnce(path.join(cwd, 'mlruns'));
      const store = await openStore(globals.trackingUri, { cwd, spoolDir: globals.spoolDir, spool: globals.spool, sqliteSchema: globals.sqliteSchema, env });
      // A store folder that cannot be written would fail (or wait on its lock) at the first run:
      // say so now, naming the folder and the cause. Only when the folder is not there yet or is
      // one lpclust may write; reading an existing store (lpclust runs) needs no write access.
      if (store instanceof FileStore) checkStoreDir(store.root, '--tracking-uri');
      else if (store instanceof ResilientStore) checkStoreDir(store.spoolDir, '--spool-dir');
      if (options.launch !== false) await applyLaunchTarget(store, env, globals, resolved.experimentName);
      return store;
    },
    print(json: unknown, human?: string) {
      if (globals.json) process.stdout.write(JSON.stringify(json, null, 2) + '\n');
      else if (human !== undefined && human !== '') process.stdout.write(human.endsWith('\n') ? human : human + '\n');
    },
  };
}

/** Marker of the MLflow 3 note in a FileStore root (a file: MLflow lists only folders there). */
const FILE_STORE_NOTE_MARKER = '.lpclust-mlflow3-note';

/**
 * Say once per `./mlruns` (a marker file remembers it) that lpclust keeps using it as MLflow 3
 * does, and what MLflow 3 needs to open it.
 */
function noteFileStoreOnce(root: string): void {
  const marker = path.join(root, FILE_STORE_NOTE_MARKER);
  if (fs.existsSync(marker) || !log.enabled('info')) return;
  log.info(
    'lpclust keeps logging to the MLflow file store ./mlruns because it already holds runs (a folder without one gets sqlite:///mlflow.db, ' +
      'as in MLflow 3). MLflow 3 opens ./mlruns only with MLFLOW_ALLOW_FILE_STORE=true (e.g. MLFLOW_ALLOW_FILE_STORE=true mlflow ui ' +
      '--backend-store-uri ./mlruns), or after `mlflow migrate-filestore --source ./mlruns --target sqlite:///mlflow.db` ' +
      '(then use --tracking-uri sqlite:///mlflow.db). This note is shown once.',
  );
  try {
    fs.writeFileSync(marker, 'lpclust showed its MLflow 3 note for this store\n');
  } catch {
    // A read-only store: the note comes again next time, which is harmless.
  }
}

/**
 * Under `mlflow run`: log into the launcher's experiment, under the launcher's run (see
 * tracking/launcher.ts). An experiment name given explicitly for another experiment is overridden,
 * with a warning, because runs in another experiment would not nest under the launcher's run.
 */
async function applyLaunchTarget(store: TrackingStore, env: Record<string, string | undefined>, globals: GlobalSettings, experimentName: Resolved<string>): Promise<void> {
  const target = await launchTargetFromEnv(store, env);
  if (!target) return;
  const name = target.experiment.name;
  if (experimentName.source !== 'default' && experimentName.value !== name) {
    log.warn(`logging into experiment "${name}" (${target.parentRunId ? `of the run MLFLOW_RUN_ID=${target.parentRunId} that \`mlflow run\` opened` : `MLFLOW_EXPERIMENT_ID=${target.experiment.experimentId}`}), not "${experimentName.value}" from ${experimentName.from}`);
  }
  // The settings are read-only for commands; this is the one place a resolved value is replaced.
  (globals as { experimentName: string }).experimentName = name;
  if (target.parentRunId) {
    launchDefaults.parentRunId = target.parentRunId;
    log.debug(`runs nest under MLFLOW_RUN_ID=${target.parentRunId} in experiment "${name}"`);
  }
}

/**
 * Register the values of secret-named variables (`*_PASSWORD`, `*_TOKEN`, ...) of the environment
 * and of `./.env`, so that they are masked wherever they would appear (logs, params, tags, errors).
 */
export function registerEnvironmentSecrets(env: Record<string, string | undefined>, cwd: string): void {
  for (const [name, value] of Object.entries(env)) if (isSecretName(name)) registerSecret(value);
  for (const [name, value] of Object.entries(readDotenv(path.join(cwd, '.env')))) if (isSecretName(name)) registerSecret(value);
}

export { suggestSimilar } from '../util/suggest.js';

/**
 * The usage error for an unknown word after a command that has sub-commands and an action of its
 * own (commander reports it only as "too many arguments"), with a suggestion.
 */
export function unknownSubcommandError(cmd: Command, word: string): LpclustError {
  const names = cmd.commands.map((c) => c.name());
  const similar = suggestSimilar(word, names);
  return usageError(
    'E_USAGE_COMMAND',
    `unknown sub-command '${word}' of 'lpclust ${cmd.name()}'${similar.length > 0 ? ` (did you mean ${similar.join(' or ')}?)` : ''}`,
    { hint: `sub-commands: ${names.join(', ')}; see lpclust ${cmd.name()} --help` },
  );
}

/**
 * Cap a worker-thread count at the machine's cores: more threads than cores only add memory (each
 * holds its own buffers) and switching, never speed. Says so on stderr, with the cap.
 * @param n the count asked for (≥ 1), undefined = default (all cores)
 * @param from how it was given (`--workers`, `LPCLUST_WORKERS`...)
 */
export function capWorkers(n: number | undefined, from = '--workers', cores = availableParallelism()): number | undefined {
  if (n === undefined || n <= cores) return n;
  log.warn(`${from} ${n} is more than the ${cores} core${cores === 1 ? '' : 's'} of this machine: capped to ${cores} worker thread${cores === 1 ? '' : 's'}`);
  return cores;
}

/** Check that a store folder can be created, when it does not exist yet (an existing one may be read-only for `runs`). */
function checkStoreDir(dir: string, what: string): void {
  if (!existsSync(dir)) checkOutputDir(dir, what);
}

/** The program a (sub)command belongs to, which holds the global options. */
function rootOf(cmd: Command): Command {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
}
