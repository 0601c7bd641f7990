#!/usr/bin/python3
"""Generate the reference fixtures the tests compare lpclust against.

Run with Debian's Python stack (not a virtualenv), from the repository root:

    apt-get install -y python3-sklearn python3-scipy
    /usr/bin/python3 scripts/make-fixtures.py            # every group
    /usr/bin/python3 scripts/make-fixtures.py validate   # groups whose name starts with "validate"

Each group is one function that returns {file name: payload}; `main` writes every payload as JSON
under test/fixtures/<dir>/ with a provenance block (library versions, seed, date, generator). The
tests read these JSON files only; they never run Python. To add a group, write a function and add
it to GROUPS.

Inputs and their licences: every input is seeded synthetic data made here (numpy
default_rng(SEED + i) blobs, random matrices and label vectors, hand-written signals); no data set
is read, so the fixtures carry no third-party data. Keep it so: the UCR archive sets and the
inergy-uc7 meter state no licence and must not be copied into fixtures (test/fixtures/README.md).
"""
import os
import sys

import numpy as np
import scipy
import scipy.ndimage
import scipy.signal
import scipy.spatial.distance
import sklearn
from sklearn import metrics

from fixturelib import base_provenance, write_groups

SEED = 20240501


def provenance(group, seed):
    return {
        **base_provenance("scripts/make-fixtures.py", group, seed),
        "scipy": scipy.__version__,
        "sklearn": sklearn.__version__,
    }


def tolist(a):
    """Plain JSON values; floats are written with repr, which reads back to the same double."""
    if isinstance(a, np.ndarray):
        return a.tolist()
    if isinstance(a, (np.floating,)):
        return float(a)
    if isinstance(a, (np.integer,)):
        return int(a)
    return a


def blobs(rng, n, L, k, spread=0.6):
    """Gaussian blobs around k random centres; returns X (n x L) and labels."""
    centres = rng.normal(size=(k, L)) * 2
    labels = rng.integers(0, k, size=n)
    labels[:k] = np.arange(k)  # every cluster non-empty
    X = centres[labels] + rng.normal(size=(n, L)) * spread
    return X, labels


# ----------------------------------------------------------------------------------------------
# validate: silhouette, Davies-Bouldin, Calinski-Harabasz, ARI, find_peaks, peak scores
# ----------------------------------------------------------------------------------------------


def labelled_cases(rng):
    """Data sets with labels used by the index fixtures: name -> (X, labels)."""
    cases = {}
    X, y = blobs(rng, 60, 5, 3)
    cases["blobs_60x5_k3"] = (X, y)
    X, y = blobs(rng, 200, 24, 7, spread=1.5)
    cases["blobs_200x24_k7_overlapping"] = (X, y)
    # L2-normalised rows, like the profiles lpclust clusters.
    X, y = blobs(rng, 80, 24, 4)
    X = np.abs(X)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    cases["l2rows_80x24_k4"] = (X, y)
    # One singleton cluster (its silhouette is 0).
    X, y = blobs(rng, 40, 3, 3)
    y[y == 2] = 1
    y[7] = 2
    cases["singleton_40x3"] = (X, y)
    # Label ids with gaps (cluster 1 and 3 empty): lpclust ignores empty ids as sklearn does.
    X, y = blobs(rng, 50, 4, 3)
    y = np.array([0, 2, 4])[y]
    cases["gapped_ids_50x4"] = (X, y)
    # Two clusters, one of two points, ties in distances (integer grid).
    X = rng.integers(0, 4, size=(30, 2)).astype(float)
    y = rng.integers(0, 2, size=30)
    cases["integer_grid_ties_30x2"] = (X, y)
    return cases


def fixtures_validate_indices():
    rng = np.random.default_rng(SEED)
    out = []
    for name, (X, y) in labelled_cases(rng).items():
        case = {
            "name": name,
            "X": tolist(X),
            "L": int(X.shape[1]),
            "labels": tolist(y),
            "silhouette_score": float(metrics.silhouette_score(X, y)),
            "silhouette_samples": tolist(metrics.silhouette_samples(X, y)),
            "calinski_harabasz": float(metrics.calinski_harabasz_score(X, y)),
        }
        # sklearn computes point-to-centroid distances as sqrt(|x|^2 - 2 x.c + |c|^2), which is
        # ~1e-8 instead of 0 for a singleton cluster; lpclust computes them exactly, so the
        # singleton case has no Davies-Bouldin reference at 1e-12.
        if "singleton" not in name:
            case["davies_bouldin"] = float(metrics.davies_bouldin_score(X, y))
        out.append(case)
    return {"validate/indices.json": {"provenance": provenance("validate_indices", SEED), "cases": out}}


