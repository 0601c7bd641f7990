/**
 * The SQLite store after a `kill -9`: the next process that creates a run marks runs of gone
 * owners FAILED (tag lpclust.owner, as the FileStore does), and leaves live and foreign ones.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, liveOwner, orphan, REPO, tempDir } from './helpers.js';

const ORPHAN = path.join(REPO, 'test', 'tracking', 'fixtures', 'orphan.mjs');

beforeAll(() => ensureBuilt());

describe('SQLite store recovery after kill -9', () => {
  it('marks the runs of dead processes FAILED with why, leaves live and foreign ones RUNNING', async () => {
    const dir = tempDir('lpclust-sqlite-recovery-');
    const file = path.join(dir, 'mlflow.db');
    const uri = `sqlite:///${file}`;
    // Each process recovers the database at its first run: the killed run comes last.
    const { child, runId: live } = await liveOwner(uri, 'alive');
    try {
      const foreign = orphan(uri, 'foreign');
      let db = new Database(file);
      db.prepare(`UPDATE tags SET value = '4242@another-host boot=x start=1' WHERE run_uuid = ? AND "key" = 'lpclust.owner'`).run(foreign);
      db.close();
      const killed = orphan(uri, 'killed');
      db = new Database(file);
      const owner = (db.prepare(`SELECT value FROM tags WHERE run_uuid = ? AND "key" = 'lpclust.owner'`).get(killed) as { value: string }).value;
      expect(owner).toMatch(/^\d+@\S+ /);
      db.close();
      // A new process creating a run recovers the database first.
      const next = spawnSync(process.execPath, [ORPHAN, uri, 'next'], { cwd: REPO, encoding: 'utf8' });
      expect(next.stderr).toContain(`marked 1 run(s) FAILED whose lpclust process stopped without ending them (${killed})`);
      const check = new Database(file, { readonly: true });
      const status = (id: string): string => (check.prepare('SELECT status FROM runs WHERE run_uuid = ?').get(id) as { status: string }).status;
      const tag = (id: string, key: string): string | undefined => (check.prepare('SELECT value FROM tags WHERE run_uuid = ? AND "key" = ?').get(id, key) as { value: string } | undefined)?.value;
      expect(status(killed)).toBe('FAILED');
      expect(tag(killed, 'lpclust.error.code')).toBe('E_RUN_OWNER_GONE');
      expect(tag(killed, 'lpclust.error')).toContain(`the lpclust process ${owner.split('@')[0]} on`);
      const { end_time: end } = check.prepare('SELECT end_time FROM runs WHERE run_uuid = ?').get(killed) as { end_time: number };
      const { t: lastMetric } = check.prepare('SELECT MAX(timestamp) AS t FROM metrics WHERE run_uuid = ?').get(killed) as { t: number };
      expect(end).toBe(lastMetric);
      expect(status(live)).toBe('RUNNING');
      expect(status(foreign)).toBe('RUNNING');
      expect(tag(live, 'lpclust.error.code')).toBeUndefined();
      check.close();
    } finally {
      child.stdin!.end();
      await new Promise((r) => child.once('exit', r));
    }
  });
});
