// lpclust native DTW kernel.
//
// One pair of series per SIMD lane (structure of arrays): a block of W columns is transposed so
// that slot t of all W column series sits in one vector, the row series is broadcast, and the
// banded DTW recurrence runs on whole vectors. Only cells inside the Sakoe–Chiba band are
// visited; the two scratch rows are allocated once per call, never in the loops.
//
// Precision: the float32 path accumulates in float32, the float64 path in float64. The build uses
// -ffp-contract=off so that d*d + m is never fused: every operation is rounded exactly as the
// TypeScript kernel rounds it, and the two kernels return identical values.
//
// Instruction set: on x86-64 with GCC (unless built with -DLPC_PORTABLE), the block functions are compiled three times
// (target_clones avx512f / avx2 / default) and the loader picks the widest the CPU supports.

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>

// native/kmeans_kernel.cc: the k-means exports of the same addon.
void lpclust_register_kmeans(Napi::Env env, Napi::Object exports);

namespace {

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LPC_PORTABLE)
#define LPC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define LPC_HAS_CLONES 1
#else
#define LPC_CLONES
#define LPC_HAS_CLONES 0
#endif

#define LPC_INLINE inline __attribute__((always_inline))

// 64-byte vectors: one AVX-512 register, two AVX2 registers, four SSE registers. Two of them are
// interleaved per column block so that the left-neighbour dependency chain does not stall.
typedef float vf32 __attribute__((vector_size(32)));
typedef double vf64 __attribute__((vector_size(32)));

template <typename T> struct Lanes;
template <> struct Lanes<float> {
  typedef vf32 V;
  static constexpr int W = 8;
};
template <> struct Lanes<double> {
  typedef vf64 V;
  static constexpr int W = 4;
};

// Scratch memory aligned for the vector types (std::vector does not guarantee 32-byte alignment
// on every standard library), allocated once per block call.
struct AlignedScratch {
  void* p = nullptr;
  explicit AlignedScratch(size_t bytes) {
    const size_t rounded = (bytes + 63) / 64 * 64;
#ifdef _MSC_VER
    p = _aligned_malloc(rounded, 64);
#else
    if (posix_memalign(&p, 64, rounded) != 0) p = nullptr;
#endif
    if (p == nullptr) throw std::bad_alloc();
  }
  ~AlignedScratch() {
#ifdef _MSC_VER
    _aligned_free(p);
#else
    free(p);
#endif
  }
  AlignedScratch(const AlignedScratch&) = delete;
  AlignedScratch& operator=(const AlignedScratch&) = delete;
};

template <typename V> LPC_INLINE V vmin(V a, V b) { return a < b ? a : b; }

// The row series of a lane group. Broadcast: one series for every lane (a block row against many
// columns). PerLane: each lane its own series, stored SoA like the columns (the pairs of the
// assignment). Both give the recurrence the same value per lane, so a pair's result is the same
// whichever way it is computed.
template <typename T> struct Broadcast {
  typedef typename Lanes<T>::V V;
  const T* a;
  LPC_INLINE V lo(int i) const { return V{} + a[i]; }
  LPC_INLINE V hi(int i) const { return V{} + a[i]; }
};
template <typename T> struct PerLane {
  typedef typename Lanes<T>::V V;
  const V* a0;
  const V* a1;
  LPC_INLINE V lo(int i) const { return a0[i]; }
  LPC_INLINE V hi(int i) const { return a1[i]; }
};

// Distances of row series a (length L) against the 2·W column series stored SoA in b0/b1
// (b0[t] holds slot t of columns 0..W-1, b1[t] of columns W..2W-1). Results (sums of squares,
// before the square root) go to res0/res1.
template <typename T, typename A>
LPC_INLINE void lanes_pair(const A& a, const typename Lanes<T>::V* b0, const typename Lanes<T>::V* b1, int L, int r,
                           typename Lanes<T>::V* prev0, typename Lanes<T>::V* cur0, typename Lanes<T>::V* prev1,
                           typename Lanes<T>::V* cur1, typename Lanes<T>::V& res0, typename Lanes<T>::V& res1) {
  typedef typename Lanes<T>::V V;
  const T inf = std::numeric_limits<T>::infinity();
  const V vinf = V{} + inf;
  for (int j = 0; j <= L; j++) {
    prev0[j] = vinf;
    prev1[j] = vinf;
  }
  prev0[0] = V{};
  prev1[0] = V{};
  for (int i = 0; i < L; i++) {
    const int jlo = i - r > 0 ? i - r : 0;
    const int jhi = i + r < L - 1 ? i + r : L - 1;
    const V ai0 = a.lo(i);
    const V ai1 = a.hi(i);
    cur0[jlo] = vinf;
    cur1[jlo] = vinf;
    V left0 = vinf;
    V left1 = vinf;
    V p0 = prev0[jlo];
    V p1 = prev1[jlo];
    for (int j = jlo; j <= jhi; j++) {
      const V n0 = prev0[j + 1];
      const V n1 = prev1[j + 1];
      const V d0 = ai0 - b0[j];
      const V d1 = ai1 - b1[j];
      const V m0 = vmin(vmin(p0, n0), left0);
      const V m1 = vmin(vmin(p1, n1), left1);
      left0 = d0 * d0 + m0;
      left1 = d1 * d1 + m1;
      cur0[j + 1] = left0;
      cur1[j + 1] = left1;
      p0 = n0;
      p1 = n1;
    }
    if (jhi + 2 <= L) {
      cur0[jhi + 2] = vinf;
      cur1[jhi + 2] = vinf;
    }
    V* t = prev0;
    prev0 = cur0;
    cur0 = t;
    t = prev1;
    prev1 = cur1;
    cur1 = t;
  }
  res0 = prev0[L];
  res1 = prev1[L];
}

// Narrow bands (radius R ≤ MAX_REG_R; measured faster only up to 2 — wider bands spill registers) keep the whole band of the previous row in registers, in
// diagonal coordinates k = j − i + R (0 ≤ k ≤ 2R): the predecessors of cell k are k (diagonal)
// and k + 1 (above) of the previous row and k − 1 (left) of this row. The column series are
// padded with R slots of +∞ on both sides, so cells with j < 0 or j ≥ L cost +∞ and need no
// branch; the operations on in-range cells are exactly those of lanes_pair.
constexpr int MAX_REG_R = 2;

