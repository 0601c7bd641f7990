// lpclust native k-means: one whole Lloyd restart with Hamerly's bounds, and the Hartigan
// refinement, as src/cluster/kmeans.ts computes them.
//
// Why native: a restart is ~40 passes over n rows of a few dozen values; in TypeScript the loops
// around the distance kernel (the M-step, the bound updates, the per-row own-centre distance)
// cost more than the distances themselves. Here the whole restart is one call.
//
// Identical results: every floating-point operation is the TypeScript one, in the same order
// (the build uses -ffp-contract=off, so no multiply-add is fused, and no reduction is
// reassociated). Vector code only runs independent lanes side by side: the distances of one row
// to several centres (one centre per lane, slots summed in order), or the columns of a mean.
// test/cluster/kmeans-native.test.ts checks bit equality with the TypeScript path.

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace lpclust_kmeans {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LPC_PORTABLE)
#define LPC_KM_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define LPC_KM_CLONES
#endif

// Squared Euclidean distance of row i of a and row j of b, slots summed in order (as sqDist).
inline double sq_dist(const double* a, int64_t i, const double* b, int64_t j, int dim) {
  double s = 0;
  const double* x = a + i * dim;
  const double* y = b + j * dim;
  for (int t = 0; t < dim; t++) {
    const double d = x[t] - y[t];
    s += d * d;
  }
  return s;
}

// Squared distances of one row to all k centres; cT holds the centres transposed (slot-major,
// cT[t * k + j]) so that the loop over centres is the vectorised one; each lane sums its slots
// in order, starting from 0 as sqDist does.
LPC_KM_CLONES void row_to_centres(const double* x, const double* cT, int k, int dim, double* acc) {
  for (int j = 0; j < k; j++) acc[j] = 0;
  for (int t = 0; t < dim; t++) {
    const double xt = x[t];
    const double* c = cT + static_cast<int64_t>(t) * k;
    for (int j = 0; j < k; j++) {
      const double d = xt - c[j];
      acc[j] += d * d;
    }
  }
}

void transpose(const double* centres, int k, int dim, double* cT) {
  for (int j = 0; j < k; j++)
    for (int t = 0; t < dim; t++) cT[static_cast<int64_t>(t) * k + j] = centres[static_cast<int64_t>(j) * dim + t];
}

// Nearest and second-nearest centre of the rows todo[0..m): the distances compared are the
// square roots (as the native block kernel returns them to the TypeScript path), ties to the
// lowest index. Returns how many labels changed.
LPC_KM_CLONES int64_t nearest_two(const double* data, int dim, const double* centres, int k, const int32_t* todo, int64_t m,
                    int32_t* labels, double* upper, double* lower, std::vector<double>& cT, std::vector<double>& acc) {
  transpose(centres, k, dim, cT.data());
  int64_t changed = 0;
  for (int64_t q = 0; q < m; q++) {
    const int64_t i = todo[q];
    row_to_centres(data + i * dim, cT.data(), k, dim, acc.data());
    double b1 = std::numeric_limits<double>::infinity();
    double b2 = b1;
    int a = 0;
    for (int j = 0; j < k; j++) {
      const double d = std::sqrt(acc[j]);
      if (d < b1) {
        b2 = b1;
        b1 = d;
        a = j;
      } else if (d < b2) {
        b2 = d;
      }
    }
    if (labels[i] != a) {
      labels[i] = a;
      changed++;
    }
    upper[i] = b1;
    lower[i] = b2;
  }
  return changed;
}

void half_gaps(const double* centres, int k, int dim, double* half) {
  for (int c = 0; c < k; c++) {
    double m = std::numeric_limits<double>::infinity();
    for (int c2 = 0; c2 < k; c2++) {
      if (c2 == c) continue;
      const double d = sq_dist(centres, c, centres, c2, dim);
      if (d < m) m = d;
    }
    half[c] = std::sqrt(m) / 2;
  }
}

// Nearest centre by squared distance, ties to the lowest index (as nearestCentre).
inline int nearest_centre(const double* data, int64_t i, const double* centres, int k, int dim, double* dist2) {
  double best = std::numeric_limits<double>::infinity();
  int bj = 0;
  for (int j = 0; j < k; j++) {
    const double d = sq_dist(data, i, centres, j, dim);
    if (d < best) {
      best = d;
      bj = j;
    }
  }
  dist2[i] = best;
  return bj;
}

constexpr double BOUND_MARGIN = 1e-9;

struct Result {
  double inertia;
  int n_iter;
  int empty_reseeds;
};

