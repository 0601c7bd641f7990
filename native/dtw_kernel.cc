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

// Distances of row series a (length L) against the 2·W column series stored SoA in b0/b1
// (b0[t] holds slot t of columns 0..W-1, b1[t] of columns W..2W-1). Results (sums of squares,
// before the square root) go to res0/res1.
template <typename T>
LPC_INLINE void lanes_pair(const T* a, const typename Lanes<T>::V* b0, const typename Lanes<T>::V* b1, int L, int r,
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
    const V ai = V{} + a[i];
    cur0[jlo] = vinf;
    cur1[jlo] = vinf;
    V left0 = vinf;
    V left1 = vinf;
    V p0 = prev0[jlo];
    V p1 = prev1[jlo];
    for (int j = jlo; j <= jhi; j++) {
      const V n0 = prev0[j + 1];
      const V n1 = prev1[j + 1];
      const V d0 = ai - b0[j];
      const V d1 = ai - b1[j];
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

template <typename T, int R>
LPC_INLINE void lanes_pair_band(const T* a, const typename Lanes<T>::V* b0pad, const typename Lanes<T>::V* b1pad, int L,
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
    const V ai = V{} + a[i];
    const V* bb0 = b0pad + i;  // bb0[k] = column slot i + k − R
    const V* bb1 = b1pad + i;
    V left0 = vinf;
    V left1 = vinf;
    V c0[K], c1[K];
#pragma GCC unroll 16
    for (int k = 0; k < K; k++) {
      const V up0 = k + 1 < K ? p0[k + 1] : vinf;
      const V up1 = k + 1 < K ? p1[k + 1] : vinf;
      const V d0 = ai - bb0[k];
      const V d1 = ai - bb1[k];
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
      const T* a = A + static_cast<size_t>(i) * L;
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
  const int rr = r > L - 1 ? L - 1 : r;
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
  const int rr = r > L - 1 ? L - 1 : r;
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