template <typename T, int R, typename A>
LPC_INLINE void lanes_pair_band(const A& a, const typename Lanes<T>::V* b0pad, const typename Lanes<T>::V* b1pad, int L,
                                typename Lanes<T>::V& res0, typename Lanes<T>::V& res1) {
  typedef typename Lanes<T>::V V;
  constexpr int K = 2 * R + 1;
  const V vinf = V{} + std::numeric_limits<T>::infinity();
  V p0[K], p1[K];
  for (int k = 0; k < K; k++) {
    p0[k] = vinf;
    p1[k] = vinf;
  }
  p0[R] = V{};
  p1[R] = V{};
  for (int i = 0; i < L; i++) {
    const V ai0 = a.lo(i);
    const V ai1 = a.hi(i);
    const V* bb0 = b0pad + i;  // bb0[k] = column slot i + k − R
    const V* bb1 = b1pad + i;
    V left0 = vinf;
    V left1 = vinf;
    V c0[K], c1[K];
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) {
      const V up0 = k + 1 < K ? p0[k + 1] : vinf;
      const V up1 = k + 1 < K ? p1[k + 1] : vinf;
      const V d0 = ai0 - bb0[k];
      const V d1 = ai1 - bb1[k];
      left0 = d0 * d0 + vmin(vmin(p0[k], up0), left0);
      left1 = d1 * d1 + vmin(vmin(p1[k], up1), left1);
      c0[k] = left0;
      c1[k] = left1;
    }
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) {
      p0[k] = c0[k];
      p1[k] = c1[k];
    }
  }
  res0 = p0[R];
  res1 = p1[R];
}

// The block contract: out[(i - r0) * (c1 - c0) + (j - c0)] = DTW(A row i, B row j) for rows
// [r0, r1) of A and rows [c0, c1) of B. With `upper` (A and B the same matrix) only j > i is
// computed, j == i gets 0 and j < i is left untouched.
template <typename T>
LPC_INLINE void block_impl(const T* A, const T* B, int L, int r0, int r1, int c0, int c1, int r, T* out, bool upper) {
  typedef typename Lanes<T>::V V;
  constexpr int W = Lanes<T>::W;
  constexpr int G = 2 * W;  // columns per group (two interleaved vectors)
  const int w = c1 - c0;
  // Narrow bands use padded columns (R slots of +inf each side); wide bands the plain ones.
  const int pad = r <= MAX_REG_R ? r : 0;
  const int Lp = L + 2 * pad;
  AlignedScratch scratch(sizeof(V) * (2 * static_cast<size_t>(Lp) + 4 * static_cast<size_t>(L + 1)));
  V* b0 = static_cast<V*>(scratch.p);
  V* b1 = b0 + Lp;
  V* prev0 = b1 + Lp;
  V* cur0 = prev0 + (L + 1);
  V* prev1 = cur0 + (L + 1);
  V* cur1 = prev1 + (L + 1);
  for (int cg = c0; cg < c1; cg += G) {
    const int cnt = c1 - cg < G ? c1 - cg : G;
    // Transpose the group's columns; missing lanes repeat the last column (results discarded).
    for (int lane = 0; lane < G; lane++) {
      const T* src = B + static_cast<size_t>(cg + (lane < cnt ? lane : cnt - 1)) * L;
      V* dst = lane < W ? b0 : b1;
      const int l = lane < W ? lane : lane - W;
      for (int t = 0; t < pad; t++) {
        dst[t][l] = std::numeric_limits<T>::infinity();
        dst[pad + L + t][l] = std::numeric_limits<T>::infinity();
      }
      for (int t = 0; t < L; t++) dst[pad + t][l] = src[t];
    }
    for (int i = r0; i < r1; i++) {
      if (upper && cg + cnt - 1 <= i) {
        if (i >= cg && i < cg + cnt) out[static_cast<size_t>(i - r0) * w + (i - c0)] = 0;
        continue;
      }
      V res0, res1;
      const Broadcast<T> a{A + static_cast<size_t>(i) * L};
      switch (r <= MAX_REG_R ? r : -1) {
        case 0: lanes_pair_band<T, 0>(a, b0, b1, L, res0, res1); break;
        case 1: lanes_pair_band<T, 1>(a, b0, b1, L, res0, res1); break;
        case 2: lanes_pair_band<T, 2>(a, b0, b1, L, res0, res1); break;
        default: lanes_pair<T>(a, b0, b1, L, r, prev0, cur0, prev1, cur1, res0, res1);
      }
      T* o = out + static_cast<size_t>(i - r0) * w + (cg - c0);
      for (int lane = 0; lane < cnt; lane++) {
        const int j = cg + lane;
        if (upper && j <= i) {
          if (j == i) o[lane] = 0;
          continue;
        }
        const T s = lane < W ? res0[lane] : res1[lane - W];
        o[lane] = std::sqrt(s);
      }
    }
  }
}

LPC_CLONES void block_f32(const float* A, const float* B, int L, int r0, int r1, int c0, int c1, int r, float* out,
                          bool upper) {
  block_impl<float>(A, B, L, r0, r1, c0, c1, r, out, upper);
}

LPC_CLONES void block_f64(const double* A, const double* B, int L, int r0, int r1, int c0, int c1, int r, double* out,
                          bool upper) {
  block_impl<double>(A, B, L, r0, r1, c0, c1, r, out, upper);
}

// Pairs grouped by candidate: for each candidate j (in order), out[p] = DTW(M row j, X row
// r0 + row[p]) for p in [start[j], start[j + 1]). The candidate is the broadcast row series and the
// gathered profiles the transposed columns, exactly as block_impl computes M row j against X rows
// r0.. (same lanes, same operations), so a pair's distance is bit for bit the one computing every
// distance gives, whichever other profiles share its column group. Grouping by candidate gathers
// only the profiles (L scalar stores a pair, as block_impl's transposition); one lane per pair with
// both series gathered cost twice that, which on float32 (8 lanes) made the pruned path slower than
// computing every distance.
template <typename T>
LPC_INLINE void cand_rows_impl(const T* X, int L, int r0, const T* M, int k, int r, const int32_t* row, const int32_t* start, T* out) {
  typedef typename Lanes<T>::V V;
  constexpr int W = Lanes<T>::W;
  constexpr int G = 2 * W;
  const int pad = r <= MAX_REG_R ? r : 0;
  const int Lp = L + 2 * pad;
  AlignedScratch scratch(sizeof(V) * (2 * static_cast<size_t>(Lp) + 4 * static_cast<size_t>(L + 1)));
  V* b0 = static_cast<V*>(scratch.p);
  V* b1 = b0 + Lp;
  V* prev0 = b1 + Lp;
  V* cur0 = prev0 + (L + 1);
  V* prev1 = cur0 + (L + 1);
  V* cur1 = prev1 + (L + 1);
  const T inf = std::numeric_limits<T>::infinity();
  // The padding never changes: written once.
  for (int t = 0; t < pad; t++) {
    b0[t] = V{} + inf;
    b1[t] = V{} + inf;
    b0[pad + L + t] = V{} + inf;
    b1[pad + L + t] = V{} + inf;
  }
  for (int j = 0; j < k; j++) {
    const int p1 = start[j + 1];
    const Broadcast<T> a{M + static_cast<size_t>(j) * L};
    for (int p0 = start[j]; p0 < p1; p0 += G) {
      const int n = p1 - p0 < G ? p1 - p0 : G;
      // Missing lanes repeat the last profile (results discarded).
      for (int lane = 0; lane < G; lane++) {
        const T* xs = X + static_cast<size_t>(r0 + row[p0 + (lane < n ? lane : n - 1)]) * L;
        V* bd = lane < W ? b0 : b1;
        const int l = lane < W ? lane : lane - W;
        for (int t = 0; t < L; t++) bd[pad + t][l] = xs[t];
      }
      V res0, res1;
      switch (r <= MAX_REG_R ? r : -1) {
        case 0: lanes_pair_band<T, 0>(a, b0, b1, L, res0, res1); break;
        case 1: lanes_pair_band<T, 1>(a, b0, b1, L, res0, res1); break;
        case 2: lanes_pair_band<T, 2>(a, b0, b1, L, res0, res1); break;
        default: lanes_pair<T>(a, b0, b1, L, r, prev0, cur0, prev1, cur1, res0, res1);
      }
      for (int lane = 0; lane < n; lane++) {
        const T s = lane < W ? res0[lane] : res1[lane - W];
        out[p0 + lane] = std::sqrt(s);
      }
    }
  }
}