// The port of lloydHamerly + finalAssignment (kmeans.ts); centres are updated in place and the
// final labels written to labels_out.
LPC_KM_CLONES Result lloyd(const double* data, int64_t n, int dim, double* centres, int k, int max_iter, double tol_abs,
             int32_t* labels_out) {
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t kd = static_cast<int64_t>(k) * dim;
  std::vector<int32_t> labels(n, -1);
  std::vector<double> upper(n), lower(n), half(k), sums(kd), next(kd), shift(k), cT(kd), acc(k);
  std::vector<int32_t> sizes(k), todo(n);
  int empty_reseeds = 0;
  int n_iter = 0;
  for (int64_t i = 0; i < n; i++) todo[i] = static_cast<int32_t>(i);
  nearest_two(data, dim, centres, k, todo.data(), n, labels.data(), upper.data(), lower.data(), cT, acc);
  int64_t changed = n;
  bool stale = false;
  bool moved = false;
  for (int it = 0; it < max_iter; it++) {
    n_iter = it + 1;
    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(sizes.begin(), sizes.end(), 0);
    for (int64_t i = 0; i < n; i++) {
      const int c = labels[i];
      sizes[c]++;
      double* s = sums.data() + static_cast<int64_t>(c) * dim;
      const double* x = data + i * dim;
      for (int t = 0; t < dim; t++) s[t] += x[t];
    }
    bool reseeded = false;
    for (int c = 0; c < k; c++) {
      if (sizes[c] > 0) continue;
      int64_t far = -1;
      double far_d = -1;
      for (int64_t i = 0; i < n; i++) {
        if (sizes[labels[i]] < 2) continue;
        const double d = sq_dist(data, i, centres, labels[i], dim);
        if (d > far_d) {
          far_d = d;
          far = i;
        }
      }
      if (far < 0) break;  // unreachable with n ≥ k (checked by the caller)
      const int old = labels[far];
      sizes[old]--;
      for (int t = 0; t < dim; t++) sums[static_cast<int64_t>(old) * dim + t] -= data[far * dim + t];
      labels[far] = c;
      sizes[c] = 1;
      for (int t = 0; t < dim; t++) sums[static_cast<int64_t>(c) * dim + t] = data[far * dim + t];
      empty_reseeds++;
      reseeded = true;
    }
    double shift_tot = 0;
    double max_shift = 0;
    int max_shift_idx = 0;
    double second_shift = 0;
    for (int c = 0; c < k; c++) {
      double s = 0;
      for (int t = 0; t < dim; t++) {
        const int64_t at = static_cast<int64_t>(c) * dim + t;
        const double v = sums[at] / sizes[c];
        next[at] = v;
        const double d = v - centres[at];
        s += d * d;
      }
      shift_tot += s;
      shift[c] = std::sqrt(s);
      if (shift[c] > max_shift) {
        second_shift = max_shift;
        max_shift = shift[c];
        max_shift_idx = c;
      } else if (shift[c] > second_shift) {
        second_shift = shift[c];
      }
    }
    std::copy(next.begin(), next.end(), centres);
    moved = true;
    stale = reseeded;
    if (changed == 0 && !reseeded) break;
    if (shift_tot <= tol_abs) break;
    moved = false;
    stale = false;
    if (reseeded) {
      for (int64_t i = 0; i < n; i++) {
        upper[i] = inf;
        lower[i] = 0;
      }
    } else {
      for (int64_t i = 0; i < n; i++) {
        upper[i] += shift[labels[i]];
        lower[i] -= labels[i] == max_shift_idx ? second_shift : max_shift;
      }
    }
    half_gaps(centres, k, dim, half.data());
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++) {
      const int a = labels[i];
      const double bound = half[a] > lower[i] ? half[a] : lower[i];
      if (upper[i] <= bound) continue;
      upper[i] = std::sqrt(sq_dist(data, i, centres, a, dim));
      if (upper[i] <= bound) continue;
      todo[m++] = static_cast<int32_t>(i);
    }
    changed = m > 0 ? nearest_two(data, dim, centres, k, todo.data(), m, labels.data(), upper.data(), lower.data(), cT, acc)
                    : 0;
  }
  // Final exact assignment (finalAssignment in kmeans.ts).
  std::vector<double> dist2(n);
  if (stale) {
    for (int64_t i = 0; i < n; i++) labels_out[i] = nearest_centre(data, i, centres, k, dim, dist2.data());
  } else {
    double max_shift = 0;
    int max_shift_idx = -1;
    double second_shift = 0;
    if (moved) {
      for (int c = 0; c < k; c++) {
        if (shift[c] > max_shift) {
          second_shift = max_shift;
          max_shift = shift[c];
          max_shift_idx = c;
        } else if (shift[c] > second_shift) {
          second_shift = shift[c];
        }
      }
    }
    half_gaps(centres, k, dim, half.data());
    for (int64_t i = 0; i < n; i++) {
      const int a = labels[i];
      const double own = sq_dist(data, i, centres, a, dim);
      const double lo = moved ? lower[i] - (a == max_shift_idx ? second_shift : max_shift) : lower[i];
      const double bound = (half[a] > lo ? half[a] : lo) * (1 - BOUND_MARGIN);
      if (std::sqrt(own) < bound) {
        dist2[i] = own;
        labels_out[i] = a;
        continue;
      }
      labels_out[i] = nearest_centre(data, i, centres, k, dim, dist2.data());
    }
  }
  double inertia = 0;
  for (int64_t i = 0; i < n; i++) inertia += dist2[i];
  return {inertia, n_iter, empty_reseeds};
}

