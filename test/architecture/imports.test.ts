/**
 * The import graph of src/ (issue 13): imports run one way (design.md: cli → pipeline → stage
 * libraries → io), with no cycles between files, and the stage libraries know nothing of MLflow.
 * Read from the sources with a regular expression: every relative `import … from`, `export … from`
 * and `import(…)`; `import type`/`export type` lines are erased by TypeScript and do not count
 * as runtime imports for the cycle check, but they do for the layers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../../src');

/**
 * Layers, lowest first: a module may import from its own folder and from lower layers only. A
 * module is a folder of src/, or one of the root files errors.ts, config.ts and index.ts.
 */
const LAYERS: readonly (readonly string[])[] = [
  ['errors'],
  ['util'],
  ['config'],
  ['io', 'profiles'],
  // Below harmonize: harmonization joins the registered ETL sources (etl/sources.ts).
  ['etl'],
  ['tracking', 'harmonize', 'dtw', 'plot'],
  ['validate'],
  ['cluster'],
  ['model'],
  ['queue'],
  ['pipeline'],
  ['assign', 'serve'],
  ['cli'],
  ['index'],
];

/** Imports against the layers that are known and kept on purpose, each with its reason. */
const ALLOWED_UPWARD: Readonly<Record<string, string>> = {
  // A queue worker runs a sweep configuration through the pipeline's own cluster stage (a dynamic
  // import, so the modules do not load each other at start), which is what keeps a queued sweep's
  // summary identical to a local one.
  'queue -> pipeline': 'queued sweep configurations run the pipeline cluster stage',
};

/** Stage libraries: they take data and return results, and never touch MLflow or the CLI. */
const STAGE_LIBRARIES = ['io', 'profiles', 'etl', 'harmonize', 'dtw', 'plot', 'validate', 'cluster'];

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
  dynamic: boolean;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

function edgesOf(file: string): Edge[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: Edge[] = [];
  const re = /(^|\n)\s*(import|export)(\s+type)?\b[^'"]*?\sfrom\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const spec = m[4] ?? m[5];
    const target = path.resolve(path.dirname(file), spec).replace(/\.js$/, '.ts');
    out.push({ from: file, to: target, typeOnly: m[3] !== undefined, dynamic: m[5] !== undefined });
  }
  return out;
}

function moduleOf(file: string): string {
  const rel = path.relative(SRC, file).split(path.sep);
  return rel.length === 1 ? rel[0].replace(/\.ts$/, '') : rel[0];
}

const files = sourceFiles(SRC);
const edges = files.flatMap(edgesOf);
const layerOf = new Map<string, number>();
LAYERS.forEach((mods, i) => {
  for (const m of mods) layerOf.set(m, i);
});

describe('the import graph of src/', () => {
  it('resolves every relative import to a file that exists', () => {
    const missing = edges.filter((e) => !fs.existsSync(e.to)).map((e) => `${path.relative(SRC, e.from)} → ${path.relative(SRC, e.to)}`);
    expect(missing).toEqual([]);
  });

  it('places every module in a layer', () => {
    const unplaced = [...new Set(files.map(moduleOf))].filter((m) => !layerOf.has(m));
    expect(unplaced).toEqual([]);
  });

  it('imports only from the same module or a lower layer (besides the listed exceptions)', () => {
    const upward = new Set<string>();
    for (const e of edges) {
      const a = moduleOf(e.from);
      const b = moduleOf(e.to);
      if (a === b) continue;
      if (layerOf.get(b)! < layerOf.get(a)!) continue;
      upward.add(`${a} -> ${b}`);
    }
    const unexpected = [...upward].filter((k) => !(k in ALLOWED_UPWARD)).sort();
    expect(unexpected).toEqual([]);
    // An exception that no longer happens is dropped from the list.
    expect(Object.keys(ALLOWED_UPWARD).filter((k) => !upward.has(k))).toEqual([]);
  });

  it('keeps the stage libraries free of MLflow and of the CLI', () => {
    const bad = edges
      .filter((e) => STAGE_LIBRARIES.includes(moduleOf(e.from)) && ['tracking', 'cli', 'pipeline'].includes(moduleOf(e.to)))
      .map((e) => `${path.relative(SRC, e.from)} → ${path.relative(SRC, e.to)}`);
    expect(bad).toEqual([]);
  });

  it('has no cycle of runtime imports between files', () => {
    const next = new Map<string, string[]>();
    for (const e of edges) {
      if (e.typeOnly || e.dynamic) continue;
      next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    }
    const state = new Map<string, 1 | 2>();
    const stack: string[] = [];
    const cycles: string[] = [];
    const visit = (f: string): void => {
      state.set(f, 1);
      stack.push(f);
      for (const g of next.get(f) ?? []) {
        if (state.get(g) === 1) cycles.push([...stack.slice(stack.indexOf(g)), g].map((x) => path.relative(SRC, x)).join(' → '));
        else if (state.get(g) === undefined) visit(g);
      }
      stack.pop();
      state.set(f, 2);
    };
    for (const f of files) if (state.get(f) === undefined) visit(f);
    expect(cycles).toEqual([]);
  });

  it('finds the imports it checks (the parser is not blind)', () => {
    // A guard against a regular expression that silently matches nothing: these imports exist.
    const has = (from: string, to: string) => edges.some((e) => path.relative(SRC, e.from) === from && path.relative(SRC, e.to) === to);
    expect(has('cluster/clara.ts', 'dtw/index.ts')).toBe(true);
    expect(has('pipeline/sweep.ts', 'queue/sweep.ts')).toBe(true);
    expect(edges.some((e) => e.typeOnly)).toBe(true);
    expect(edges.some((e) => e.dynamic)).toBe(true);
    expect(edges.length).toBeGreaterThan(500);
  });
});