LPC_CLONES void cand_rows_f32(const float* X, int L, int r0, const float* M, int k, int r, const int32_t* row, const int32_t* start, float* out) {
  cand_rows_impl<float>(X, L, r0, M, k, r, row, start, out);
}

LPC_CLONES void cand_rows_f64(const double* X, int L, int r0, const double* M, int k, int r, const int32_t* row, const int32_t* start, double* out) {
  cand_rows_impl<double>(X, L, r0, M, k, r, row, start, out);
}

// ---- Nearest-candidate assignment with lower bounds (src/dtw/assign.ts's native path) ----
//
// Rows [r0, r1) of X (n × L) against k candidate series M (k × L): nearest (and second-nearest)
// candidate with its exact banded DTW distance. Exact distances come from block_f32/f64 (every
// distance) or cand_rows_f32/f64 (the pairs the bounds leave), both with the candidate as the
// broadcast row and the profiles as the columns; every SIMD lane computes its own pair, so a
// distance is bit for bit the same whichever other profiles share its column group, and the pruned
// path returns exactly what computing every distance returns. Float32 profiles: the distances
// accumulate in float32 (as the float32 DTW matrix), the bounds in float64 from the same stored
// values; the caller's margin covers the float32 rounding (boundMargin in src/dtw/assign.ts).
//
// The bound (of the SQUARED distance) joins LB_Kim and a piecewise-aggregate LB_Keogh. Every
// warping path holds the cells (0, 0) and (L−1, L−1), and at least one cell of every other row t,
// whose cost is at least d_t², d_t the distance of x_t to the candidate's envelope [lo_t, up_t]
// over the band at t (LB_Keogh's term). Those cells are distinct, so
//   (x_0 − m_0)² + (x_{L−1} − m_{L−1})² + Σ_{0<t<L−1} d_t²  ≤  DTW².
// The interior sum is bounded from below per segment S of w ≤ SEG slots: d_t ≥ 0, d_t ≥ x_t − up_t
// and d_t ≥ lo_t − x_t, so by Cauchy–Schwarz
//   Σ_{t∈S} d_t² ≥ (Σ_{t∈S} d_t)² / w ≥ max(0, Σx − Σup, Σlo − Σx)² / w.
// On segment sums the bound costs a few operations per pair, vectorised over the candidates; the
// slot-by-slot LB_Keogh, measured here, cost about half an exact banded DTW on the SIMD kernel for
// 3 % fewer exact calls (bench/scale.ts, L = 24, radius 1), which made the pruned path no faster.
// It is computed in float64 from the stored values.
constexpr int SEG = 4;

// Segment bounds of rows [r0, r0 + h) against the k candidates: lb[i·k + j] = the bound of the
// SQUARED distance (no square root: the tests compare it with a squared threshold). segUp/segLo
// hold the candidates' envelope sums per segment, segment-major (segUp[s·k + j]), so that the loop
// over candidates vectorises.
template <typename T>
LPC_INLINE void seg_bounds_impl(const T* X, int L, int r0, int h, const double* m0, const double* mL, int k, int nseg, const double* segUp, const double* segLo, double* lb) {
  for (int i = 0; i < h; i++) {
    const T* x = X + static_cast<size_t>(r0 + i) * L;
    double* s = lb + static_cast<size_t>(i) * k;
    const double x0 = static_cast<double>(x[0]);
    for (int j = 0; j < k; j++) {
      const double a = x0 - m0[j];
      s[j] = a * a;
    }
    if (L > 1) {
      const double xL = static_cast<double>(x[L - 1]);
      for (int j = 0; j < k; j++) {
        const double b = xL - mL[j];
        s[j] += b * b;
      }
    }
    for (int g = 0; g < nseg; g++) {
      const int t0 = 1 + g * SEG;
      const int t1 = t0 + SEG < L - 1 ? t0 + SEG : L - 1;
      double sx = 0;
      for (int t = t0; t < t1; t++) sx += static_cast<double>(x[t]);
      const double inv = 1.0 / (t1 - t0);
      const double* u = segUp + static_cast<size_t>(g) * k;
      const double* l = segLo + static_cast<size_t>(g) * k;
      for (int j = 0; j < k; j++) {
        double above = sx - u[j];
        double below = l[j] - sx;
        above = above > 0 ? above : 0;
        below = below > 0 ? below : 0;
        const double d = above + below;  // at most one of them is positive (Σlo ≤ Σup)
        s[j] += d * d * inv;
      }
    }
  }
}

LPC_CLONES void seg_bounds_f32(const float* X, int L, int r0, int h, const double* m0, const double* mL, int k, int nseg, const double* segUp, const double* segLo, double* lb) {
  seg_bounds_impl<float>(X, L, r0, h, m0, mL, k, nseg, segUp, segLo, lb);
}

LPC_CLONES void seg_bounds_f64(const double* X, int L, int r0, int h, const double* m0, const double* mL, int k, int nseg, const double* segUp, const double* segLo, double* lb) {
  seg_bounds_impl<double>(X, L, r0, h, m0, mL, k, nseg, segUp, segLo, lb);
}

inline void block_t(const float* A, const float* B, int L, int r0, int r1, int c0, int c1, int r, float* out) {
  block_f32(A, B, L, r0, r1, c0, c1, r, out, false);
}
inline void block_t(const double* A, const double* B, int L, int r0, int r1, int c0, int c1, int r, double* out) {
  block_f64(A, B, L, r0, r1, c0, c1, r, out, false);
}
inline void seg_bounds_t(const float* X, int L, int r0, int h, const double* m0, const double* mL, int k, int nseg, const double* u, const double* l, double* lb) {
  seg_bounds_f32(X, L, r0, h, m0, mL, k, nseg, u, l, lb);
}
inline void seg_bounds_t(const double* X, int L, int r0, int h, const double* m0, const double* mL, int k, int nseg, const double* u, const double* l, double* lb) {
  seg_bounds_f64(X, L, r0, h, m0, mL, k, nseg, u, l, lb);
}

inline void cand_rows_t(const float* X, int L, int r0, const float* M, int k, int r, const int32_t* row, const int32_t* start, float* out) {
  cand_rows_f32(X, L, r0, M, k, r, row, start, out);
}
inline void cand_rows_t(const double* X, int L, int r0, const double* M, int k, int r, const int32_t* row, const int32_t* start, double* out) {
  cand_rows_f64(X, L, r0, M, k, r, row, start, out);
}