// The port of hartiganRefine (kmeans.ts): the move passes, then (when a row moved) the exact
// means of the new labels into centres_out and the nearest-centre labels into labels, with their
// inertia; returns the number of moves. The caller keeps the no-worse guard.
LPC_KM_CLONES int64_t hartigan(const double* data, int64_t n, int dim, int k, int32_t* labels, int max_passes, double* centres_out,
                 double* inertia_out) {
  const int64_t kd = static_cast<int64_t>(k) * dim;
  std::vector<int32_t> sizes(k);
  std::vector<double> centres(kd, 0.0);
  for (int64_t i = 0; i < n; i++) {
    sizes[labels[i]]++;
    for (int t = 0; t < dim; t++) centres[static_cast<int64_t>(labels[i]) * dim + t] += data[i * dim + t];
  }
  for (int c = 0; c < k; c++)
    for (int t = 0; t < dim; t++) centres[static_cast<int64_t>(c) * dim + t] /= sizes[c] != 0 ? sizes[c] : 1;
  // The centres also transposed (kept in step with every move), so that a row's distances to all
  // of them come from one vectorised pass; each is the sq_dist of that centre, bit for bit.
  std::vector<double> cT(kd), acc(k);
  transpose(centres.data(), k, dim, cT.data());
  int64_t moves = 0;
  for (int pass = 0; pass < max_passes; pass++) {
    int64_t moved = 0;
    for (int64_t i = 0; i < n; i++) {
      const int a = labels[i];
      const int na = sizes[a];
      if (na <= 1) continue;
      row_to_centres(data + i * dim, cT.data(), k, dim, acc.data());
      const double cost_a = (acc[a] * na) / (na - 1);
      int best = a;
      double best_v = cost_a;
      for (int b = 0; b < k; b++) {
        if (b == a) continue;
        const int nb = sizes[b];
        const double v = (acc[b] * nb) / (nb + 1);
        if (v < best_v) {
          best_v = v;
          best = b;
        }
      }
      if (best == a || !(best_v < cost_a * (1 - 1e-12))) continue;
      const int nb = sizes[best];
      for (int t = 0; t < dim; t++) {
        const double x = data[i * dim + t];
        double& ca = centres[static_cast<int64_t>(a) * dim + t];
        double& cb = centres[static_cast<int64_t>(best) * dim + t];
        ca = (ca * na - x) / (na - 1);
        cb = (cb * nb + x) / (nb + 1);
        cT[static_cast<int64_t>(t) * k + a] = ca;
        cT[static_cast<int64_t>(t) * k + best] = cb;
      }
      sizes[a]--;
      sizes[best]++;
      labels[i] = best;
      moved++;
    }
    moves += moved;
    if (moved == 0) break;
  }
  if (moves == 0) return 0;
  // finishRefine: exact means of the new labels, then the nearest-centre assignment to them.
  std::fill(centres.begin(), centres.end(), 0.0);
  for (int64_t i = 0; i < n; i++)
    for (int t = 0; t < dim; t++) centres[static_cast<int64_t>(labels[i]) * dim + t] += data[i * dim + t];
  for (int c = 0; c < k; c++)
    for (int t = 0; t < dim; t++) centres[static_cast<int64_t>(c) * dim + t] /= sizes[c];
  transpose(centres.data(), k, dim, cT.data());
  double inertia = 0;
  for (int64_t i = 0; i < n; i++) {
    row_to_centres(data + i * dim, cT.data(), k, dim, acc.data());
    double best = std::numeric_limits<double>::infinity();
    int bj = 0;
    for (int j = 0; j < k; j++) {
      if (acc[j] < best) {
        best = acc[j];
        bj = j;
      }
    }
    labels[i] = bj;
    inertia += best;
  }
  std::copy(centres.begin(), centres.end(), centres_out);
  *inertia_out = inertia;
  return moves;
}

