/**
 * The scheduling recipes of `lpclust assign` under deploy/assign/: the Kubernetes manifests parse
 * as YAML with the fields a CronJob needs and take credentials from a Secret; the cron line has a
 * valid schedule; every option the recipes pass is one `lpclust assign --help` lists; no recipe
 * holds a password other than the CHANGE_ME placeholders; the systemd units pass
 * `systemd-analyze verify` (where systemd-analyze is installed — the test name says whether it ran).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { BIN, ensureBuilt, REPO } from '../tracking/helpers.js';

const DEPLOY = path.join(REPO, 'deploy', 'assign');
let help = '';

beforeAll(() => {
  ensureBuilt();
  help = execFileSync(process.execPath, [BIN, 'assign', '--help'], { encoding: 'utf8' });
});

/** The `--options` of an argument list, each checked against the command's help. */
function expectKnownOptions(args: readonly string[]): void {
  const opts = args.filter((a) => a.startsWith('--'));
  expect(opts.length).toBeGreaterThan(3);
  for (const o of opts) expect(help, `${o} is not an option of lpclust assign`).toMatch(new RegExp(`^\\s+${o}\\b`, 'm'));
}

/** Values of the CronJob's env that hold a URI with a password must come from a Secret. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

describe('deploy/assign', () => {
  it('the Kubernetes CronJob parses, runs lpclust assign with known options, and reads credentials from the Secret', () => {
    const doc = YAML.parse(fs.readFileSync(path.join(DEPLOY, 'kubernetes', 'cronjob.yaml'), 'utf8')) as {
      apiVersion: string;
      kind: string;
      spec: { schedule: string; timeZone: string; concurrencyPolicy: string; jobTemplate: { spec: { template: { spec: { restartPolicy: string; containers: Array<{ command: string[]; args: string[]; env: EnvVar[] }> } } } } };
    };
    expect(doc.apiVersion).toBe('batch/v1');
    expect(doc.kind).toBe('CronJob');
    expect(doc.spec.schedule.split(/\s+/).length).toBe(5);
    expect(() => new Intl.DateTimeFormat('en', { timeZone: doc.spec.timeZone })).not.toThrow();
    expect(doc.spec.concurrencyPolicy).toBe('Forbid');
    const pod = doc.spec.jobTemplate.spec.template.spec;
    expect(['Never', 'OnFailure']).toContain(pod.restartPolicy);
    const c = pod.containers[0];
    expect([...c.command, ...c.args].slice(0, 2)).toEqual(['lpclust', 'assign']);
    expectKnownOptions(c.args);
    // $(VAR) in args is expanded by Kubernetes from the container's env: each one must be defined.
    for (const a of c.args) for (const m of a.matchAll(/\$\(([A-Z_]+)\)/g)) expect(c.env.map((e) => e.name)).toContain(m[1]);
    const secret = YAML.parse(fs.readFileSync(path.join(DEPLOY, 'kubernetes', 'secret.example.yaml'), 'utf8')) as { kind: string; metadata: { name: string }; stringData: Record<string, string> };
    expect(secret.kind).toBe('Secret');
    for (const name of ['LPCLUST_MONGO_URI', 'LPCLUST_ASSIGN_TO']) {
      const e = c.env.find((x) => x.name === name)!;
      expect(e.value, `${name} must not be a literal`).toBeUndefined();
      expect(e.valueFrom?.secretKeyRef?.name).toBe(secret.metadata.name);
      expect(Object.keys(secret.stringData)).toContain(e.valueFrom!.secretKeyRef!.key);
      // lpclust reads these variables itself (commander's env option), as its help says.
      expect(help).toContain(`env: ${name}`);
    }
  });

  it('the cron line: a valid schedule, a user, lpclust assign with known options, credentials from the env file', () => {
    const lines = fs.readFileSync(path.join(DEPLOY, 'cron', 'lpclust-assign'), 'utf8').split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^[A-Z]+=/.test(l));
    expect(lines.length).toBe(1);
    const f = lines[0].split(/\s+/);
    const ranges: Array<[number, number]> = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 7]];
    ranges.forEach(([lo, hi], i) => {
      if (f[i] === '*') return;
      const v = Number(f[i]);
      expect(Number.isInteger(v) && v >= lo && v <= hi, `cron field ${i + 1}: ${f[i]}`).toBe(true);
    });
    expect(f[5]).toBe('lpclust'); // /etc/cron.d lines name the user
    const cmd = lines[0].slice(lines[0].indexOf('lpclust assign'));
    expectKnownOptions(cmd.split(/\s+/));
    expect(lines[0]).toContain('/etc/lpclust/assign.env');
    // cron turns an unescaped % into a newline: the line must have none.
    expect(lines[0]).not.toMatch(/(^|[^\\])%/);
  });

  it('no recipe holds a password but the CHANGE_ME placeholders', () => {
    const files = ['assign.env.example', 'cron/lpclust-assign', 'systemd/lpclust-assign.service', 'systemd/lpclust-assign.timer', 'kubernetes/cronjob.yaml', 'kubernetes/secret.example.yaml'];
    for (const f of files) {
      const text = fs.readFileSync(path.join(DEPLOY, f), 'utf8');
      for (const m of text.matchAll(/[a-z][a-z0-9+.-]*:\/\/[^:/\s@]+:([^@\s]+)@/gi)) expect([`${f}: ${m[1]}`]).toContain(`${f}: CHANGE_ME`);
    }
  });

  const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' });
  const haveAnalyze = analyze.status === 0;
  it.skipIf(!haveAnalyze)(
    haveAnalyze ? 'the systemd service and timer pass systemd-analyze verify (ran); a broken copy does not' : 'systemd-analyze verify NOT run: systemd-analyze is not installed',
    () => {
      const units = ['lpclust-assign.service', 'lpclust-assign.timer'].map((u) => path.join(DEPLOY, 'systemd', u));
      const r = spawnSync('systemd-analyze', ['verify', ...units], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const exec = /^ExecStart=(.*)$/m.exec(fs.readFileSync(units[0], 'utf8'))![1];
      expect(exec.split(/\s+/).slice(0, 3)).toEqual(['/usr/bin/env', 'lpclust', 'assign']);
      expectKnownOptions(exec.split(/\s+/));
      // The check can fail: the same service with a misspelt key and a missing program.
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-units-'));
      try {
        const broken = fs.readFileSync(units[0], 'utf8').replace('/usr/bin/env lpclust', '/nonexistent/lpclust').replace('Type=oneshot', 'Typ=oneshot');
        fs.writeFileSync(path.join(dir, 'lpclust-assign.service'), broken);
        const b = spawnSync('systemd-analyze', ['verify', path.join(dir, 'lpclust-assign.service')], { encoding: 'utf8' });
        expect(b.status).not.toBe(0);
        expect(b.stderr).toContain("Unknown key 'Typ'");
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
