"""Load an lpclust clustering model in Python, as MLflow's ``python_function`` flavor.

lpclust copies this file into every model it saves (``model/code/lpclust_pyfunc.py``) and names
it as the flavor's ``loader_module``, so that::

    import mlflow
    model = mlflow.pyfunc.load_model("runs:/<run id>/model")
    model.predict(df)   # df: one row per day, one column per slot ("00:00", "01:00", ...)

returns, for each row, the same ``cluster``, ``distance`` and ``margin`` as ``lpclust predict``.
It needs only numpy and pandas (MLflow is not needed to use it: ``_load_pyfunc(path)``).

The arithmetic follows lpclust's own (src/model/predict.ts, src/harmonize/normalize.ts,
src/dtw/kernel-js.ts) operation for operation, so that the numbers agree to rounding:

- normalisation per row, sums taken in slot order: ``l2`` (divide by the Euclidean norm),
  ``zscore`` (subtract the mean, divide by the population standard deviation) or ``none``;
- Euclidean models: squared distances summed in slot order, the nearest centre by the smallest
  sum, distances reported as square roots;
- DTW models: square root of the smallest sum of squared differences along a warping path that
  stays inside the Sakoe-Chiba band ``|i - j| <= radius`` (``radius`` null = full DTW), computed
  in float64, or with every operation rounded to float32 when the model says ``precision:
  float32`` (the precision its training labels were computed in);
- ties go to the lowest cluster number; ``margin`` is the distance to the second-nearest centre
  minus the distance to the nearest (``inf`` for a one-cluster model).
"""

import json
import os

import numpy as np
import pandas as pd

MODEL_FILE = "lpclust-model.json"
FORMAT_VERSION = 1


class LpclustModelError(ValueError):
    """An lpclust model file, or an input to it, that this module cannot use."""


def _load_pyfunc(path):
    """Load the model from ``path``: the model directory or its ``lpclust-model.json``."""
    if os.path.isdir(path):
        path = os.path.join(path, MODEL_FILE)
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    return LpclustPyfuncModel(doc, path)


class LpclustPyfuncModel:
    """An lpclust model ready to assign days; ``predict`` is what MLflow calls."""

    def __init__(self, doc, where="lpclust model"):
        if doc.get("format") != "lpclust-model":
            raise LpclustModelError(f'{where}: expected "format": "lpclust-model" but found {doc.get("format")!r}')
        if doc.get("format_version") != FORMAT_VERSION:
            raise LpclustModelError(
                f"{where}: model format version {doc.get('format_version')} is not supported "
                f"(this loader reads version {FORMAT_VERSION}); save the model again with a matching lpclust"
            )
        self.doc = doc
        self.slots = list(doc["input"]["slots"])
        self.k = int(doc["k"])
        self.metric = doc["metric"]
        self.normalization = doc["normalization"]
        rows = [m["profile"] for m in doc["medoids"]] if doc.get("assign_to") == "medoids" else doc["centres"]
        self.centres = np.asarray(rows, dtype=np.float64).reshape(self.k, len(self.slots))
        dtw = doc.get("dtw") or {}
        self.radius = dtw.get("radius")
        self.precision = dtw.get("precision", "float64")

    def predict(self, model_input, params=None):
        """Assign each row (Wh per slot) to its nearest cluster.

        ``model_input``: a pandas DataFrame with the model's slot columns (other columns, such as
        ``id`` and ``date``, are ignored), or an n x L array in slot order. Returns a DataFrame with
        ``cluster`` (int64), ``distance`` and ``margin`` (float64), indexed as the input.
        """
        index = None
        if isinstance(model_input, pd.DataFrame):
            missing = [s for s in self.slots if s not in model_input.columns]
            if missing:
                raise LpclustModelError(
                    f"the input lacks the slot column(s) {', '.join(missing[:5])}"
                    f"{' ...' if len(missing) > 5 else ''}; the model expects {len(self.slots)} columns "
                    f"{self.slots[0]}..{self.slots[-1]} (Wh per slot)"
                )
            index = model_input.index
            values = model_input[self.slots].to_numpy(dtype=np.float64)
        else:
            values = np.asarray(model_input, dtype=np.float64)
            if values.ndim == 1:
                values = values.reshape(1, -1)
            if values.shape[1] != len(self.slots):
                raise LpclustModelError(f"expected rows of {len(self.slots)} values but received {values.shape[1]}")
        if not np.all(np.isfinite(values)):
            r, c = np.argwhere(~np.isfinite(values))[0]
            raise LpclustModelError(f"expected finite values but row {r + 1} has {values[r, c]} in slot {self.slots[c]}")
        X = _normalize(values, self.normalization)
        D = self._distances(X)
        return _assign(D, squared=self.metric == "euclidean", index=index)

    def _distances(self, X):
        """n x k distances: squared Euclidean, or DTW."""
        n, L = X.shape
        C = self.centres
        if self.metric == "euclidean":
            D = np.zeros((n, self.k), dtype=np.float64)
            for t in range(L):
                d = X[:, t][:, None] - C[:, t][None, :]
                D += d * d
            return D
        radius = L - 1 if self.radius is None else max(0, min(int(self.radius), L - 1))
        dtype = np.float32 if self.precision == "float32" else np.float64
        a = np.repeat(X.astype(dtype), self.k, axis=0)
        b = np.tile(C.astype(dtype), (n, 1))
        return dtw_pairs(a, b, radius).astype(np.float64).reshape(n, self.k)


