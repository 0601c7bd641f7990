/**
 * What every command gets from the CLI: resolved global settings (with their sources), output
 * helpers that respect `--json`, and the process-wide logger.
 */
import type { Command } from 'commander';
import fs from 'node:fs';
import path from 'node:path';
import { GLOBAL_SETTINGS, readDotenv, resolveSettings, valuesOf, describeSettings, type GlobalSettings, type Resolved } from '../config.js';
import { usageError, type LpclustError } from '../errors.js';
import { openStore } from '../tracking/index.js';
import { DEFAULT_FILE_URI, defaultTrackingUri } from '../tracking/store-uri.js';
import type { TrackingStore } from '../tracking/store.js';
import { log } from '../util/log.js';
import { isSecretName, registerSecret } from '../util/mask.js';
import { progressDefaults } from '../util/progress.js';

/** Settings resolved for one invocation. */
export interface CliContext {
  /** Global settings values. */
  globals: GlobalSettings;
  /** Global settings with their sources (for logging). */
  resolved: { [K in keyof GlobalSettings]: Resolved<GlobalSettings[K]> };
  /** Print a result: `json` when `--json`, else the human text (if any). */
  print(json: unknown, human?: string): void;
  /** Open the tracking store of `--tracking-uri` (with `--spool-dir` for a server). */
  openStore(): Promise<TrackingStore>;
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
  progressDefaults.quiet = globals.quiet || globals.logLevel === 'silent';
  for (const line of describeSettings(resolved, GLOBAL_SETTINGS)) log.debug(`setting ${line}`);
  return {
    globals,
    resolved: resolved as CliContext['resolved'],
    openStore() {
      if (resolved.trackingUri.source === 'default' && globals.trackingUri === DEFAULT_FILE_URI) noteFileStoreOnce(path.join(cwd, 'mlruns'));
      return openStore(globals.trackingUri, { cwd, spoolDir: globals.spoolDir, env });
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
 * Register the values of secret-named variables (`*_PASSWORD`, `*_TOKEN`, ...) of the environment
 * and of `./.env`, so that they are masked wherever they would appear (logs, params, tags, errors).
 */
export function registerEnvironmentSecrets(env: Record<string, string | undefined>, cwd: string): void {
  for (const [name, value] of Object.entries(env)) if (isSecretName(name)) registerSecret(value);
  for (const [name, value] of Object.entries(readDotenv(path.join(cwd, '.env')))) if (isSecretName(name)) registerSecret(value);
}

/** Edit distance with adjacent transpositions (optimal string alignment): `shwo` → `show` is 1. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidates closest to `word` (distance ≤ 40 % of its length, at least 1), best first. */
export function suggestSimilar(word: string, candidates: readonly string[]): string[] {
  const scored = candidates
    .map((c) => ({ c, d: editDistance(word.toLowerCase(), c.toLowerCase()) }))
    .filter(({ c, d }) => d <= Math.max(1, Math.floor(Math.max(word.length, c.length) * 0.4)));
  const best = Math.min(...scored.map((s) => s.d));
  return scored.filter((s) => s.d === best).map((s) => s.c);
}

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