def fixtures_validate_precomputed():
    rng = np.random.default_rng(SEED + 1)
    out = []
    # Euclidean distances of blobs, float64.
    X, y = blobs(rng, 90, 6, 4)
    D = scipy.spatial.distance.cdist(X, X)
    out.append({"name": "cdist_blobs_90_k4", "dtype": "float64", "D": tolist(D), "labels": tolist(y)})
    # A non-metric symmetric matrix with a singleton cluster and a pair.
    n = 25
    A = rng.random((n, n))
    D = (A + A.T) / 2
    np.fill_diagonal(D, 0)
    y = rng.integers(0, 3, size=n)
    y[0] = 3
    y[y == 3] = 2
    y[0] = 3
    y[1] = 4
    y[2] = 4
    out.append({"name": "random_symmetric_singleton_25", "dtype": "float64", "D": tolist(D), "labels": tolist(y)})
    # The same data as float32: sklearn then accumulates in float32 (agreement only to ~1e-6).
    X, y = blobs(rng, 70, 24, 5)
    D = scipy.spatial.distance.cdist(X, X).astype(np.float32)
    out.append({"name": "cdist_blobs_70_k5_float32", "dtype": "float32", "D": tolist(D.astype(np.float64)), "labels": tolist(y)})
    for case in out:
        D = np.array(case["D"], dtype=np.float32 if case["dtype"] == "float32" else np.float64)
        y = np.array(case["labels"])
        case["silhouette_score"] = float(metrics.silhouette_score(D, y, metric="precomputed"))
        case["silhouette_samples"] = tolist(metrics.silhouette_samples(D, y, metric="precomputed").astype(np.float64))
        case["n"] = int(D.shape[0])
    return {"validate/precomputed.json": {"provenance": provenance("validate_precomputed", SEED + 1), "cases": out}}


def fixtures_validate_ari():
    rng = np.random.default_rng(SEED + 2)
    pairs = [
        ("identical", [0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]),
        ("renamed", [0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]),
        ("split", [0, 0, 0, 0, 1, 1], [0, 0, 1, 1, 2, 2]),
        ("all_one_vs_singletons", [0] * 6, list(range(6))),
        ("both_all_one", [1] * 5, [7] * 5),
        ("both_singletons", list(range(5)), list(range(10, 15))),
    ]
    for n, ka, kb in [(100, 3, 4), (500, 2, 2), (1000, 12, 12)]:
        a = rng.integers(0, ka, size=n).tolist()
        b = [(x if rng.random() < 0.7 else int(rng.integers(0, kb))) for x in a]
        pairs.append((f"noisy_{n}_{ka}_{kb}", a, b))
    out = [{"name": name, "a": a, "b": b, "ari": float(metrics.adjusted_rand_score(a, b))} for name, a, b in pairs]
    return {"validate/ari.json": {"provenance": provenance("validate_ari", SEED + 2), "cases": out}}


def fixtures_validate_peaks():
    rng = np.random.default_rng(SEED + 3)
    signals = [
        ("single", [0, 1, 0]),
        ("edges_never_peaks", [5, 1, 2, 1, 5]),
        ("plateau_odd", [0, 2, 2, 2, 0]),
        ("plateau_even", [0, 1, 3, 3, 1, 0]),
        ("plateau_four", [0, 3, 3, 3, 3, 0, 1]),
        ("plateau_to_right_edge", [0, 1, 2, 2, 2]),
        ("plateau_from_left_edge", [2, 2, 2, 1, 0, 1, 0]),
        ("plateau_then_rise", [0, 2, 2, 3, 1]),
        ("constant", [1, 1, 1, 1]),
        ("monotonic", [0, 1, 2, 3, 4]),
        ("too_short", [1, 2]),
        ("empty", []),
        ("exactly_0_2", [0, 0.2, 0]),
        ("just_below_0_2", [0.1, 0.3, 0.1]),
        ("nested", [0, 3, 1, 2, 1, 4, 0, 2, 0]),
        ("negative", [-3, -1, -2, -0.5, -4]),
    ]
    for i in range(6):
        signals.append((f"random_ties_{i}", rng.integers(0, 4, size=24).astype(float).tolist()))
    for i in range(4):
        x = np.abs(rng.normal(size=24)) + np.sin(np.arange(24) / 3)
        signals.append((f"random_l2_{i}", (x / np.linalg.norm(x)).tolist()))
    out = []
    for name, x in signals:
        a = np.array(x, dtype=float)
        peaks, _ = scipy.signal.find_peaks(a)
        prom = scipy.signal.peak_prominences(a, peaks)[0] if len(peaks) else np.array([])
        pr_peaks, props = scipy.signal.find_peaks(a, prominence=0.2)
        out.append({
            "name": name,
            "x": tolist(a),
            "peaks": tolist(peaks),
            "prominences": tolist(prom),
            "prominent_peaks": tolist(pr_peaks),
            "prominent_prominences": tolist(props["prominences"]),
        })
    return {"validate/peaks.json": {"provenance": provenance("validate_peaks", SEED + 3), "cases": out}}