def dtw_pairs(a, b, radius):
    """DTW distance of each row of ``a`` to the same row of ``b`` (both P x L, one dtype).

    The Sakoe-Chiba band keeps cells with ``|i - j| <= radius``. In float32 every difference,
    square and sum is rounded to float32, as lpclust's float32 kernel does; the minimum of the three
    predecessors is taken before adding, so the order of operations is the same.
    """
    P, L = a.shape
    dtype = a.dtype.type
    inf = dtype(np.inf)
    prev = np.full((P, L + 1), inf, dtype=a.dtype)
    prev[:, 0] = 0
    cur = np.full((P, L + 1), inf, dtype=a.dtype)
    for i in range(L):
        lo = max(0, i - radius)
        hi = min(L - 1, i + radius)
        cur[:, lo] = inf
        left = np.full(P, inf, dtype=a.dtype)
        ai = a[:, i]
        for j in range(lo, hi + 1):
            d = ai - b[:, j]
            m = np.minimum(np.minimum(prev[:, j], prev[:, j + 1]), left)
            left = d * d + m
            cur[:, j + 1] = left
        if hi + 2 <= L:
            cur[:, hi + 2] = inf
        prev, cur = cur, prev
    return np.sqrt(prev[:, L])


def _normalize(values, method):
    """Row normalisation as lpclust's (sums in slot order)."""
    n, L = values.shape
    if method == "none":
        return values.copy()
    out = np.empty_like(values)
    if method == "l2":
        ss = np.zeros(n)
        for j in range(L):
            ss += values[:, j] * values[:, j]
        norm = np.sqrt(ss)
        bad = ~(norm > 0) | ~np.isfinite(norm)
        if bad.any():
            raise LpclustModelError(f"cannot normalise row {int(np.argmax(bad)) + 1}: an all-zero (or overflowing) profile has no L2 norm")
        for j in range(L):
            out[:, j] = values[:, j] / norm
        return out
    if method == "zscore":
        mean = np.zeros(n)
        for j in range(L):
            mean += values[:, j]
        mean /= L
        ss = np.zeros(n)
        for j in range(L):
            d = values[:, j] - mean
            ss += d * d
        sd = np.sqrt(ss / L)
        bad = ~(sd > 0) | ~np.isfinite(sd)
        if bad.any():
            raise LpclustModelError(f"cannot normalise row {int(np.argmax(bad)) + 1}: a constant profile has no standard deviation")
        for j in range(L):
            out[:, j] = (values[:, j] - mean) / sd
        return out
    raise LpclustModelError(f"unknown normalisation {method!r} (expected l2, zscore or none)")


def _assign(D, squared, index=None):
    """Nearest cluster (first on ties), its distance and the margin to the second-nearest."""
    n, k = D.shape
    labels = np.argmin(D, axis=1)
    best = D[np.arange(n), labels]
    second = np.sort(D, axis=1)[:, 1] if k > 1 else np.full(n, np.inf)
    if squared:
        best = np.sqrt(best)
        second = np.sqrt(second)
    return pd.DataFrame(
        {"cluster": labels.astype(np.int64), "distance": best, "margin": second - best},
        index=index,
    )