// dist[i·k + j] for every wanted pair, listed candidate by candidate (row holds the rows of
// candidate j at [start[j], start[j + 1])) and computed by cand_rows_t.
template <typename T>
int64_t compute_wanted(const T* X, int L, int r0, int h, const T* M, int k, int r, const uint8_t* want, double* dist,
                       int32_t* row, int32_t* start, T* out) {
  int cnt = 0;
  for (int j = 0; j < k; j++) {
    start[j] = cnt;
    for (int i = 0; i < h; i++) {
      if (want[static_cast<size_t>(i) * k + j]) row[cnt++] = i;
    }
  }
  start[k] = cnt;
  if (cnt == 0) return 0;
  cand_rows_t(X, L, r0, M, k, r, row, start, out);
  for (int j = 0; j < k; j++) {
    for (int p = start[j]; p < start[j + 1]; p++) dist[static_cast<size_t>(row[p]) * k + j] = static_cast<double>(out[p]);
  }
  return cnt;
}

// What the bounds of k candidates need: their envelope sums per segment of interior slots
// (segment-major: segUp[g·k + j]) and their first and last values.
template <typename T>
struct CandBounds {
  int nseg;
  std::unique_ptr<double[]> segUp, segLo, m0, mL;
  CandBounds(const T* M, int L, int k, const double* up, const double* lo) {
    const int interior = L > 2 ? L - 2 : 0;
    nseg = (interior + SEG - 1) / SEG;
    segUp.reset(new double[static_cast<size_t>(nseg) * k + 1]);
    segLo.reset(new double[static_cast<size_t>(nseg) * k + 1]);
    m0.reset(new double[static_cast<size_t>(k)]);
    mL.reset(new double[static_cast<size_t>(k)]);
    for (int g = 0; g < nseg; g++) {
      const int t0 = 1 + g * SEG;
      const int t1 = t0 + SEG < L - 1 ? t0 + SEG : L - 1;
      for (int j = 0; j < k; j++) {
        double su = 0;
        double sl = 0;
        for (int t = t0; t < t1; t++) {
          su += up[static_cast<size_t>(j) * L + t];
          sl += lo[static_cast<size_t>(j) * L + t];
        }
        segUp[static_cast<size_t>(g) * k + j] = su;
        segLo[static_cast<size_t>(g) * k + j] = sl;
      }
    }
    for (int j = 0; j < k; j++) {
      m0[j] = static_cast<double>(M[static_cast<size_t>(j) * L]);
      mL[j] = static_cast<double>(M[static_cast<size_t>(j) * L + L - 1]);
    }
  }
};

// The pruned assignment to the nearest candidate only, without the n × k table of the general
// path: pass A computes each row's candidate of smallest bound (its first distance), pass B every
// other candidate whose bound does not exceed that distance (× margin, squared), grouped by
// candidate; each row keeps the smallest distance, ties to the lowest index, as a scan of all k
// distances in index order keeps it. A candidate pruned in pass B has a distance strictly larger
// than pass A's (see boundMargin in src/dtw/assign.ts), so it could never be kept.
template <typename T>
LPC_INLINE int64_t assign_nearest_pruned(const T* X, int L, int r0, int r1, const T* M, int k, int r, const CandBounds<T>& cb,
                                          double margin, int32_t* n1, double* d1) {
  const int h = r1 - r0;
  const size_t hk = static_cast<size_t>(h) * k;
  std::unique_ptr<double[]> lb(new double[hk]);
  seg_bounds_t(X, L, r0, h, cb.m0.get(), cb.mL.get(), k, cb.nseg, cb.segUp.get(), cb.segLo.get(), lb.get());
  std::unique_ptr<int32_t[]> prow(new int32_t[hk]);
  std::unique_ptr<int32_t[]> start(new int32_t[static_cast<size_t>(k) + 1]);
  std::unique_ptr<T[]> out(new T[hk]);
  // Pass A: each row's candidate of smallest bound (ties: lowest index), rows listed by candidate.
  for (int j = 0; j <= k; j++) start[j] = 0;
  for (int i = 0; i < h; i++) {
    const double* b = lb.get() + static_cast<size_t>(i) * k;
    int best = 0;
    for (int j = 1; j < k; j++) {
      if (b[j] < b[best]) best = j;
    }
    n1[i] = best;
    start[best + 1]++;
  }
  for (int j = 0; j < k; j++) start[j + 1] += start[j];
  {
    std::unique_ptr<int32_t[]> fill(new int32_t[static_cast<size_t>(k)]);
    for (int j = 0; j < k; j++) fill[j] = start[j];
    for (int i = 0; i < h; i++) prow[fill[n1[i]]++] = i;
  }
  cand_rows_t(X, L, r0, M, k, r, prow.get(), start.get(), out.get());
  std::unique_ptr<double[]> thr(new double[static_cast<size_t>(h)]);
  for (int j = 0; j < k; j++) {
    for (int p = start[j]; p < start[j + 1]; p++) {
      const int i = prow[p];
      const double d = static_cast<double>(out[p]);
      d1[i] = d;
      const double t = d * margin;
      thr[i] = t * t;  // the bounds are of squared distances
    }
  }
  int64_t exact = h;
  // Pass B: the other candidates whose bound does not exceed the row's threshold, by candidate.
  int cnt = 0;
  for (int j = 0; j < k; j++) {
    start[j] = cnt;
    for (int i = 0; i < h; i++) {
      if (n1[i] != j && !(lb[static_cast<size_t>(i) * k + j] > thr[i])) prow[cnt++] = i;
    }
  }
  start[k] = cnt;
  if (cnt == 0) return exact;
  cand_rows_t(X, L, r0, M, k, r, prow.get(), start.get(), out.get());
  for (int j = 0; j < k; j++) {
    for (int p = start[j]; p < start[j + 1]; p++) {
      const int i = prow[p];
      const double d = static_cast<double>(out[p]);
      // Candidates come in increasing j, but pass A's may have a larger index than this one.
      if (d < d1[i] || (d == d1[i] && j < n1[i])) {
        d1[i] = d;
        n1[i] = j;
      }
    }
  }
  return exact + cnt;
}

// Rows per block of the pruned assignment (see assign_impl).
constexpr int PRUNE_BLOCK_ROWS = 256;

