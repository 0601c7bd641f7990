/**
 * Who owns a file or a run: the process id, the host, and (on Linux) the boot id and the
 * process start time, so that a later process can tell for sure that an owner is gone — even
 * after the pid has been reused or the machine rebooted — and clean up after it.
 *
 * The text form `<pid>@<host> boot=<boot id> start=<ticks since boot>` is what lock files hold
 * and what the run tag `lpclust.owner` shows in the MLflow UI.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** A process identity. `boot` and `start` are empty where /proc does not tell them. */
export interface ProcessOwner {
  pid: number;
  host: string;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  boot: string;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot; tells a reused pid. */
  start: string;
}

function readTrim(file: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return '';
  }
}

/** The start time (ticks after boot) of a process, '' when unknown. */
function startTicks(pid: number | 'self'): string {
  const stat = readTrim(`/proc/${pid}/stat`);
  // The command name (field 2) may hold spaces and parentheses: fields after the last ')' only.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
  return fields.length > 19 && /^\d+$/.test(fields[19]) ? fields[19] : '';
}

let self: ProcessOwner | undefined;

/** This process. */
export function currentOwner(): ProcessOwner {
  if (!self || self.pid !== process.pid) {
    self = { pid: process.pid, host: os.hostname(), boot: readTrim('/proc/sys/kernel/random/boot_id'), start: startTicks('self') };
  }
  return self;
}

/** `<pid>@<host> boot=<id> start=<ticks>` (parts that are unknown are left out). */
export function formatOwner(o: ProcessOwner): string {
  return `${o.pid}@${o.host}${o.boot ? ` boot=${o.boot}` : ''}${o.start ? ` start=${o.start}` : ''}`;
}

/** Read {@link formatOwner}'s text; null when it is not one (empty, cut, foreign). */
export function parseOwner(text: string): ProcessOwner | null {
  const m = /^(\d+)@(\S+)((?: \w+=\S*)*)\s*$/.exec(text.trim().split('\n')[0] ?? '');
  if (!m) return null;
  const pid = Number(m[1]);
  if (!Number.isSafeInteger(pid) || pid < 1) return null;
  const kv = Object.fromEntries([...m[3].matchAll(/ (\w+)=(\S*)/g)].map((x) => [x[1], x[2]]));
  return { pid, host: m[2], boot: kv.boot ?? '', start: kv.start ?? '' };
}

/** True when a process with this pid exists on this machine (EPERM: it exists, owned by another user). */
export function pidAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid < 1) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * True only when `owner` is *provably* gone: it ran on this host and either the machine has
 * rebooted since, or no process has its pid, or the process with its pid started at another time
 * (a reused pid). An owner on another host (a store shared over the network) is never called gone.
 */
export function ownerGone(owner: ProcessOwner): boolean {
  const me = currentOwner();
  if (owner.host !== me.host) return false;
  if (owner.pid === me.pid && (owner.start === '' || owner.start === me.start) && (owner.boot === '' || owner.boot === me.boot)) return false;
  if (owner.boot && me.boot && owner.boot !== me.boot) return true;
  if (!pidAlive(owner.pid)) return true;
  if (owner.start) {
    const now = startTicks(owner.pid);
    if (now && now !== owner.start) return true;
  }
  return false;
}

/** Six hex digits naming this host in temporary file names (a store may be shared by several hosts). */
export function hostTag(): string {
  return createHash('sha256').update(currentOwner().host).digest('hex').slice(0, 6);
}

/**
 * The owner a temporary file name written by lpclust encodes, `.<name>.tmp-<pid>-<host tag>-<random>`
 * (older versions: `.<name>.tmp-<pid>-<random>`, host unknown), or null for any other name.
 */
export function tempOwner(name: string): { pid: number; hostTag: string | null } | null {
  const m = /^\..+\.tmp-(\d+)-(?:([0-9a-f]{6})-)?[0-9a-f]{8}$/.exec(name);
  return m ? { pid: Number(m[1]), hostTag: m[2] ?? null } : null;
}

/** True when `name` is an lpclust temporary file whose writer is provably gone (this host, pid dead). */
export function tempOrphaned(name: string): boolean {
  const t = tempOwner(name);
  if (!t || (t.hostTag !== null && t.hostTag !== hostTag())) return false;
  return t.pid !== process.pid && !pidAlive(t.pid);
}
