#!/usr/bin/env node
// The README check (`npm run readme-check`, run by .ci/run): every command of every ```sh block
// of README.md runs, in the README's order, in a scratch copy of the repository, and any non-zero
// exit the README does not announce fails the check.
//
//   node scripts/readme-check.mjs [--readme README.md] [--list] [--keep] [--timeout SECONDS]
//
// The scratch copy holds the repository's tracked files as they are in the working tree (so an
// uncommitted README edit is what gets checked), node_modules linked to this checkout's and the
// native addon (build/) copied; dist/ is then built with `npm run build`. That stands for the
// README's `npm ci`, which this check does not run (it would reinstall every dependency).
//
// How the README says what is not run or what fails on purpose (keep these few and say why):
//   - a line (after joining `\` continuations) whose comment says `not run by readme-check: <reason>`
//     is not run, e.g. `mlflow ui ...   # MLflow 2 (not run by readme-check: needs MLflow)`;
//   - `<!-- readme-check: skip: <reason> -->` on the line(s) just before a block skips the block;
//   - a comment saying `# exits N` announces that the command exits with N (then N is required).
// Every other non-empty, non-comment line is one command, run with `bash -o pipefail -c` from the
// scratch copy's root, in a fresh shell (a `cd` or `export` does not carry over to the next line),
// without the caller's LPCLUST_* and MLFLOW_* variables (a new user has none).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : dflt;
};
const README = path.resolve(ROOT, opt('--readme', 'README.md'));
const TIMEOUT_S = Number(opt('--timeout', '600'));
const LIST_ONLY = args.includes('--list');
const KEEP = args.includes('--keep');
const SHELLS = new Set(['sh', 'bash', 'shell']);
const NOT_RUN = /#.*\bnot run by readme-check:\s*(.*?)\)?\s*$/;
const SKIP_BLOCK = /<!--\s*readme-check:\s*skip:?\s*(.*?)\s*-->/;
const EXITS = /#.*\bexits (\d+)\b/;

/**
 * The fenced blocks of a Markdown text: language, first line number (1-based), the heading they
 * sit under, their lines, and the skip reason of a `<!-- readme-check: skip: … -->` before them.
 */
function parseBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const h = /^(#{1,6})\s+(.*)$/.exec(lines[i]);
    if (h) heading = h[2].trim();
    const open = /^(\s{0,3})(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const lang = open[3].toLowerCase();
    const body = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^\\s{0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[j])) body.push(lines[j++]);
    if (j >= lines.length) throw new Error(`${path.basename(README)}:${i + 1}: the code block opened here is never closed`);
    // A skip marker: the non-blank lines just above the fence.
    let skip = null;
    for (let k = i - 1; k >= 0 && k >= i - 3; k--) {
      if (lines[k].trim() === '') continue;
      const m = SKIP_BLOCK.exec(lines[k]);
      if (m) skip = m[1] || '(no reason given)';
      break;
    }
    blocks.push({ lang, line: i + 1, heading, body, skip });
    i = j;
  }
  return blocks;
}

/** The commands of a shell block: `\` continuations joined, blank and comment lines dropped. */
function commandsOf(block) {
  const out = [];
  for (let i = 0; i < block.body.length; i++) {
    const line = block.line + 1 + i;
    let text = block.body[i];
    while (/\\\s*$/.test(text) && i + 1 < block.body.length) text = text.replace(/\\\s*$/, ' ') + block.body[++i].trim();
    if (text.trim() === '' || /^\s*#/.test(text)) continue;
    const notRun = NOT_RUN.exec(text);
    const exits = EXITS.exec(text);
    out.push({ line, text: text.trim(), notRun: notRun ? notRun[1].trim() || '(no reason given)' : null, expected: exits ? Number(exits[1]) : 0 });
  }
  return out;
}

/** A scratch copy of the repository's tracked files with node_modules linked and build/ copied. */
function scratchCopy() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lpclust-readme-check-'));
  const ls = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' });
  if (ls.status !== 0) throw new Error(`git ls-files failed in ${ROOT}: ${ls.stderr}`);
  let n = 0;
  for (const rel of ls.stdout.split('\0')) {
    if (rel === '') continue;
    const from = path.join(ROOT, rel);
    let st;
    try {
      st = fs.lstatSync(from);
    } catch {
      continue; // deleted in the working tree
    }
    const to = path.join(dir, rel);
    fs.mkdirSync(path.dirname(to), { recursive: true });
    if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(from), to);
    else if (st.isFile()) {
      fs.copyFileSync(from, to);
      fs.chmodSync(to, st.mode);
      n++;
    }
  }
  if (!fs.existsSync(path.join(ROOT, 'node_modules'))) throw new Error(`${ROOT}/node_modules is missing: run npm ci first`);
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(dir, 'node_modules'));
  if (fs.existsSync(path.join(ROOT, 'build'))) fs.cpSync(fs.realpathSync(path.join(ROOT, 'build')), path.join(dir, 'build'), { recursive: true });
  return { dir, files: n };
}