// The whole assignment of one chunk; returns the number of exact DTW distances computed.
// margin ≥ 1: relative slack on the bound test, so that rounding in the bound's and the kernel's sums
// never prunes a candidate whose computed distance ties or beats the threshold.
template <typename T>
LPC_INLINE int64_t assign_impl(const T* X, int L, int r0, int r1, const T* M, int k, int r, const double* up, const double* lo,
                    bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  if (prune && !second && k > 0) return assign_nearest_pruned(X, L, r0, r1, M, k, r, CandBounds<T>(M, L, k, up, lo), margin, n1, d1);
  const int h = r1 - r0;
  const size_t hk = static_cast<size_t>(h) * k;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  double* dist = new double[hk];
  std::unique_ptr<double[]> distOwn(dist);
  for (size_t q = 0; q < hk; q++) dist[q] = nan;
  int64_t exact = 0;
  if (!prune) {
    std::unique_ptr<T[]> out(new T[h]);
    for (int j = 0; j < k; j++) {
      block_t(M, X, L, j, j + 1, r0, r1, r, out.get());
      for (int i = 0; i < h; i++) dist[static_cast<size_t>(i) * k + j] = static_cast<double>(out[i]);
    }
    exact = static_cast<int64_t>(hk);
  } else {
    std::unique_ptr<double[]> lb(new double[hk]);
    const CandBounds<T> cb(M, L, k, up, lo);
    seg_bounds_t(X, L, r0, h, cb.m0.get(), cb.mL.get(), k, cb.nseg, cb.segUp.get(), cb.segLo.get(), lb.get());
    std::unique_ptr<uint8_t[]> want(new uint8_t[hk]());
    std::unique_ptr<int32_t[]> prow(new int32_t[hk]);
    std::unique_ptr<int32_t[]> pstart(new int32_t[static_cast<size_t>(k) + 1]);
    std::unique_ptr<T[]> out(new T[hk]);
    // Pass A: the candidate(s) with the smallest bound (the likely winners; ties: lowest index).
    const int need = second && k > 1 ? 2 : 1;
    for (int i = 0; i < h; i++) {
      const double* b = lb.get() + static_cast<size_t>(i) * k;
      uint8_t* w = want.get() + static_cast<size_t>(i) * k;
      for (int t = 0; t < need; t++) {
        int best = -1;
        for (int j = 0; j < k; j++) {
          if (!w[j] && (best < 0 || b[j] < b[best])) best = j;
        }
        w[best] = 1;
      }
    }
    exact += compute_wanted(X, L, r0, h, M, k, r, want.get(), dist, prow.get(), pstart.get(), out.get());
    // Pass B: every candidate whose bound does not exceed the best (second best) distance so far.
    for (size_t q = 0; q < hk; q++) want[q] = 0;
    for (int i = 0; i < h; i++) {
      const double* di = dist + static_cast<size_t>(i) * k;
      double b1 = std::numeric_limits<double>::infinity();
      double b2 = b1;
      for (int j = 0; j < k; j++) {
        const double d = di[j];
        if (std::isnan(d)) continue;
        if (d < b1) {
          b2 = b1;
          b1 = d;
        } else if (d < b2) {
          b2 = d;
        }
      }
      const double t = (second ? b2 : b1) * margin;
      const double thr = t * t;  // the bounds are of squared distances
      const double* b = lb.get() + static_cast<size_t>(i) * k;
      uint8_t* w = want.get() + static_cast<size_t>(i) * k;
      for (int j = 0; j < k; j++) {
        if (std::isnan(di[j]) && !(b[j] > thr)) w[j] = 1;
      }
    }
    exact += compute_wanted(X, L, r0, h, M, k, r, want.get(), dist, prow.get(), pstart.get(), out.get());
  }
  // Nearest and second nearest among the computed distances (pruned ones are strictly larger).
  for (int i = 0; i < h; i++) {
    const double* di = dist + static_cast<size_t>(i) * k;
    double b1 = std::numeric_limits<double>::infinity();
    double b2 = b1;
    int i1 = 0;
    int i2 = 0;
    for (int j = 0; j < k; j++) {
      const double d = di[j];
      if (std::isnan(d)) continue;
      if (d < b1) {
        b2 = b1;
        i2 = i1;
        b1 = d;
        i1 = j;
      } else if (d < b2) {
        b2 = d;
        i2 = j;
      }
    }
    n1[i] = i1;
    d1[i] = b1;
    if (second) {
      n2[i] = i2;
      d2[i] = b2;
    }
  }
  return exact;
}

// The assignment's bookkeeping (bounds, passes, selection) compiled like the kernels, for the
// widest instruction set the CPU has.
LPC_CLONES int64_t assign_f32(const float* X, int L, int r0, int r1, const float* M, int k, int r, const double* up, const double* lo,
                              bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  return assign_impl<float>(X, L, r0, r1, M, k, r, up, lo, second, prune, margin, n1, d1, n2, d2);
}
LPC_CLONES int64_t assign_f64(const double* X, int L, int r0, int r1, const double* M, int k, int r, const double* up, const double* lo,
                              bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  return assign_impl<double>(X, L, r0, r1, M, k, r, up, lo, second, prune, margin, n1, d1, n2, d2);
}
inline int64_t assign_t(const float* X, int L, int r0, int r1, const float* M, int k, int r, const double* up, const double* lo,
                        bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  return assign_f32(X, L, r0, r1, M, k, r, up, lo, second, prune, margin, n1, d1, n2, d2);
}
inline int64_t assign_t(const double* X, int L, int r0, int r1, const double* M, int k, int r, const double* up, const double* lo,
                        bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  return assign_f64(X, L, r0, r1, M, k, r, up, lo, second, prune, margin, n1, d1, n2, d2);
}

// Rows are independent: the pruned path runs on blocks of PRUNE_BLOCK_ROWS rows, whose bounds,
// distances and bookkeeping (≈ 30 bytes a pair) stay in the core's cache; the results are those of
// one call over all the rows.
template <typename T>
int64_t assign_blocked(const T* X, int L, int r0, int r1, const T* M, int k, int r, const double* up, const double* lo,
                       bool second, bool prune, double margin, int32_t* n1, double* d1, int32_t* n2, double* d2) {
  if (!prune) return assign_t(X, L, r0, r1, M, k, r, up, lo, second, prune, margin, n1, d1, n2, d2);
  int64_t exact = 0;
  for (int s0 = r0; s0 < r1; s0 += PRUNE_BLOCK_ROWS) {
    const int s1 = s0 + PRUNE_BLOCK_ROWS < r1 ? s0 + PRUNE_BLOCK_ROWS : r1;
    const int o = s0 - r0;
    exact += assign_t(X, L, s0, s1, M, k, r, up, lo, second, prune, margin, n1 + o, d1 + o, second ? n2 + o : nullptr, second ? d2 + o : nullptr);
  }
  return exact;
}

// The clone the GCC resolver picks, in the same order it checks.
const char* isa_name() {
#if LPC_HAS_CLONES
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return "avx512f";
  if (__builtin_cpu_supports("avx2")) return "avx2";
  return "sse2";
#else
  return "portable";
#endif
}

// Data pointer of a typed array (element 0), also when it views a SharedArrayBuffer, which
// Napi::ArrayBuffer cannot wrap.
void* typed_data(Napi::Env env, const Napi::TypedArray& t) {
  napi_typedarray_type type;
  size_t length;
  void* data = nullptr;
  napi_value buffer;
  size_t offset;
  napi_status st = napi_get_typedarray_info(env, t, &type, &length, &data, &buffer, &offset);
  if (st != napi_ok) throw Napi::Error::New(env, "block: cannot read typed array");
  return data;
}

// The Sakoe–Chiba radius rule (integer ≥ 0 or no band, default 1, clamped to [0, L − 1]) is owned
// by the TypeScript side: src/dtw/settings.ts decides it and every caller passes
// effectiveRadius(radius, L), an int in [0, L − 1] (never Infinity: Int32Value would read it as 0).
// This side trusts that value; the bounds check of each export refuses r < 0, and this clamp
// only keeps a direct call with a wider band from walking past the rows. It never changes a
// result of lpclust's own calls.
int band_radius(int r, int L) {
  return r > L - 1 ? L - 1 : r;
}

