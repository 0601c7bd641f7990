#!/usr/bin/python3
"""Generate the DTW and DBA k-means reference fixtures from the reference tools themselves.

The tests in test/dtw/reference-tools.test.ts and test/cluster/dba-tslearn.test.ts read the JSON
this script writes under test/fixtures/dtw/; they never run Python. The reference tools are NOT
dependencies of lpclust and are never vendored: point the script at checkouts of their sources.

Environment (all required unless marked optional):

    TSLEARN_SRC            checkout of https://github.com/tslearn-team/tslearn (the directory that
                           contains the `tslearn` package)
    DTAIDISTANCE_SRC       checkout of https://github.com/wannesm/dtaidistance (the directory that
                           contains `src/dtaidistance`)
    TSLEARN_COMMIT         optional: commit of TSLEARN_SRC, recorded in the fixtures; read with
                           `git rev-parse HEAD` when TSLEARN_SRC is a git work tree
    DTAIDISTANCE_COMMIT    optional: the same for DTAIDISTANCE_SRC
    LPCLUST_DATASETS       optional: the folder holding sgsc-50-households/ (default
                           /work/shared/datasets)

Inputs and their licences (test/fixtures/README.md has the full provenance and attribution):

    - seeded synthetic series (numpy default_rng(SEED), default_rng(SEED + 1)): made here, no
      third-party data;
    - sgsc-50-households/sm_cust50.csv.gz: half-hourly kWh of SGSC households, Smart-Grid
      Smart-City Customer Trial Data, (c) Commonwealth of Australia, CC BY 3.0 AU (attribution
      required, kept in test/fixtures/README.md).

No other data set is read: the UCR archive sets and the inergy-uc7 meter state no licence, so no
series of theirs may be committed (earlier versions of the fixtures held some; they were removed).

Run with Debian's Python stack from the repository root:

    apt-get install -y python3-numpy python3-scipy python3-sklearn python3-numba python3-joblib
    TSLEARN_SRC=/tmp/ref/tslearn DTAIDISTANCE_SRC=/tmp/ref/dtaidistance \\
        /usr/bin/python3 scripts/make-dtw-fixtures.py            # pairwise + dba
    ... scripts/make-dtw-fixtures.py pairwise                     # only test/fixtures/dtw/pairwise.json

tslearn is used through its public API (`tslearn.metrics.dtw`, `TimeSeriesKMeans`). Recent
tslearn needs a newer numba than Debian ships; when the installed numba is older than the
checkout's `numba>=` requirement, the script turns numba's JIT off (numba.config.DISABLE_JIT) so
that tslearn runs its own functions as plain Python: same source, same float64 operations in the
same order, only slower. Whether the JIT was on is recorded in the provenance.
dtaidistance is called on its pure-Python path (`use_c=False`), with its defaults otherwise
(inner_dist "squared euclidean", psi None, penalty 0, no pruning): DTW = sqrt(min Σ (a_i − b_j)²).

Band mapping (checked numerically below): tslearn `sakoe_chiba_radius = r` allows |i − j| ≤ r;
dtaidistance allows |i − j| < window, so `window = r + 1`; no band is `window=None` in
dtaidistance and no `global_constraint` in tslearn. lpclust's radius is tslearn's.
"""
import gzip
import os
import re
import subprocess
import sys
import warnings

import numpy as np

from fixturelib import base_provenance, write_groups

DATASETS = os.environ.get("LPCLUST_DATASETS", "/work/shared/datasets")
SEED = 20261121
RADII = [0, 1, 2, 4, None]  # None = no band


def fail(msg):
    print(f"make-dtw-fixtures: {msg}", file=sys.stderr)
    sys.exit(2)


def source_dir(var, must_contain):
    path = os.environ.get(var)
    if not path:
        fail(
            f"{var} is not set. Set TSLEARN_SRC and DTAIDISTANCE_SRC to checkouts of "
            "tslearn-team/tslearn and wannesm/dtaidistance (see this script's header)."
        )
    if not os.path.exists(os.path.join(path, must_contain)):
        fail(f"{var}={path} does not contain {must_contain}")
    return os.path.abspath(path)