def peak_vector(x, prominence=None):
    v = np.zeros(len(x), dtype=int)
    p, _ = scipy.signal.find_peaks(x, prominence=prominence)
    v[p] = 1
    return v


def reference_peak_scores(X, labels, centres):
    """The old pipeline's peak scores, written with SciPy's primitives (see reference-pipeline.md)."""
    match, perf, rperf = [], [], []
    det, rdet, over, rover = [], [], [], []
    for x, c in zip(X, labels):
        P, C = peak_vector(x), peak_vector(centres[c])
        match.append((1.0 if C.sum() == 0 else 0.0) if P.sum() == 0 else (P @ C) / P.sum())
        P, C = peak_vector(x, 0.2), peak_vector(centres[c], 0.2)
        R = scipy.ndimage.maximum_filter1d(C, size=3)
        den = max(P.sum(), C.sum())
        perf.append(1.0 if den == 0 else (P @ C) / den)
        rperf.append(1.0 if den == 0 else (P @ R) / den)
        if P.sum() > 0:
            det.append((P @ C) / P.sum())
            rdet.append((P @ R) / P.sum())
        if C.sum() > 0:
            over.append((C.sum() - P @ C) / C.sum())
            rover.append((C.sum() - min(P @ R, C.sum())) / C.sum())
    mean = lambda v: float(np.mean(v)) if len(v) else 0.0
    return {
        "Peak Match Score": mean(match),
        "Pr Peak Detection": mean(det),
        "Pr Peak Overdetection": mean(over),
        "Pr Peak Performance": mean(perf),
        "Rel Pr P Performance": mean(rperf),
        "Rel Pr P Detection": mean(rdet),
        "Rel Pr P Overdetection": mean(rover),
    }


def reference_distinctiveness(centres):
    V = [peak_vector(c, 0.2) for c in centres]
    d = []
    for i in range(len(V)):
        for j in range(i + 1, len(V)):
            d.append(min(scipy.spatial.distance.hamming(np.roll(V[i], s), V[j]) for s in (-1, 0, 1)))
    return float(np.mean(d)) if d else 0.0


def fixtures_validate_peak_scores():
    rng = np.random.default_rng(SEED + 4)
    out = []
    for n, k in [(60, 3), (120, 6)]:
        t = np.arange(24)
        shapes = np.array([np.exp(-((t - rng.integers(4, 20)) ** 2) / 4.0) + 0.6 * np.exp(-((t - rng.integers(0, 24)) ** 2) / 2.0) for _ in range(k)])
        labels = rng.integers(0, k, size=n)
        labels[:k] = np.arange(k)
        X = np.abs(shapes[labels] + rng.normal(size=(n, 24)) * 0.15) + 0.05
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        means = np.array([X[labels == c].mean(axis=0) for c in range(k)])
        out.append({
            "name": f"bumps_{n}_k{k}_means",
            "X": tolist(X), "L": 24, "labels": tolist(labels), "centres": tolist(means),
            "scores": reference_peak_scores(X, labels, means),
            "distinctiveness": reference_distinctiveness(means),
        })
        # Centres a model reports (here the normalised shapes themselves).
        cs = shapes / np.linalg.norm(shapes, axis=1, keepdims=True)
        out.append({
            "name": f"bumps_{n}_k{k}_model_centres",
            "X": tolist(X), "L": 24, "labels": tolist(labels), "centres": tolist(cs),
            "scores": reference_peak_scores(X, labels, cs),
            "distinctiveness": reference_distinctiveness(cs),
        })
    return {"validate/peak-scores.json": {"provenance": provenance("validate_peak_scores", SEED + 4), "cases": out}}