// JS: block(A, B, L, r0, r1, c0, c1, radius, out, upper). A, B, out: Float32Array or
// Float64Array, all of the same type. The JS wrapper validates and defaults every argument; the
// checks here only keep a wrong call from reading or writing out of bounds.
Napi::Value Block(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[8].IsTypedArray()) {
    throw Napi::TypeError::New(env, "block(A, B, L, r0, r1, c0, c1, radius, out, upper): wrong arguments");
  }
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  Napi::TypedArray tb = info[1].As<Napi::TypedArray>();
  Napi::TypedArray to = info[8].As<Napi::TypedArray>();
  const int L = info[2].As<Napi::Number>().Int32Value();
  const int r0 = info[3].As<Napi::Number>().Int32Value();
  const int r1 = info[4].As<Napi::Number>().Int32Value();
  const int c0 = info[5].As<Napi::Number>().Int32Value();
  const int c1 = info[6].As<Napi::Number>().Int32Value();
  const int r = info[7].As<Napi::Number>().Int32Value();
  const bool upper = info[9].As<Napi::Boolean>().Value();
  const napi_typedarray_type type = ta.TypedArrayType();
  if (tb.TypedArrayType() != type || to.TypedArrayType() != type ||
      (type != napi_float32_array && type != napi_float64_array)) {
    throw Napi::TypeError::New(env, "block: A, B and out must all be Float32Array or all Float64Array");
  }
  if (L < 1 || r < 0 || r0 < 0 || r1 < r0 || c0 < 0 || c1 < c0 ||
      static_cast<size_t>(r1) * L > ta.ElementLength() || static_cast<size_t>(c1) * L > tb.ElementLength() ||
      static_cast<size_t>(r1 - r0) * (c1 - c0) > to.ElementLength()) {
    throw Napi::RangeError::New(env, "block: block bounds outside the arrays");
  }
  if (r1 == r0 || c1 == c0) return env.Undefined();
  const int rr = band_radius(r, L);
  if (type == napi_float32_array) {
    const float* A = static_cast<const float*>(typed_data(env, ta));
    const float* B = static_cast<const float*>(typed_data(env, tb));
    float* O = static_cast<float*>(typed_data(env, to));
    block_f32(A, B, L, r0, r1, c0, c1, rr, O, upper);
  } else {
    const double* A = static_cast<const double*>(typed_data(env, ta));
    const double* B = static_cast<const double*>(typed_data(env, tb));
    double* O = static_cast<double*>(typed_data(env, to));
    block_f64(A, B, L, r0, r1, c0, c1, rr, O, upper);
  }
  return env.Undefined();
}

// JS: assign(X, M, L, r0, r1, radius, upper, lower, second, prune, margin, n1, d1, n2, d2) → exact
// DTW distances computed. X (n × L) and M (k × L): both Float32Array or both Float64Array; upper,
// lower: Float64Array k × L envelopes of M for this radius (read only when pruning); n1/n2:
// Int32Array, d1/d2: Float64Array of r1 − r0 entries (n2, d2 only read with `second`, else null).
// The JS wrapper (src/dtw/assign.ts) validates; the checks here keep a wrong call in bounds.
Napi::Value Assign(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 15 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[6].IsTypedArray() ||
      !info[7].IsTypedArray() || !info[11].IsTypedArray() || !info[12].IsTypedArray()) {
    throw Napi::TypeError::New(env, "assign(X, M, L, r0, r1, radius, upper, lower, second, prune, margin, n1, d1, n2, d2): wrong arguments");
  }
  Napi::TypedArray tx = info[0].As<Napi::TypedArray>();
  Napi::TypedArray tm = info[1].As<Napi::TypedArray>();
  const int L = info[2].As<Napi::Number>().Int32Value();
  const int r0 = info[3].As<Napi::Number>().Int32Value();
  const int r1 = info[4].As<Napi::Number>().Int32Value();
  const int radius = info[5].As<Napi::Number>().Int32Value();
  Napi::TypedArray tu = info[6].As<Napi::TypedArray>();
  Napi::TypedArray tl = info[7].As<Napi::TypedArray>();
  const bool second = info[8].As<Napi::Boolean>().Value();
  const bool prune = info[9].As<Napi::Boolean>().Value();
  const double margin = info[10].As<Napi::Number>().DoubleValue();
  Napi::TypedArray tn1 = info[11].As<Napi::TypedArray>();
  Napi::TypedArray td1 = info[12].As<Napi::TypedArray>();
  const napi_typedarray_type type = tx.TypedArrayType();
  if (tm.TypedArrayType() != type || (type != napi_float32_array && type != napi_float64_array)) {
    throw Napi::TypeError::New(env, "assign: X and M must both be Float32Array or both Float64Array");
  }
  if (tu.TypedArrayType() != napi_float64_array || tl.TypedArrayType() != napi_float64_array ||
      tn1.TypedArrayType() != napi_int32_array || td1.TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "assign: envelopes and d1 must be Float64Array, n1 Int32Array");
  }
  if (L < 1 || radius < 0 || r0 < 0 || r1 < r0 || tm.ElementLength() % L != 0 || tm.ElementLength() == 0) {
    throw Napi::RangeError::New(env, "assign: bad shape");
  }
  const int k = static_cast<int>(tm.ElementLength() / L);
  const size_t h = static_cast<size_t>(r1 - r0);
  if (static_cast<size_t>(r1) * L > tx.ElementLength() || tu.ElementLength() < tm.ElementLength() ||
      tl.ElementLength() < tm.ElementLength() || tn1.ElementLength() < h || td1.ElementLength() < h) {
    throw Napi::RangeError::New(env, "assign: rows or outputs outside the arrays");
  }
  int32_t* n2 = nullptr;
  double* d2 = nullptr;
  if (second) {
    if (!info[13].IsTypedArray() || !info[14].IsTypedArray()) throw Napi::TypeError::New(env, "assign: second needs n2 and d2");
    Napi::TypedArray tn2 = info[13].As<Napi::TypedArray>();
    Napi::TypedArray td2 = info[14].As<Napi::TypedArray>();
    if (tn2.TypedArrayType() != napi_int32_array || td2.TypedArrayType() != napi_float64_array || tn2.ElementLength() < h ||
        td2.ElementLength() < h) {
      throw Napi::RangeError::New(env, "assign: n2/d2 of the wrong type or too short");
    }
    n2 = static_cast<int32_t*>(typed_data(env, tn2));
    d2 = static_cast<double*>(typed_data(env, td2));
  }
  if (h == 0) return Napi::Number::New(env, 0);
  const int rr = band_radius(radius, L);
  const double* up = static_cast<const double*>(typed_data(env, tu));
  const double* lo = static_cast<const double*>(typed_data(env, tl));
  int32_t* n1 = static_cast<int32_t*>(typed_data(env, tn1));
  double* d1 = static_cast<double*>(typed_data(env, td1));
  int64_t exact;
  if (type == napi_float32_array) {
    exact = assign_blocked<float>(static_cast<const float*>(typed_data(env, tx)), L, r0, r1, static_cast<const float*>(typed_data(env, tm)), k, rr,
                               up, lo, second, prune, margin, n1, d1, n2, d2);
  } else {
    exact = assign_blocked<double>(static_cast<const double*>(typed_data(env, tx)), L, r0, r1, static_cast<const double*>(typed_data(env, tm)), k,
                                rr, up, lo, second, prune, margin, n1, d1, n2, d2);
  }
  return Napi::Number::New(env, static_cast<double>(exact));
}

