/**
 * The lpclust CLI: commander wiring only. Commands live in `commands/`, one file each; the work
 * they do lives in the library. This is the one place that turns errors into messages and exit codes.
 */
import { Command, CommanderError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { EXIT_CODES, InterruptedError, isLpclustError } from '../errors.js';
import { LOG_LEVELS, log } from '../util/log.js';
import { maskSecrets } from '../util/mask.js';
import { COMMANDS } from './commands/index.js';
import { installSignalHandlers } from './signals.js';

/** lpclust's version, from package.json. */
export const VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

/** Build the commander program (exported for tests and help generation). */
export function buildProgram(): Command {
  const program = new Command('lpclust')
    .description('Cluster electricity load profiles and track every run in MLflow.')
    .version(VERSION, '-V, --version', 'print the lpclust version')
    .option('--tracking-uri <uri>', 'MLflow tracking URI: sqlite:///mlflow.db, file:./mlruns or http(s)://host (default: MLFLOW_TRACKING_URI, else ./mlruns when it holds runs, else sqlite:///mlflow.db)')
    .option('--experiment-name <name>', 'MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else lpclust)')
    .option('--config <file>', 'configuration file (default: ./lpclust.config.json when present)')
    .option('--spool-dir <dir>', 'where runs go while a tracking server is unreachable (default: LPCLUST_SPOOL_DIR, else ./mlruns)')
    .option('--json', 'print machine-readable JSON on stdout')
    .addOption(new Option('--log-level <level>', 'stderr verbosity; debug adds stack traces').choices([...LOG_LEVELS]))
    .option('-q, --quiet', 'no progress or info output')
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .enablePositionalOptions(false)
    .addHelpText(
      'after',
      `
Configuration precedence: flags > environment (LPCLUST_*, MLFLOW_*, ./.env) > lpclust.config.json > defaults.
View runs: lpclust runs, or the MLflow UI: mlflow ui --backend-store-uri sqlite:///mlflow.db
(a ./mlruns file store: mlflow ui --backend-store-uri ./mlruns; MLflow 3 also needs MLFLOW_ALLOW_FILE_STORE=true)`,
    );
  for (const register of COMMANDS) register(program);
  program.exitOverride();
  program.configureOutput({
    outputError: (str, write) => write(red(str.replace(/^error: /, 'lpclust: '))),
  });
  for (const cmd of program.commands) applyToTree(cmd);
  return program;
}

function applyToTree(cmd: Command): void {
  cmd.exitOverride();
  cmd.showSuggestionAfterError(true);
  cmd.configureOutput({ outputError: (str, write) => write(red(str.replace(/^error: /, 'lpclust: '))) });
  for (const sub of cmd.commands) applyToTree(sub);
}

/**
 * Run the CLI with `argv` (as process.argv) and return the exit code; never calls process.exit so
 * that open runs and files are closed first.
 */
export async function main(argv: string[]): Promise<number> {
  // `lpclust ... | head` closes stdout early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const uninstall = installSignalHandlers();
  try {
    const program = buildProgram();
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT_CODES.usage;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (e) {
    return reportError(e);
  } finally {
    uninstall();
  }
}

/** Print one clear line for an error (plus hint, plus stack at debug) and return the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // Help and version "errors" are normal exits; commander already printed the message.
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return EXIT_CODES.usage;
  }
  if (isLpclustError(e)) {
    process.stderr.write(red(`lpclust: ${maskSecrets(e.message)}`) + '\n');
    if (e.hint) process.stderr.write(`  hint: ${maskSecrets(e.hint)}\n`);
    if (log.enabled('debug') && e.stack) process.stderr.write(maskSecrets(e.stack) + '\n');
    return e instanceof InterruptedError ? EXIT_CODES.interrupted : e.exitCode;
  }
  const err = e instanceof Error ? e : new Error(String(e));
  process.stderr.write(red(`lpclust: internal error: ${maskSecrets(err.message)}`) + '\n');
  process.stderr.write('  hint: this is a bug in lpclust; rerun with --log-level debug and report the output\n');
  if (log.enabled('debug') && err.stack) process.stderr.write(maskSecrets(err.stack) + '\n');
  return EXIT_CODES.internal;
}

function red(s: string): string {
  return process.stderr.isTTY && !process.env.NO_COLOR ? `\x1b[31m${s}\x1b[0m` : s;
}