template <typename T> T* typed(Napi::Env env, const Napi::Value& v, size_t min_len, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string("kmeans: ") + what + " must be a typed array");
  napi_typedarray_type type;
  size_t length;
  void* data = nullptr;
  napi_value buffer;
  size_t offset;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok)
    throw Napi::Error::New(env, "kmeans: cannot read typed array");
  const napi_typedarray_type want = sizeof(T) == 8 ? napi_float64_array : napi_int32_array;
  if (type != want) throw Napi::TypeError::New(env, std::string("kmeans: ") + what + " has the wrong element type");
  if (length < min_len) throw Napi::RangeError::New(env, std::string("kmeans: ") + what + " is too short");
  return static_cast<T*>(data);
}

// JS: kmeansLloyd(data: Float64Array, n, dim, centres: Float64Array (in/out), k, maxIter, tolAbs,
// labels: Int32Array (out)) → [inertia, nIter, emptyReseeds].
Napi::Value KMeansLloyd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 8) throw Napi::TypeError::New(env, "kmeansLloyd: wrong arguments");
  const int64_t n = info[1].As<Napi::Number>().Int64Value();
  const int dim = info[2].As<Napi::Number>().Int32Value();
  const int k = info[4].As<Napi::Number>().Int32Value();
  const int max_iter = info[5].As<Napi::Number>().Int32Value();
  const double tol_abs = info[6].As<Napi::Number>().DoubleValue();
  if (n < 1 || dim < 1 || k < 1 || k > n || n > INT32_MAX) throw Napi::RangeError::New(env, "kmeansLloyd: bad sizes");
  const double* data = typed<double>(env, info[0], static_cast<size_t>(n) * dim, "data");
  double* centres = typed<double>(env, info[3], static_cast<size_t>(k) * dim, "centres");
  int32_t* labels = typed<int32_t>(env, info[7], static_cast<size_t>(n), "labels");
  const Result r = lloyd(data, n, dim, centres, k, max_iter, tol_abs, labels);
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, r.inertia));
  out.Set(1u, Napi::Number::New(env, r.n_iter));
  out.Set(2u, Napi::Number::New(env, r.empty_reseeds));
  return out;
}

// JS: kmeansHartigan(data: Float64Array, n, dim, k, labels: Int32Array (in/out), maxPasses,
// centres: Float64Array (out)) → [moves, inertia] (centres, labels and inertia only when moves > 0).
Napi::Value KMeansHartigan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 7) throw Napi::TypeError::New(env, "kmeansHartigan: wrong arguments");
  const int64_t n = info[1].As<Napi::Number>().Int64Value();
  const int dim = info[2].As<Napi::Number>().Int32Value();
  const int k = info[3].As<Napi::Number>().Int32Value();
  const int max_passes = info[5].As<Napi::Number>().Int32Value();
  if (n < 1 || dim < 1 || k < 1 || n > INT32_MAX) throw Napi::RangeError::New(env, "kmeansHartigan: bad sizes");
  const double* data = typed<double>(env, info[0], static_cast<size_t>(n) * dim, "data");
  int32_t* labels = typed<int32_t>(env, info[4], static_cast<size_t>(n), "labels");
  for (int64_t i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= k) throw Napi::RangeError::New(env, "kmeansHartigan: label out of range");
  double* centres = typed<double>(env, info[6], static_cast<size_t>(k) * dim, "centres");
  double inertia = 0;
  const int64_t moves = hartigan(data, n, dim, k, labels, max_passes, centres, &inertia);
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(moves)));
  out.Set(1u, Napi::Number::New(env, inertia));
  return out;
}

}  // namespace lpclust_kmeans

// Called by the addon's Init (dtw_kernel.cc).
void lpclust_register_kmeans(Napi::Env env, Napi::Object exports) {
  exports.Set("kmeansLloyd", Napi::Function::New(env, lpclust_kmeans::KMeansLloyd, "kmeansLloyd"));
  exports.Set("kmeansHartigan", Napi::Function::New(env, lpclust_kmeans::KMeansHartigan, "kmeansHartigan"));
}