// ---- DBA barycentre sums (src/dtw/banded.ts's BandedDtw.accumulate, operation for operation) ----
//
// Each row whose centre is active is aligned to its centre by banded DTW (float64, the band's cost
// table only) and its values are added, along the warping path, to its centre's sums and counts;
// its squared DTW distance is added to the centre's cost. The same operations in the same order as
// the TypeScript code (ties of the path: diagonal, then (i−1, j), then (i, j−1)), so the sums are
// bit for bit the same.
template <typename T>
void dba_accumulate_impl(const T* X, int L, int r0, int r1, const int32_t* labels, const double* centres, const uint8_t* active, int r,
                         double* sums, double* counts, double* cost) {
  const int W = 2 * r + 1;
  const double inf = std::numeric_limits<double>::infinity();
  std::unique_ptr<double[]> acc(new double[static_cast<size_t>(L) * W]);
  for (int row = r0; row < r1; row++) {
    const int c = labels[row - r0];
    if (!active[c]) continue;
    const T* a = X + static_cast<size_t>(row) * L;
    const double* m = centres + static_cast<size_t>(c) * L;
    double* su = sums + static_cast<size_t>(c) * L;
    double* co = counts + static_cast<size_t>(c) * L;
    double* A = acc.get();
    for (size_t q = 0; q < static_cast<size_t>(L) * W; q++) A[q] = inf;
    for (int i = 0; i < L; i++) {
      const int jlo = i - r > 0 ? i - r : 0;
      const int jhi = i + r < L - 1 ? i + r : L - 1;
      const double ai = static_cast<double>(a[i]);
      const int base = i * W;
      for (int j = jlo; j <= jhi; j++) {
        const int q = j - i + r;
        const double d = ai - m[j];
        double best;
        if (i == 0 && j == 0) {
          best = 0;
        } else {
          best = inf;
          if (i > 0) {
            const double diag = A[base - W + q];
            if (j > 0 && diag < best) best = diag;
            if (q + 1 < W) {
              const double up = A[base - W + q + 1];
              if (up < best) best = up;
            }
          }
          if (j > jlo) {
            const double left = A[base + q - 1];
            if (left < best) best = left;
          }
        }
        A[base + q] = d * d + best;
      }
    }
    int i = L - 1;
    int j = L - 1;
    su[j] += static_cast<double>(a[i]);
    co[j] += 1;
    while (i > 0 || j > 0) {
      if (i == 0) {
        j--;
      } else if (j == 0) {
        i--;
      } else {
        const int q = j - i + r;
        const double diag = A[(i - 1) * W + q];
        const double up = q + 1 < W ? A[(i - 1) * W + q + 1] : inf;
        const double left = q > 0 ? A[i * W + q - 1] : inf;
        if (diag <= up && diag <= left) {
          i--;
          j--;
        } else if (up <= left) {
          i--;
        } else {
          j--;
        }
      }
      su[j] += static_cast<double>(a[i]);
      co[j] += 1;
    }
    cost[c] += A[(L - 1) * W + r];
  }
}

// JS: dbaAccumulate(X, L, r0, r1, labels, centres, active, radius, sums, counts, cost). X: Float32Array
// or Float64Array (n × L); labels: Int32Array (r1 − r0); centres: Float64Array (k × L); active:
// Uint8Array (k); sums, counts: Float64Array (k × L), cost: Float64Array (k), added to.
Napi::Value DbaAccumulate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 11) throw Napi::TypeError::New(env, "dbaAccumulate: wrong arguments");
  for (int a : {0, 4, 5, 6, 8, 9, 10}) {
    if (!info[a].IsTypedArray()) throw Napi::TypeError::New(env, "dbaAccumulate: wrong arguments");
  }
  Napi::TypedArray tx = info[0].As<Napi::TypedArray>();
  const int L = info[1].As<Napi::Number>().Int32Value();
  const int r0 = info[2].As<Napi::Number>().Int32Value();
  const int r1 = info[3].As<Napi::Number>().Int32Value();
  Napi::TypedArray tl = info[4].As<Napi::TypedArray>();
  Napi::TypedArray tc = info[5].As<Napi::TypedArray>();
  Napi::TypedArray ta = info[6].As<Napi::TypedArray>();
  const int radius = info[7].As<Napi::Number>().Int32Value();
  Napi::TypedArray ts = info[8].As<Napi::TypedArray>();
  Napi::TypedArray tn = info[9].As<Napi::TypedArray>();
  Napi::TypedArray tk = info[10].As<Napi::TypedArray>();
  const napi_typedarray_type type = tx.TypedArrayType();
  if ((type != napi_float32_array && type != napi_float64_array) || tl.TypedArrayType() != napi_int32_array ||
      tc.TypedArrayType() != napi_float64_array || ta.TypedArrayType() != napi_uint8_array || ts.TypedArrayType() != napi_float64_array ||
      tn.TypedArrayType() != napi_float64_array || tk.TypedArrayType() != napi_float64_array) {
    throw Napi::TypeError::New(env, "dbaAccumulate: wrong array types");
  }
  if (L < 1 || r0 < 0 || r1 < r0 || radius < 0 || static_cast<size_t>(r1) * L > tx.ElementLength() ||
      tl.ElementLength() < static_cast<size_t>(r1 - r0) || tc.ElementLength() % L != 0) {
    throw Napi::RangeError::New(env, "dbaAccumulate: bad shape");
  }
  const size_t k = tc.ElementLength() / L;
  if (ta.ElementLength() < k || ts.ElementLength() < k * L || tn.ElementLength() < k * L || tk.ElementLength() < k) {
    throw Napi::RangeError::New(env, "dbaAccumulate: outputs too short");
  }
  const int32_t* labels = static_cast<const int32_t*>(typed_data(env, tl));
  for (int i = 0; i < r1 - r0; i++) {
    if (labels[i] < 0 || static_cast<size_t>(labels[i]) >= k) throw Napi::RangeError::New(env, "dbaAccumulate: label out of range");
  }
  const int r = band_radius(radius, L);
  const double* centres = static_cast<const double*>(typed_data(env, tc));
  const uint8_t* active = static_cast<const uint8_t*>(typed_data(env, ta));
  double* sums = static_cast<double*>(typed_data(env, ts));
  double* counts = static_cast<double*>(typed_data(env, tn));
  double* cost = static_cast<double*>(typed_data(env, tk));
  if (type == napi_float32_array) {
    dba_accumulate_impl<float>(static_cast<const float*>(typed_data(env, tx)), L, r0, r1, labels, centres, active, r, sums, counts, cost);
  } else {
    dba_accumulate_impl<double>(static_cast<const double*>(typed_data(env, tx)), L, r0, r1, labels, centres, active, r, sums, counts, cost);
  }
  return env.Undefined();
}