# ----------------------------------------------------------------------------------------------
# cluster: k-means inertia (scikit-learn), linkage + fcluster partitions (SciPy)
# ----------------------------------------------------------------------------------------------


def dtw_banded(a, b, r):
    """Banded DTW (sqrt of the minimal sum of squared differences), for the precomputed cases."""
    L = len(a)
    acc = np.full((L + 1, L + 1), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, L + 1):
        for j in range(max(1, i - r), min(L, i + r) + 1):
            acc[i, j] = (a[i - 1] - b[j - 1]) ** 2 + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    return float(np.sqrt(acc[L, L]))


def fixtures_cluster_kmeans():
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(SEED + 10)
    cases = []
    X, _ = blobs(rng, 400, 24, 6, spread=1.0)
    cases.append(("blobs_400x24_k6", X, 6))
    X, _ = blobs(rng, 500, 24, 8, spread=1.5)
    X = np.abs(X)
    X = X / np.linalg.norm(X, axis=1, keepdims=True)
    cases.append(("l2_500x24_k8_overlapping", X, 8))
    X, _ = blobs(rng, 300, 12, 4, spread=0.3)
    cases.append(("blobs_300x12_k4", X, 4))
    out = []
    for name, X, k in cases:
        res = {"name": name, "X": tolist(X), "k": k}
        for init in ("random", "k-means++"):
            km = KMeans(n_clusters=k, init=init, n_init=10, random_state=0, algorithm="lloyd").fit(X)
            res[init] = {"inertia": float(km.inertia_), "labels": tolist(km.labels_)}
        out.append(res)
    # Well separated: every restart finds the same optimum, whatever the seed.
    centres = np.array([[10.0 * c if j == c else 0.0 for j in range(8)] for c in range(5)])
    lab = np.repeat(np.arange(5), 30)
    X = centres[lab] + rng.normal(size=(150, 8)) * 0.2
    km = KMeans(n_clusters=5, init="random", n_init=10, random_state=0).fit(X)
    out.append({"name": "separated_150x8_k5", "X": tolist(X), "k": 5, "truth": tolist(lab),
                "random": {"inertia": float(km.inertia_), "labels": tolist(km.labels_)}})
    return {"cluster/kmeans.json": {"provenance": provenance("cluster_kmeans", SEED + 10), "cases": out}}


def fixtures_cluster_linkage():
    from scipy.cluster.hierarchy import fcluster, linkage

    rng = np.random.default_rng(SEED + 11)
    ks = [2, 3, 4, 5, 8, 13]
    out = []
    X, _ = blobs(rng, 90, 6, 5, spread=1.2)
    grid = rng.integers(0, 4, size=(40, 2)).astype(float)  # many tied distances
    for name, data in (("blobs_90x6", X), ("grid_ties_40x2", grid)):
        for method in ("ward", "average", "complete", "single"):
            Z = linkage(data, method=method)
            out.append({"name": name, "input": "rows", "method": method, "X": tolist(data),
                        "Z": tolist(Z), "partitions": {str(k): tolist(fcluster(Z, k, "maxclust")) for k in ks}})
    # Precomputed DTW distances (radius 1) of random-walk profiles.
    S = np.cumsum(rng.normal(size=(60, 24)), axis=1)
    S = S / np.linalg.norm(S, axis=1, keepdims=True)
    n = len(S)
    D = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            D[i, j] = D[j, i] = dtw_banded(S[i], S[j], 1)
    y = scipy.spatial.distance.squareform(D, checks=False)
    for method in ("average", "complete", "single"):
        Z = linkage(y, method=method)
        out.append({"name": "dtw_60x24", "input": "matrix", "method": method, "D": tolist(D),
                    "Z": tolist(Z), "partitions": {str(k): tolist(fcluster(Z, k, "maxclust")) for k in ks}})
    return {"cluster/linkage.json": {"provenance": provenance("cluster_linkage", SEED + 11), "cases": out}}


# Group name -> function returning {relative path under test/fixtures: payload}.
GROUPS = {
    "validate_indices": fixtures_validate_indices,
    "validate_precomputed": fixtures_validate_precomputed,
    "validate_ari": fixtures_validate_ari,
    "validate_peaks": fixtures_validate_peaks,
    "validate_peak_scores": fixtures_validate_peak_scores,
    "cluster_kmeans": fixtures_cluster_kmeans,
    "cluster_linkage": fixtures_cluster_linkage,
}


def main(argv):
    write_groups(GROUPS, argv)


if __name__ == "__main__":
    main(sys.argv)