def source_commit(var, path):
    commit = os.environ.get(var)
    if not commit:
        try:
            commit = subprocess.run(
                ["git", "-C", path, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            fail(f"cannot read the commit of {path}: set {var} to the 40-hex commit it was extracted from")
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        fail(f"{var}={commit!r} is not a 40-hex commit")
    return commit


TSLEARN_SRC = source_dir("TSLEARN_SRC", "tslearn/__init__.py")
DTAI_SRC = source_dir("DTAIDISTANCE_SRC", "src/dtaidistance/dtw.py")
TSLEARN_COMMIT = source_commit("TSLEARN_COMMIT", TSLEARN_SRC)
DTAI_COMMIT = source_commit("DTAIDISTANCE_COMMIT", DTAI_SRC)


def numba_jit_usable():
    """False when the installed numba is older than what the tslearn checkout requires."""
    import numba

    have = tuple(int(x) for x in re.findall(r"\d+", numba.__version__)[:2])
    need = None
    pyproject = os.path.join(TSLEARN_SRC, "pyproject.toml")
    if os.path.exists(pyproject):
        m = re.search(r'"numba\s*>=\s*([0-9.]+)"', open(pyproject).read())
        if m:
            need = tuple(int(x) for x in m.group(1).split(".")[:2])
    if need is not None and have < need:
        # Must happen before tslearn is imported: njit reads the flag when it decorates.
        numba.config.DISABLE_JIT = True
        return False, numba.__version__, m.group(1)
    return True, numba.__version__, need and m.group(1)


NUMBA_JIT, NUMBA_VERSION, NUMBA_NEEDED = numba_jit_usable()
sys.path.insert(0, TSLEARN_SRC)
sys.path.insert(0, os.path.join(DTAI_SRC, "src"))

import tslearn  # noqa: E402
from tslearn.clustering import TimeSeriesKMeans  # noqa: E402
from tslearn.metrics import cdist_dtw, dtw as ts_dtw  # noqa: E402
from dtaidistance import dtw as dd_dtw  # noqa: E402
import dtaidistance  # noqa: E402

if not tslearn.__file__.startswith(TSLEARN_SRC) or not dtaidistance.__file__.startswith(DTAI_SRC):
    fail(f"imported tslearn from {tslearn.__file__} and dtaidistance from {dtaidistance.__file__}, not the checkouts")


def provenance(group):
    s = dd_dtw.DTWSettings()
    return {
        **base_provenance("scripts/make-dtw-fixtures.py", group, SEED),
        "tslearn": {
            "repository": "https://github.com/tslearn-team/tslearn",
            "commit": TSLEARN_COMMIT,
            "version": tslearn.__version__,
            "numba": NUMBA_VERSION,
            "numba_jit": NUMBA_JIT,
            "note": None
            if NUMBA_JIT
            else f"numba {NUMBA_VERSION} < {NUMBA_NEEDED} required by this tslearn: JIT disabled, tslearn's functions ran as plain Python",
        },
        "dtaidistance": {
            "repository": "https://github.com/wannesm/dtaidistance",
            "commit": DTAI_COMMIT,
            "version": getattr(dtaidistance, "__version__", None),
            "path": "pure Python (dtw.distance(..., use_c=False))",
            "defaults": {"inner_dist": str(s.inner_dist), "psi": s.psi, "penalty": s.penalty, "use_pruning": s.use_pruning},
        },
    }


# ----------------------------------------------------------------------------------------------
# Data: seeded random series and real daily profiles
# ----------------------------------------------------------------------------------------------


def l2_rows(X):
    """lpclust's normalizeRows(..., 'l2') operation for operation: sequential Σ v·v, sqrt, divide.
    (numpy.linalg.norm sums in another order and can differ in the last bit.)"""
    out = np.empty_like(X)
    for i, row in enumerate(X):
        ss = 0.0
        for v in row.tolist():
            ss += v * v
        norm = ss ** 0.5
        if not norm > 0:
            raise ValueError(f"row {i} has no L2 norm")
        out[i] = [v / norm for v in row.tolist()]
    return out


def households_days(n_customers, days_per_customer):
    """The first `days_per_customer` complete, non-zero 48-slot days (kWh per half hour) of each of
    the first `n_customers` SGSC households, in file order (sorted by customer, then time)."""
    path = os.path.join(DATASETS, "sgsc-50-households", "sm_cust50.csv.gz")
    out, ids, per = [], [], {}

    def flush(key, slots):
        if key is None or len(slots) != 48 or per.get(key[0], 0) >= days_per_customer:
            return
        values = [slots[s] for s in range(48)]
        if sum(values) > 0:
            per[key[0]] = per.get(key[0], 0) + 1
            out.append(values)
            ids.append(f"{key[0]} {key[1]}")

    with gzip.open(path, "rt") as f:
        next(f)
        key, slots = None, {}
        for line in f:
            cid, ts, _event, kwh = line.split(",")[:4]
            if (cid, ts[:10]) != key:
                flush(key, slots)
                if cid not in per and len(per) == n_customers:
                    break
                key, slots = (cid, ts[:10]), {}
                per.setdefault(cid, 0)
            slots[int(ts[11:13]) * 2 + int(ts[14:16]) // 30] = float(kwh)
        else:
            flush(key, slots)
    return np.array(out), ids


def series_sets():
    rng = np.random.default_rng(SEED)
    sets = []
    X = rng.normal(size=(6, 24))
    sets.append(("random-normal-24", "numpy default_rng(seed) normal, 6 x 24", X, None))
    X = np.cumsum(rng.normal(size=(5, 48)), axis=1)
    sets.append(("random-walk-48", "numpy default_rng(seed) cumulative normal, 5 x 48", X, None))
    # Short series with integer values: many equal costs, so ties between the three predecessors.
    X = rng.integers(0, 3, size=(6, 7)).astype(float)
    sets.append(("random-integers-7", "numpy default_rng(seed) integers 0..2, 6 x 7 (ties)", X, None))
    X, ids = households_days(3, 2)
    sets.append(("sgsc-households-48", "sgsc-50-households/sm_cust50.csv.gz, first 2 complete days of the first 3 customers (kWh)", X, ids))
    return sets


# ----------------------------------------------------------------------------------------------
# pairwise: DTW distances by tslearn and dtaidistance
# ----------------------------------------------------------------------------------------------


def tslearn_dtw(a, b, r):
    if r is None:
        return float(ts_dtw(a, b))
    return float(ts_dtw(a, b, global_constraint="sakoe_chiba", sakoe_chiba_radius=r))


def dtai_dtw(a, b, r):
    # dtaidistance's band is |i - j| < window: radius r is window r + 1; None is no band.
    return float(dd_dtw.distance(a, b, window=None if r is None else r + 1, use_c=False))


def rkey(r):
    return "full" if r is None else str(r)


def fixtures_pairwise():
    cases = []
    summary = {}
    mapping_check = {}
    for name, source, raw, ids in series_sets():
        for norm in ("none", "l2"):
            X = raw if norm == "none" else l2_rows(raw)
            n, L = X.shape
            pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
            ts, dd = {}, {}
            for r in RADII:
                ts[rkey(r)] = [tslearn_dtw(X[i], X[j], r) for i, j in pairs]
                dd[rkey(r)] = [dtai_dtw(X[i], X[j], r) for i, j in pairs]
                rel = max(abs(a - b) / max(abs(a), 1e-300) for a, b in zip(ts[rkey(r)], dd[rkey(r)]))
                summary.setdefault(rkey(r), 0.0)
                summary[rkey(r)] = max(summary[rkey(r)], rel)
                if r is not None and r >= 1:
                    # The tempting mapping window = r is a narrower band: record that it differs.
                    wrong = [float(dd_dtw.distance(X[i], X[j], window=r, use_c=False)) for i, j in pairs]
                    diff = max(abs(a - b) for a, b in zip(ts[rkey(r)], wrong))
                    mapping_check[rkey(r)] = max(mapping_check.get(rkey(r), 0.0), diff)
            case = {
                "name": f"{name}/{norm}",
                "source": source,
                "normalization": norm,
                "n": n,
                "length": L,
                "series": X.tolist(),
                "pairs": pairs,
                "tslearn": ts,
                "dtaidistance": dd,
            }
            if ids:
                case["ids"] = ids
            cases.append(case)
            print(f"pairwise: {name}/{norm} n={n} L={L}", file=sys.stderr)
    prov = provenance("pairwise")
    prov["radii"] = [rkey(r) for r in RADII]
    prov["band"] = {
        "tslearn": 'dtw(a, b, global_constraint="sakoe_chiba", sakoe_chiba_radius=r); "full": dtw(a, b)',
        "dtaidistance": 'dtw.distance(a, b, window=r + 1, use_c=False); "full": window=None',
    }
    prov["max_relative_difference_tslearn_vs_dtaidistance"] = summary
    prov["max_abs_difference_if_window_were_r"] = mapping_check
    return {"dtw/pairwise.json": {"provenance": prov, "cases": cases}}


# ----------------------------------------------------------------------------------------------
# dba: tslearn TimeSeriesKMeans(metric="dtw") from explicit initial centres
# ----------------------------------------------------------------------------------------------


# The band goes into metric_params as {"sakoe_chiba_radius": r} (global constraint inferred), NOT
# as {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": r}: at the tslearn commit used
# here, TimeSeriesKMeans hands metric_params unchanged to dtw_barycenter_averaging_petitjean, whose
# _petitjean_assignment calls the internal _njit_dtw_path with the *string* "sakoe_chiba" where an
# integer code is expected; the mask then falls through to "no constraint", so the assignment step
# is banded but the barycentre update is not. `band_probe` below records that difference.
def metric_params(radius):
    return {"sakoe_chiba_radius": radius}


def dba_run(X, init, k, radius, max_iter):
    n, L = X.shape
    km = TimeSeriesKMeans(
        n_clusters=k,
        metric="dtw",
        max_iter=max_iter,
        tol=1e-6,
        max_iter_barycenter=30,
        metric_params=metric_params(radius),
        init=init.reshape(k, L, 1),
        n_init=1,
        random_state=0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        km.fit(X.reshape(n, L, 1))
    centres = km.cluster_centers_.reshape(k, L)
    labels = km.labels_.astype(int)
    # tslearn's inertia_ is the mean squared distance of the LAST assignment inside the loop, made
    # before the last centre update; the labels are re-assigned to the final centres in _post_fit.
    # Also record the mean squared distance of the final labels to the final centres.
    D = cdist_dtw(X.reshape(n, L, 1), km.cluster_centers_, **metric_params(radius))
    inertia_final = float(np.sum(D[np.arange(n), labels] ** 2) / n)
    print(f"dba: n={n} L={L} k={k} max_iter={max_iter} n_iter={km.n_iter_} inertia={km.inertia_} final={inertia_final}", file=sys.stderr)
    return {
        "max_iter": max_iter,
        "labels": labels.tolist(),
        "centres": centres.tolist(),
        "inertia": float(km.inertia_),
        "inertia_final": inertia_final,
        "n_iter": int(km.n_iter_),
        "cluster_sizes": np.bincount(labels, minlength=k).tolist(),
        "warnings": sorted({f"{w.category.__name__}: {w.message}" for w in caught}),
    }


def dba_case(name, source, raw, ids, k, radius, max_iters, init_rows, decimals, normalization="l2"):
    X = l2_rows(raw) if normalization == "l2" else raw.copy()
    n, L = X.shape
    init = X[init_rows].copy()
    return {
        "name": name,
        "source": source,
        "normalization": normalization,
        "note": "`raw` as read; the inputs are lpclust's normalizeRows(raw, normalization), checked bit for bit by `input_first_row`",
        "n": n,
        "length": L,
        "ids": ids,
        "raw": np.round(raw, decimals).tolist() if decimals is not None else raw.tolist(),
        "input_first_row": X[0].tolist(),
        "k": k,
        "radius": radius,
        "tol": 1e-6,
        "init_rows": list(init_rows),
        "init_centres": init.tolist(),
        "runs": [dba_run(X, init, k, radius, m) for m in max_iters],
    }


def band_probe(case):
    """One barycentre update of cluster 0 from the first assignment, with both spellings of the band."""
    from tslearn.barycenters.dba import dtw_barycenter_averaging_petitjean

    L = case["length"]
    X = np.array(case["raw"])
    X = l2_rows(X) if case["normalization"] == "l2" else X
    init = np.array(case["init_centres"])
    radius = case["radius"]
    D = cdist_dtw(X.reshape(len(X), L, 1), init.reshape(-1, L, 1), **metric_params(radius))
    members = X[D.argmin(axis=1) == 0].reshape(-1, L, 1)
    out = {}
    for label, mp in (("inferred", metric_params(radius)), ("string", {"global_constraint": "sakoe_chiba", "sakoe_chiba_radius": radius}), ("none", {})):
        out[label] = dtw_barycenter_averaging_petitjean(members, init_barycenter=init[0].reshape(L, 1), metric_params=mp).ravel()
    return {
        "case": case["name"],
        "max_abs_string_vs_inferred": float(np.max(np.abs(out["string"] - out["inferred"]))),
        "max_abs_string_vs_unbanded": float(np.max(np.abs(out["string"] - out["none"]))),
    }


def fixtures_dba():
    cases = []
    rng = np.random.default_rng(SEED + 1)
    # This draw picked the initial rows of a case built on a UCR set, removed for want of a licence.
    # It is still made, and discarded, so that the cases below get the same initial rows and
    # integers as the committed fixture.
    rng.choice(200, 3, replace=False)
    raw, ids = households_days(10, 30)
    raw = np.round(raw, 3)
    init_rows = sorted(rng.choice(len(raw), 4, replace=False).tolist())
    # max_iter 3 stops before convergence (inertia_ then differs from inertia_final); 20 converges.
    cases.append(dba_case("sgsc-households-48", "sgsc-50-households/sm_cust50.csv.gz, first 30 complete non-zero days of the first 10 customers (kWh)",
                          raw, ids, 4, 1, [3, 20], init_rows, 3))
    # Small integers, not normalised: many exactly equal costs, so the tie-breaking of the warping
    # path (diagonal, then (i-1, j), then (i, j-1)) and of the nearest centre (lowest index) matter.
    raw = rng.integers(0, 4, size=(60, 12)).astype(float)
    init_rows = [0, 1, 2]
    cases.append(dba_case("random-integers-12", "numpy default_rng(seed + 1) integers 0..3, 60 x 12, not normalised (ties)",
                          raw, None, 3, 2, [10], init_rows, None, normalization="none"))
    for c in cases:
        for run in c["runs"]:
            if min(run["cluster_sizes"]) == 0 or run["warnings"]:
                fail(f"dba case {c['name']}: empty cluster or warning {run['warnings']}: pick other initial rows")
    prov = provenance("dba")
    prov["call"] = (
        'TimeSeriesKMeans(n_clusters=k, metric="dtw", max_iter=max_iter, tol=1e-6, max_iter_barycenter=30, '
        'metric_params={"sakoe_chiba_radius": radius}, init=init_centres, n_init=1, random_state=0).fit(l2(raw))'
    )
    prov["semantics"] = (
        "inertia = tslearn inertia_ (mean squared DTW at the last in-loop assignment, before the last "
        "centre update); inertia_final = mean squared DTW of the final labels to the final centres; "
        "labels = argmin to the final centres; tslearn runs DBA (Petitjean) with its own default "
        "max_iter=30, tol=1e-5 whatever max_iter_barycenter says."
    )
    prov["band_spelling"] = (
        'metric_params={"global_constraint": "sakoe_chiba", ...} leaves the barycentre update of this '
        "tslearn unbanded (string reaches _njit_dtw_path); the inferred form bands both steps. "
        "band_probe: one update with each spelling."
    )
    prov["band_probe"] = band_probe(cases[0])
    return {"dtw/dba-kmeans.json": {"provenance": prov, "cases": cases}}


GROUPS = {"pairwise": fixtures_pairwise, "dba": fixtures_dba}


def main(argv):
    write_groups(GROUPS, argv)


if __name__ == "__main__":
    main(sys.argv)