// Blocked transpose (a strided loop misses the cache on every store): dst[j * h + i] = src[i * w + j].
template <typename T>
void transpose_block(const T* src, int h, int w, T* dst) {
  constexpr int B = 64;
  for (int ib = 0; ib < h; ib += B) {
    const int ie = ib + B < h ? ib + B : h;
    for (int jb = 0; jb < w; jb += B) {
      const int je = jb + B < w ? jb + B : w;
      for (int j = jb; j < je; j++)
        for (int i = ib; i < ie; i++) dst[static_cast<size_t>(j) * h + i] = src[static_cast<size_t>(i) * w + j];
    }
  }
}

// The lower half of a diagonal tile (h × h) from its upper half, by blocks.
template <typename T>
void mirror_diagonal(T* tile, int h) {
  constexpr int B = 64;
  for (int ib = 0; ib < h; ib += B) {
    for (int jb = 0; jb <= ib; jb += B) {
      const int ie = ib + B < h ? ib + B : h;
      const int je = jb + B < h ? jb + B : h;
      for (int i = ib; i < ie; i++)
        for (int j = jb; j < je && j < i; j++) tile[static_cast<size_t>(i) * h + j] = tile[static_cast<size_t>(j) * h + i];
    }
  }
}

// JS: tile(A, L, r0, r1, c0, c1, radius, out, mirror, full): the matrix worker's tile of the upper
// triangle (r0 ≤ c0; A holds the series). out (h × w) gets the rows; on a diagonal tile with
// `full` the lower half mirrors the upper one; `mirror` (w × h, or null) gets the columns as rows.
// The same values as block() followed by the worker's TypeScript loops, without their cost
// (the transposes took as long as the DTW at L = 24).
Napi::Value Tile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 10 || !info[0].IsTypedArray() || !info[7].IsTypedArray()) throw Napi::TypeError::New(env, "tile(A, L, r0, r1, c0, c1, radius, out, mirror, full): wrong arguments");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  Napi::TypedArray to = info[7].As<Napi::TypedArray>();
  const bool hasMirror = info[8].IsTypedArray();
  const int L = info[1].As<Napi::Number>().Int32Value();
  const int r0 = info[2].As<Napi::Number>().Int32Value();
  const int r1 = info[3].As<Napi::Number>().Int32Value();
  const int c0 = info[4].As<Napi::Number>().Int32Value();
  const int c1 = info[5].As<Napi::Number>().Int32Value();
  const int r = info[6].As<Napi::Number>().Int32Value();
  const bool full = info[9].As<Napi::Boolean>().Value();
  const napi_typedarray_type type = ta.TypedArrayType();
  const int h = r1 - r0;
  const int w = c1 - c0;
  const bool diagonal = r0 == c0;
  if (to.TypedArrayType() != type || (hasMirror && info[8].As<Napi::TypedArray>().TypedArrayType() != type) ||
      (type != napi_float32_array && type != napi_float64_array)) {
    throw Napi::TypeError::New(env, "tile: A, out and mirror must all be Float32Array or all Float64Array");
  }
  if (L < 1 || r < 0 || r0 < 0 || h < 1 || c0 < r0 || w < 1 || (diagonal && h != w) || static_cast<size_t>(r1) * L > ta.ElementLength() ||
      static_cast<size_t>(c1) * L > ta.ElementLength() || static_cast<size_t>(h) * w > to.ElementLength() ||
      (hasMirror && static_cast<size_t>(h) * w > info[8].As<Napi::TypedArray>().ElementLength())) {
    throw Napi::RangeError::New(env, "tile: tile bounds outside the arrays");
  }
  const int rr = band_radius(r, L);
  if (type == napi_float32_array) {
    const float* A = static_cast<const float*>(typed_data(env, ta));
    float* O = static_cast<float*>(typed_data(env, to));
    block_f32(A, A, L, r0, r1, c0, c1, rr, O, diagonal);
    if (diagonal && full) mirror_diagonal(O, h);
    if (hasMirror && !diagonal) transpose_block(O, h, w, static_cast<float*>(typed_data(env, info[8].As<Napi::TypedArray>())));
  } else {
    const double* A = static_cast<const double*>(typed_data(env, ta));
    double* O = static_cast<double*>(typed_data(env, to));
    block_f64(A, A, L, r0, r1, c0, c1, rr, O, diagonal);
    if (diagonal && full) mirror_diagonal(O, h);
    if (hasMirror && !diagonal) transpose_block(O, h, w, static_cast<double*>(typed_data(env, info[8].As<Napi::TypedArray>())));
  }
  return env.Undefined();
}

// JS: alignedBuffer(bytes, align) → an ArrayBuffer whose memory starts on an `align`-byte
// boundary (a power of two ≥ 8). Direct I/O (O_DIRECT) needs block-aligned memory, which
// JavaScript cannot ask for; the matrix writer stages whole bands in two such buffers (issue 16).
Napi::Value AlignedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 2 || !info[0].IsNumber() || !info[1].IsNumber()) throw Napi::TypeError::New(env, "alignedBuffer(bytes, align): wrong arguments");
  const double want = info[0].As<Napi::Number>().DoubleValue();
  const int64_t align = info[1].As<Napi::Number>().Int64Value();
  if (!(want >= 1) || want > 1e15 || align < 8 || (align & (align - 1)) != 0) throw Napi::RangeError::New(env, "alignedBuffer: bad size or alignment");
  const size_t bytes = static_cast<size_t>(want);
  void* p = nullptr;
  if (posix_memalign(&p, static_cast<size_t>(align), bytes) != 0 || p == nullptr) throw Napi::Error::New(env, "alignedBuffer: out of memory");
  napi_value ab;
  const napi_status st = napi_create_external_arraybuffer(
      env, p, bytes, [](napi_env, void* data, void*) { free(data); }, nullptr, &ab);
  if (st != napi_ok) {
    free(p);
    throw Napi::Error::New(env, "alignedBuffer: external buffers are not allowed in this runtime");
  }
  return Napi::Value(env, ab);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("block", Napi::Function::New(env, Block, "block"));
  exports.Set("assign", Napi::Function::New(env, Assign, "assign"));
  exports.Set("dbaAccumulate", Napi::Function::New(env, DbaAccumulate, "dbaAccumulate"));
  exports.Set("isa", Napi::String::New(env, isa_name()));
  exports.Set("abiVersion", Napi::Number::New(env, 1));
  exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer, "alignedBuffer"));
  exports.Set("tile", Napi::Function::New(env, Tile, "tile"));
  lpclust_register_kmeans(env, exports);
  return exports;
}

}  // namespace

// NODE_API_MODULE registers through N-API, which makes the addon context-aware: it can be loaded
// by the main thread and by every worker thread, each with its own exports object.
NODE_API_MODULE(lpclust_dtw, Init)