function cleanEnv() {
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(LPCLUST_|MLFLOW_)/.test(k)) env[k] = v;
  return env;
}

function tail(text, n) {
  const lines = text.trimEnd().split('\n');
  return (lines.length > n ? [`… (${lines.length - n} lines before)`, ...lines.slice(-n)] : lines).map((l) => `    | ${l}`).join('\n');
}

function main() {
  const name = path.basename(README);
  const blocks = parseBlocks(fs.readFileSync(README, 'utf8'));
  const shell = blocks.filter((b) => SHELLS.has(b.lang));
  if (shell.length === 0) throw new Error(`${name}: no \`\`\`sh block found`);
  console.log(`readme-check: ${name} has ${blocks.length} code blocks, ${shell.length} of them shell blocks:`);
  const plan = [];
  for (const b of shell) {
    const cmds = commandsOf(b);
    const run = b.skip ? 0 : cmds.filter((c) => !c.notRun).length;
    console.log(`  ${name}:${b.line}  [${b.heading}]  ${b.skip ? `block skipped: ${b.skip}` : `${run} of ${cmds.length} command(s) run`}`);
    if (!b.skip) plan.push(...cmds.map((c) => ({ ...c, block: b })));
  }
  if (LIST_ONLY) {
    for (const c of plan) console.log(`${c.notRun ? 'skip' : 'run '} ${name}:${c.line}: ${c.text}${c.notRun ? `\n       (${c.notRun})` : ''}`);
    return 0;
  }

  const t0 = Date.now();
  const { dir, files } = scratchCopy();
  console.log(`\nscratch copy: ${dir} (${files} tracked files; node_modules linked, build/ copied; \`npm ci\` is replaced by \`npm run build\` there)`);
  const env = cleanEnv();
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: dir, env, encoding: 'utf8' });
  if (build.status !== 0) {
    console.log(`setup: npm run build failed (exit ${build.status}):\n${tail(build.stdout + build.stderr, 40)}`);
    return 1;
  }
  let ran = 0;
  let skipped = 0;
  const failures = [];
  for (const c of plan) {
    if (c.notRun) {
      skipped++;
      console.log(`- ${name}:${c.line}: not run (${c.notRun}): ${c.text}`);
      continue;
    }
    const s = Date.now();
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', c.text], { cwd: dir, env, encoding: 'utf8', timeout: TIMEOUT_S * 1000, maxBuffer: 256 * 1024 * 1024 });
    ran++;
    const secs = ((Date.now() - s) / 1000).toFixed(1);
    const code = r.error ? null : r.status;
    const why = r.error ? (r.error.code === 'ETIMEDOUT' ? `timed out after ${TIMEOUT_S} s` : r.error.message) : r.signal ? `killed by ${r.signal}` : `exit ${code}`;
    if (code === c.expected) {
      console.log(`✓ ${name}:${c.line} (${secs} s${c.expected ? `, exit ${c.expected} as announced` : ''}): ${c.text}`);
    } else {
      failures.push(c);
      console.log(`✗ ${name}:${c.line} (${secs} s): ${why}${c.expected ? ` (the README announces exit ${c.expected})` : ''}: ${c.text}\n${tail(`${r.stdout ?? ''}${r.stderr ?? ''}`, 40)}`);
    }
  }
  if (KEEP) console.log(`scratch copy kept: ${dir}`);
  else fs.rmSync(dir, { recursive: true, force: true });
  const total = ((Date.now() - t0) / 1000).toFixed(0);
  console.log(`\nreadme-check: ${ran} command(s) run, ${skipped} not run (marked), ${failures.length} failed, ${total} s`);
  for (const c of failures) console.log(`  failed: ${name}:${c.line} [${c.block.heading}] ${c.text}`);
  return failures.length === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (e) {
  console.error(`readme-check: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
}
