/**
 * The name of the sync state file that `lpclust sync` keeps in the `--from` store. Its own module
 * (no imports) so that the CLI can name it in `--help` without loading the stores at start-up.
 */
export const SYNC_STATE_FILE = '.lpclust-sync.json';
