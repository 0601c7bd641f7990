/**
 * The commands of the CLI, in the order `--help` lists them. Each module adds one command (with
 * its sub-commands, options and help) to the program; add a line here for a new command.
 *
 * The table names each command and loads its module on demand, so that `lpclust --version` loads
 * none of them and `lpclust dtw ...` only `dtw.js` (start-up time, issue 16). A command module keeps
 * its static imports light (option declarations only) and imports the work it does inside its
 * action, so that `--help` loads no database driver or plotting stack either.
 */
import type { Command } from 'commander';

/** A command module. */
export type RegisterCommand = (program: Command) => void;

/** One entry of the command table: the command's name and how to load its module. */
export interface CommandEntry {
  /** The command's name as typed (`lpclust <name> ...`). */
  name: string;
  /** Import the module that registers it. */
  load: () => Promise<{ register: RegisterCommand }>;
}

/** Every command of lpclust. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'pipeline', load: () => import('./pipeline.js') },
  { name: 'sweep', load: () => import('./sweep.js') },
  { name: 'runs', load: () => import('./runs.js') },
  { name: 'models', load: () => import('./models.js') },
  { name: 'sync', load: () => import('./sync.js') },
  { name: 'etl', load: () => import('./etl.js') },
  { name: 'harmonize', load: () => import('./harmonize.js') },
  { name: 'dtw', load: () => import('./dtw.js') },
  { name: 'cluster', load: () => import('./cluster.js') },
  { name: 'validate', load: () => import('./validate.js') },
  { name: 'predict', load: () => import('./predict.js') },
  { name: 'assign', load: () => import('./assign.js') },
  { name: 'serve', load: () => import('./serve.js') },
  { name: 'worker', load: () => import('./worker.js') },
  { name: 'doctor', load: () => import('./doctor.js') },
];
