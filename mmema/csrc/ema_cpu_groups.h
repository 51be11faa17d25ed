// Copyright (c) mmema contributors. All rights reserved.
// EMA's forward and backward on one channel group, in cache.
//
// ema_cpu.cpp includes this file twice, into namespaces compiled for
// different instruction sets, so it has no include guard and includes
// nothing itself (<algorithm>, <bit>, <cmath>, <cstdint>, <type_traits>,
// <utility> and ema_cpu_args.h come first). A group g is c contiguous
// planes of h x w; the loops run over a whole plane (index i = y * w + x),
// so they vectorise for small planes too.
// Notation as in mmema/models/plugins/ema_paths/identities.py:
// G = gate_h x gate_w, z = g * G is the GroupNorm input, p the gradient of
// the logits. Taps index a 3x3 window as ky * 3 + kx.

// Planes of at most this many values are small: there, loop overheads
// outweigh cache traffic.
constexpr int64_t kSmallPlane = 256;

// Sums over a plane run in blocks: T lanes inside a block, double across.
constexpr int64_t kSumBlock = 512;

// exp(v) for float in plain arithmetic, so loops over it vectorise
// (Cephes' expf: v = n ln2 + r, a degree-6 polynomial in r, 2^n from the
// exponent bits; relative error about 1e-7). Inputs are clamped to the
// normal range. Doubles take std::exp.
inline float exp_poly(float v) {
  v = std::min(std::max(v, -87.3f), 88.7f);
  // Round v / ln2 to the nearest integer with the 1.5 * 2^23 trick.
  const float n = (v * 1.44269504f + 12582912.0f) - 12582912.0f;
  const float r = (v - n * 0.693359375f) + n * 2.12194440e-4f;
  float q = 1.9875691500e-4f;
  q = q * r + 1.3981999507e-3f;
  q = q * r + 8.3334519073e-3f;
  q = q * r + 4.1665795894e-2f;
  q = q * r + 1.6666665459e-1f;
  q = q * r + 5.0000001201e-1f;
  q = q * r * r + r + 1.0f;
  const int32_t bits = (int32_t(n) + 127) << 23;
  return q * std::bit_cast<float>(bits);
}

inline double exp_poly(double v) {
  return std::exp(v);
}

template <typename T>
inline T sigmoid(T v) {
  return T(1) / (T(1) + exp_poly(-v));
}

// out[i] = sigmoid(in[i]) for i < n (in may equal out).
template <typename T>
inline void sigmoid_all(const T* in, T* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = sigmoid(in[i]);
}

template <typename T, typename F>
inline double plane_sum(int64_t n, const F& term) {
  double total = 0;
  for (int64_t start = 0; start < n; start += kSumBlock) {
    const int64_t stop = std::min(n, start + kSumBlock);
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = start; i < stop; ++i) s += term(i);
    total += s;
  }
  return total;
}

// 32-byte vectors (8 floats, 4 doubles) in GCC's generic vector extension:
// AVX registers in the AVX2 build, pairs of SSE registers in the baseline.
// `unaligned` loads and stores them at any element address.
// `lanes_below(n)` has all bits set in the first n lanes, to mask with.
template <typename T>
struct Vec32 {
  typedef T type __attribute__((vector_size(32)));
  typedef T unaligned
      __attribute__((vector_size(32), aligned(alignof(T)), may_alias));
  typedef std::conditional_t<sizeof(T) == 4, int32_t, int64_t> Int;
  typedef Int bits __attribute__((vector_size(32)));
  static constexpr int64_t lanes = 32 / sizeof(T);
  static bits lanes_below(int64_t n) {
    bits mask{};
    for (int64_t j = 0; j < std::min(n, lanes); ++j) mask[j] = Int(-1);
    return mask;
  }
};

// The sums of v and of v * v for v = a[i] * b[i] - shift over i < n, as
// plane_sum (T within blocks, double across), in four vectors of partial
// sums each, so that the additions of neighbouring vectors overlap.
template <typename T>
inline std::pair<double, double> shifted_product_sums(
    const T* __restrict__ a, const T* __restrict__ b, T shift, int64_t n) {
  using V = typename Vec32<T>::type;
  using U = typename Vec32<T>::unaligned;
  constexpr int64_t L = Vec32<T>::lanes;
  double total = 0, total_sq = 0;
  for (int64_t start = 0; start < n; start += kSumBlock) {
    const int64_t stop = std::min(n, start + kSumBlock);
    V s[4] = {}, sq[4] = {};
    int64_t i = start;
    for (; i + 4 * L <= stop; i += 4 * L) {
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        const V v = *reinterpret_cast<const U*>(a + i + j * L) *
                        *reinterpret_cast<const U*>(b + i + j * L) -
                    shift;
        s[j] += v;
        sq[j] += v * v;
      }
    }
    const V s_all = (s[0] + s[1]) + (s[2] + s[3]);
    const V sq_all = (sq[0] + sq[1]) + (sq[2] + sq[3]);
    T s_block = 0, sq_block = 0;
    for (int64_t j = 0; j < L; ++j) {
      s_block += s_all[j];
      sq_block += sq_all[j];
    }
    for (; i < stop; ++i) {
      const T v = a[i] * b[i] - shift;
      s_block += v;
      sq_block += v * v;
    }
    total += s_block;
    total_sq += sq_block;
  }
  return {total, total_sq};
}

// out[r][v * lanes + j] = sum over kk of a[r * a_row + kk * a_col] *
// b[kk * ldb + v * lanes + j] for R rows and Q vectors of columns, the
// accumulators held in registers.
template <typename T, int R, int Q>
inline __attribute__((always_inline)) void gemm_block(
    const T* a, int64_t a_row, int64_t a_col, const T* b, int64_t ldb, T* out,
    int64_t ldo, int64_t k) {
  using V = typename Vec32<T>::type;
  using U = typename Vec32<T>::unaligned;
  constexpr int64_t L = Vec32<T>::lanes;
  V acc[R][Q];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q) acc[r][q] = V{};
  for (int64_t kk = 0; kk < k; ++kk) {
    V bv[Q];
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q)
      bv[q] = *reinterpret_cast<const U*>(b + kk * ldb + q * L);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const T u = a[r * a_row + kk * a_col];
#pragma GCC unroll 4
      for (int q = 0; q < Q; ++q) acc[r][q] += u * bv[q];
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int q = 0; q < Q; ++q)
      *reinterpret_cast<U*>(out + r * ldo + q * L) = acc[r][q];
}

// gemm_block over rows [0, R) of a and out and all n_pad / lanes column
// vectors, Q at a time, then one at a time.
template <typename T, int R, int Q>
inline void gemm_rows(const T* a, int64_t a_row, int64_t a_col, const T* b,
                      T* out, int64_t k, int64_t n_pad) {
  constexpr int64_t L = Vec32<T>::lanes;
  const int64_t nv = n_pad / L;
  int64_t v = 0;
  for (; v + Q <= nv; v += Q)
    gemm_block<T, R, Q>(a, a_row, a_col, b + v * L, n_pad, out + v * L, n_pad,
                        k);
  for (; v < nv; ++v)
    gemm_block<T, R, 1>(a, a_row, a_col, b + v * L, n_pad, out + v * L, n_pad,
                        k);
}

// out (m x n_pad) = a (m x k) @ b (k x n_pad) for the small per-group
// products: a's element (i, kk) is a[i * a_row + kk * a_col]; b's and out's
// rows hold n_pad values, a multiple of the vector width (b zero-padded).
template <typename T>
void small_gemm(const T* a, int64_t a_row, int64_t a_col, const T* b,
                T* out, int64_t m, int64_t k, int64_t n_pad) {
  int64_t i = 0;
  for (; i + 4 <= m; i += 4)
    gemm_rows<T, 4, 2>(a + i * a_row, a_row, a_col, b, out + i * n_pad, k,
                       n_pad);
  for (; i < m; ++i)
    gemm_rows<T, 1, 4>(a + i * a_row, a_row, a_col, b, out + i * n_pad, k,
                       n_pad);
}

// Copy a plane into padded (w + 1 zeros, the plane, w + 1 zeros; the zeros
// are written by the caller once) and return a pointer to its first value,
// so row offsets of -w and +w read zeros beyond the plane.
template <typename T>
inline const T* pad_plane(const T* __restrict__ plane, T* __restrict__ padded,
                          int64_t w, int64_t area) {
  T* start = padded + w + 1;
  std::copy(plane, plane + area, start);
  return start;
}

// Hint the cache line at offset i of each of the next group's maps.
template <typename T>
inline void prefetch_line(const NextGroup<T>& next, int64_t i) {
  if (next.input != nullptr) __builtin_prefetch(next.input + i, 0, 2);
  if (next.grad != nullptr) __builtin_prefetch(next.grad + i, 0, 2);
  if (next.output != nullptr) __builtin_prefetch(next.output + i, 1, 2);
}

// body(i) for i < n, vectorised a cache line at a time, hinting line
// offset + i of the next group's maps before each.
template <typename T, typename F>
inline void for_lines(int64_t n, const NextGroup<T>& next, int64_t offset,
                      const F& body) {
  constexpr int64_t line = 64 / sizeof(T);
  int64_t i = 0;
  for (; i + line <= n; i += line) {
    prefetch_line(next, offset + i);
#pragma omp simd
    for (int64_t j = i; j < i + line; ++j) body(j);
  }
#pragma omp simd
  for (int64_t j = i; j < n; ++j) body(j);
}

// out[i] += term(i) + sum of k[t] * src[i + offset(t)] over the 9 taps,
// reading zeros outside the plane: a single-output 3x3 correlation. src is
// padded. Hints the next group's maps at offset .. offset + area.
template <typename T, typename F>
inline void add_conv_plane(T* __restrict__ out, const T* __restrict__ src,
                           const T* k, const PlaneMasks<T>& m, int64_t w,
                           int64_t area, const NextGroup<T>& next,
                           int64_t offset, const F& term) {
  const T k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5],
          k6 = k[6], k7 = k[7], k8 = k[8];
  const T* __restrict__ ml = m.left;
  const T* __restrict__ mr = m.right;
  for_lines(area, next, offset, [&](int64_t i) {
    const T* s = src + i;
    out[i] += term(i) +
              ml[i] * (k0 * s[-w - 1] + k3 * s[-1] + k6 * s[w - 1]) +
              (k1 * s[-w] + k4 * s[0] + k7 * s[w]) +
              mr[i] * (k2 * s[-w + 1] + k5 * s[1] + k8 * s[w + 1]);
  });
}

// out[i] = term(i) + the correlation of add_conv_plane, from three padded
// copies of the source, so no masks are needed: src_r zeroed in the last
// column (read by taps kx = 0), src itself (kx = 1) and src_l zeroed in
// the first column (kx = 2).
template <typename T, typename F>
inline void set_conv_plane(T* __restrict__ out, const T* __restrict__ src,
                           const T* __restrict__ src_l,
                           const T* __restrict__ src_r, const T* k,
                           int64_t w, int64_t area, const NextGroup<T>& next,
                           int64_t offset, const F& term) {
  const T k0 = k[0], k1 = k[1], k2 = k[2], k3 = k[3], k4 = k[4], k5 = k[5],
          k6 = k[6], k7 = k[7], k8 = k[8];
  for_lines(area, next, offset, [&](int64_t i) {
    const T* s = src + i;
    const T* l = src_l + i;
    const T* r = src_r + i;
    out[i] = term(i) + (k0 * r[-w - 1] + k3 * r[-1] + k6 * r[w - 1]) +
             (k1 * s[-w] + k4 * s[0] + k7 * s[w]) +
             (k2 * l[-w + 1] + k5 * l[1] + k8 * l[w + 1]);
  });
}

// The lane sums of L vectors t[0..L), as lane r of one vector: log2(L)
// rounds that add the even and the odd lanes of neighbouring vectors.
// Overwrites t.
template <typename T>
inline typename Vec32<T>::type lane_sums(typename Vec32<T>::type* t) {
  using B = typename Vec32<T>::bits;
  constexpr int64_t L = Vec32<T>::lanes;
  B even, odd;
  for (int64_t j = 0; j < L; ++j) {
    even[j] = typename Vec32<T>::Int(2 * j);
    odd[j] = typename Vec32<T>::Int(2 * j + 1);
  }
  for (int64_t n = L; n > 1; n /= 2)
    for (int64_t j = 0; j < n / 2; ++j)
      t[j] = __builtin_shuffle(t[2 * j], t[2 * j + 1], even) +
             __builtin_shuffle(t[2 * j], t[2 * j + 1], odd);
  return t[0];
}

// out[r] = sum over i < n of m[r * ld + i] * v[i] for r < rows <= L: one
// vector of partial sums per row, each load of v shared by the rows, and
// the rows' lane sums from lane_sums.
template <typename T>
inline void row_dots(const T* __restrict__ m, int64_t ld,
                     const T* __restrict__ v, int64_t n, int64_t rows,
                     T* __restrict__ out) {
  using V = typename Vec32<T>::type;
  using U = typename Vec32<T>::unaligned;
  constexpr int64_t L = Vec32<T>::lanes;
  V acc[L] = {};
  int64_t i = 0;
  for (; i + L <= n; i += L) {
    const V x = *reinterpret_cast<const U*>(v + i);
    for (int64_t r = 0; r < rows; ++r)
      acc[r] += *reinterpret_cast<const U*>(m + r * ld + i) * x;
  }
  const V sums = lane_sums<T>(acc);
  for (int64_t r = 0; r < rows; ++r) {
    T total = sums[r];
    for (int64_t j = i; j < n; ++j) total += m[r * ld + j] * v[j];
    out[r] = total;
  }
}

// row_col_sums for rows of at most NV vectors: a row is NV vector loads,
// the last masked from w on (those lanes hold the next rows'); the last
// rows, where a load would pass the plane's end, are read value by value.
// Row sums come out L rows at a time from lane_sums; column sums gather in
// T over blocks of 8 L rows.
template <typename T, int NV>
inline void short_row_col_sums(const T* __restrict__ plane, int64_t h,
                               int64_t w, double* __restrict__ row_sum,
                               double* __restrict__ col_sum) {
  using V = typename Vec32<T>::type;
  using U = typename Vec32<T>::unaligned;
  using B = typename Vec32<T>::bits;
  constexpr int64_t L = Vec32<T>::lanes;
  const B keep = Vec32<T>::lanes_below(w - (NV - 1) * L);
  V cols[NV] = {};
  bool first_flush = true;
  auto flush = [&] {
    for (int j = 0; j < NV; ++j) {
      const int64_t end = std::min(L, w - j * L);
      double* out = col_sum + j * L;
      if (first_flush) {
        for (int64_t x = 0; x < end; ++x) out[x] = cols[j][x];
      } else {
        for (int64_t x = 0; x < end; ++x) out[x] += cols[j][x];
      }
      cols[j] = V{};
    }
    first_flush = false;
  };
  V totals[L];
  // Rows y with y * w + NV * L <= h * w.
  const int64_t vector_rows = h * w >= NV * L ? (h * w - NV * L) / w + 1 : 0;
  for (int64_t first = 0; first < vector_rows; first += L) {
    const int64_t rows = std::min(L, vector_rows - first);
    for (int64_t k = 0; k < L; ++k) totals[k] = V{};
    for (int64_t k = 0; k < rows; ++k) {
      const T* row = plane + (first + k) * w;
      for (int j = 0; j < NV; ++j) {
        V r = *reinterpret_cast<const U*>(row + j * L);
        if (j == NV - 1) r = (V)((B)r & keep);
        cols[j] += r;
        totals[k] += r;
      }
    }
    const V sums = lane_sums<T>(totals);
    for (int64_t k = 0; k < rows; ++k) row_sum[first + k] = sums[k];
    if ((first / L) % 8 == 7) flush();
  }
  flush();
  for (int64_t y = vector_rows; y < h; ++y) {
    const T* row = plane + y * w;
    T s = 0;
    for (int64_t x = 0; x < w; ++x) {
      s += row[x];
      col_sum[x] += row[x];
    }
    row_sum[y] = s;
  }
}

// Row sums and column sums of a plane, in double.
template <typename T>
inline void row_col_sums(const T* __restrict__ plane, int64_t h, int64_t w,
                         double* __restrict__ row_sum,
                         double* __restrict__ col_sum) {
  constexpr int64_t L = Vec32<T>::lanes;
  switch ((w + L - 1) / L) {
    case 1: return short_row_col_sums<T, 1>(plane, h, w, row_sum, col_sum);
    case 2: return short_row_col_sums<T, 2>(plane, h, w, row_sum, col_sum);
    case 3: return short_row_col_sums<T, 3>(plane, h, w, row_sum, col_sum);
    case 4: return short_row_col_sums<T, 4>(plane, h, w, row_sum, col_sum);
    case 5: return short_row_col_sums<T, 5>(plane, h, w, row_sum, col_sum);
    case 6: return short_row_col_sums<T, 6>(plane, h, w, row_sum, col_sum);
    case 7: return short_row_col_sums<T, 7>(plane, h, w, row_sum, col_sum);
    case 8: return short_row_col_sums<T, 8>(plane, h, w, row_sum, col_sum);
    default: break;
  }
  std::fill(col_sum, col_sum + w, 0.0);
  for (int64_t y = 0; y < h; ++y) {
    const T* row = plane + y * w;
    T s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t x = 0; x < w; ++x) s += row[x];
#pragma omp simd
    for (int64_t x = 0; x < w; ++x) col_sum[x] += row[x];
    row_sum[y] = s;
  }
}

// G = gate_h x gate_w of channel ch, (h * w): one plane, so that it stays
// in L1 while the channel's loops read it.
template <typename T>
void gate_plane(const EMAConsts<T>& k, const T* gates, int64_t ch,
                T* __restrict__ out) {
  using V = typename Vec32<T>::type;
  using U = typename Vec32<T>::unaligned;
  constexpr int64_t L = Vec32<T>::lanes;
  const int64_t h = k.h, w = k.w;
  const T* gh = gates + ch * (h + w);
  const T* __restrict__ gw = gh + h;
  int64_t y = 0;
  if (w < L) {
    // One store a row; its lanes from w on spill into the next rows, which
    // later stores overwrite. The last rows, where a store would pass the
    // plane's end, are written value by value.
    V row{};
    for (int64_t x = 0; x < w; ++x) row[x] = gw[x];
    for (; y * w + L <= h * w; ++y)
      *reinterpret_cast<U*>(out + y * w) = gh[y] * row;
    for (; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) out[y * w + x] = gh[y] * gw[x];
    return;
  }
  // Whole vectors, the last one ending at w (overlapping the one before).
  for (; y < h; ++y) {
    const T a = gh[y];
    T* row = out + y * w;
    for (int64_t x = 0; x < w; x += L) {
      const int64_t at = std::min(x, w - L);
      *reinterpret_cast<U*>(row + at) =
          a * *reinterpret_cast<const U*>(gw + at);
    }
  }
}

// Row and column means of each plane (the 1x1 branch's pooling) and the
// sums over each 3x3 tap's window: tap (ky, kx) reads g[y + ky - 1]
// [x + kx - 1], so over the plane it sums all but the last (ky = 0) or
// first (ky = 2) row and the last (kx = 0) or first (kx = 2) column, adding
// back the corner removed twice.
template <typename T>
void plane_sums(const T* __restrict__ g, const EMAConsts<T>& k,
                const GroupState<T>& st, double* row_sum, double* col_sum) {
  const int64_t h = k.h, w = k.w, area = h * w;
  const double inv_w = 1.0 / w, inv_h = 1.0 / h;
  for (int64_t ch = 0; ch < k.c; ++ch) {
    const T* gc = g + ch * area;
    row_col_sums(gc, h, w, row_sum, col_sum);
    double total = 0;
    T* pooled = st.pooled + ch * st.pooled_stride;
    for (int64_t y = 0; y < h; ++y) {
      total += row_sum[y];
      pooled[y] = T(row_sum[y] * inv_w);
    }
    for (int64_t x = 0; x < w; ++x) pooled[h + x] = T(col_sum[x] * inv_h);
    const double skip_row[3] = {row_sum[h - 1], 0.0, row_sum[0]};
    const double skip_col[3] = {col_sum[w - 1], 0.0, col_sum[0]};
    for (int64_t ky = 0; ky < 3; ++ky) {
      for (int64_t kx = 0; kx < 3; ++kx) {
        double s = total - skip_row[ky] - skip_col[kx];
        if (ky != 1 && kx != 1)
          s += gc[(ky == 0 ? h - 1 : 0) * w + (kx == 0 ? w - 1 : 0)];
        st.window[ch * 9 + ky * 3 + kx] = T(s);
      }
    }
  }
}

// gates = sigmoid(conv1x1(pooled)), (c, h + w), through pre, which holds
// (h + w) * c_pad values.
template <typename T>
void directional_gates(const EMAConsts<T>& k, const GroupState<T>& st,
                       T* __restrict__ pre) {
  const int64_t c = k.c, len = k.h + k.w;
  // pre[i][o] = sum over ch of pooled[ch][i] * w1[o][ch].
  small_gemm(st.pooled, 1, st.pooled_stride, k.w1t, pre, len, c, k.c_pad);
  for (int64_t o = 0; o < c; ++o)
    for (int64_t i = 0; i < len; ++i)
      st.gates[o * len + i] = pre[i * k.c_pad + o] + k.b1[o];
  sigmoid_all(st.gates, st.gates, c * len);
}

// x21 = softmax(mean_HW(conv3x3(g))), the means taken from the window sums
// by products with conv3x3.weight's rows, eight rows at a time (the rows as
// the module holds them: the forward copies the c x 9c weight only where
// 9c is not a whole number of vectors); means holds c doubles.
template <typename T>
void conv3x3_mean_softmax(const EMAConsts<T>& k, const GroupState<T>& st,
                          double* means) {
  const int64_t c = k.c;
  const double inv_area = 1.0 / double(k.h * k.w);
  for (int64_t o = 0; o < c; o += Vec32<T>::lanes) {
    T dots[Vec32<T>::lanes];
    row_dots(k.w3 + o * k.c9_pad, k.c9_pad, st.window, 9 * c,
             std::min(Vec32<T>::lanes, c - o), dots);
    for (int64_t r = 0; r < std::min(Vec32<T>::lanes, c - o); ++r)
      means[o + r] = k.b3[o + r] + dots[r] * inv_area;
  }
  double top = -INFINITY;
  for (int64_t o = 0; o < c; ++o) {
    top = std::max(top, means[o]);
  }
  double total = 0;
  for (int64_t o = 0; o < c; ++o) {
    means[o] = std::exp(means[o] - top);
    total += means[o];
  }
  for (int64_t o = 0; o < c; ++o) st.x21[o] = T(means[o] / total);
}

// The forward pass of one group: y = g * sigmoid(logits), where
// logits = x11 @ conv3x3(g) + x21 @ gn(z). Scratch: t holds
// (c + 2) * h * w + 2 * (w + 1) + c_pad * (h + w + 1) values of T (a large
// plane's one sweep uses 3 * h * w of the first term), zeroed by
// the caller (the padding of the padded plane stays zero), d holds h + w + c
// doubles.
template <typename T>
void forward_group(const T* __restrict__ g, T* __restrict__ y,
                   const EMAConsts<T>& k, const GroupState<T>& st,
                   const PlaneMasks<T>& masks, const NextGroup<T>& next, T* t,
                   double* d) {
  const int64_t c = k.c, h = k.h, w = k.w, area = h * w;
  // Large planes take each channel's statistics and logit terms in one
  // sweep, with the channel's G plane in L1; small ones sweep twice over all
  // G planes, so that the statistics of several channels overlap.
  const bool one_sweep = area > kSmallPlane;
  T* padded = t;
  T* planes = padded + area + 2 * (w + 1);
  T* coef = planes + (one_sweep ? 1 : c) * area;
  T* attn = coef + k.c_pad;
  T* pre = attn + area;
  plane_sums(g, k, st, d, d + h);
  directional_gates(k, st, pre);
  conv3x3_mean_softmax(k, st, d + h + w);
  auto gate_of = [&](int64_t ch) {
    return planes + (one_sweep ? 0 : ch * area);
  };
  // GroupNorm's statistics of z, summed about z's first value (a shift
  // near the mean keeps the variance accurate); coef[ch] and offset give
  // x21 @ gn(z) = sum_c coef[c] * z[c] + offset.
  double offset = k.kernel_bias;
  const double inv_area = 1.0 / area;
  auto statistics = [&](int64_t ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ gp = gate_of(ch);
    const T shift = gc[0] * gp[0];
    const auto sums = shifted_product_sums(gc, gp, shift, area);
    const double centred = sums.first * inv_area;
    const double mean = shift + centred;
    const double var =
        std::max(sums.second * inv_area - centred * centred, 0.0);
    const double rstd = 1.0 / std::sqrt(var + k.eps);
    st.mean[ch] = T(mean);
    st.rstd[ch] = T(rstd);
    const double scale = double(k.gn_w[ch]) * rstd;
    offset += st.x21[ch] * (k.gn_b[ch] - scale * mean);
    coef[ch] = T(st.x21[ch] * scale);
  };
  // logits += x11 @ conv3x3(g) + coef[ch] * z over channel ch.
  T* __restrict__ logits = st.logits;
  auto add_logits = [&](int64_t ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ gp = gate_of(ch);
    const T a = coef[ch];
    add_conv_plane(logits, pad_plane(gc, padded, w, area), k.kernel + ch * 9,
                   masks, w, area, next, ch * area,
                   [&](int64_t i) { return a * gp[i] * gc[i]; });
  };
  std::fill(logits, logits + area, T(0));
  if (one_sweep) {
    for (int64_t ch = 0; ch < c; ++ch) {
      gate_plane(k, st.gates, ch, planes);
      statistics(ch);
      add_logits(ch);
    }
  } else {
    for (int64_t ch = 0; ch < c; ++ch) gate_plane(k, st.gates, ch, gate_of(ch));
    for (int64_t ch = 0; ch < c; ++ch) statistics(ch);
    for (int64_t ch = 0; ch < c; ++ch) add_logits(ch);
  }
  const T shift = T(offset);
#pragma omp simd
  for (int64_t i = 0; i < area; ++i) {
    logits[i] += shift;
    attn[i] = sigmoid(logits[i]);
  }
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* __restrict__ gc = g + ch * area;
    T* __restrict__ yc = y + ch * area;
#pragma omp simd
    for (int64_t i = 0; i < area; ++i) yc[i] = gc[i] * attn[i];
  }
}

// The backward pass of one group. dz = a * p + b * z + e per channel is
// GroupNorm's backward; the 3x3 branch's means pass their gradient to g
// through the window sums, the 1x1 branch through the pooled means. dx may
// be null (no input gradient). Scratch: t holds (c + 6) * h * w +
// 8 * (w + 1) + c_pad * (h + w) + c9_pad + 4 * c + w values of T, zeroed by
// the caller (the paddings stay zero), d holds h + w + c doubles.
template <typename T>
void backward_group(const T* __restrict__ g, const T* __restrict__ dy,
                    T* __restrict__ dx, const EMAConsts<T>& k,
                    const GroupState<T>& st, const GroupGrads<T>& gr,
                    const PlaneMasks<T>& masks, const NextGroup<T>& next,
                    T* t, double* d) {
  const int64_t c = k.c, h = k.h, w = k.w, area = h * w, len = h + w;
  const int64_t pad = area + 2 * (w + 1);
  T* padded = t;                 // g's plane, padded
  T* p_padded = padded + pad;    // p, padded
  T* p = p_padded + w + 1;
  T* planes = p_padded + pad;    // G per channel
  T* attn = planes + c * area;
  T* p_left = attn + area + w + 1;  // p zeroed in the first column, padded
  T* p_right = p_left + pad;        // p zeroed in the last column, padded
  T* v = p_right + area + w + 1;    // dz * z, then dx's rank-one terms
  T* dpooled = v + area;         // (h + w, c_pad) pooled means' gradients
  T* win = dpooled + len * k.c_pad;  // (c, 9) window sums' gradients
  T* a = win + k.c9_pad;
  T* b = a + c;
  T* e = b + c;
  T* m3 = e + c;
  T* col = m3 + c;
  double* row_sum = d;
  double* col_sum = d + h;
  double* dx21 = col_sum + w;

  // p = sigmoid'(logits) * sum_c(dy * g).
  sigmoid_all(st.logits, attn, area);
  std::fill(p, p + area, T(0));
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ dc = dy + ch * area;
#pragma omp simd
    for (int64_t i = 0; i < area; ++i) p[i] += dc[i] * gc[i];
  }
#pragma omp simd
  for (int64_t i = 0; i < area; ++i) {
    p[i] *= attn[i] * (T(1) - attn[i]);
    p_left[i] = p[i] * masks.left[i];
    p_right[i] = p[i] * masks.right[i];
  }
  const double sum_p = plane_sum<T>(area, [&](int64_t i) { return p[i]; });
  gr.sum_p[0] = T(sum_p);
  for (int64_t ch = 0; ch < c; ++ch)
    gate_plane(k, st.gates, ch, planes + ch * area);

  // Per channel: the merged kernel's gradient sum(p * shifted g), and
  // sum(p * z).
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ gp = planes + ch * area;
    const T* __restrict__ src = pad_plane(gc, padded, w, area);
    double dk[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
    double pz = 0;
    for (int64_t start = 0; start < area; start += kSumBlock) {
      const int64_t stop = std::min(area, start + kSumBlock);
      T s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0,
        s8 = 0, sz = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8, sz)
      for (int64_t i = start; i < stop; ++i) {
        const T* s = src + i;
        s0 += p_left[i] * s[-w - 1];
        s1 += p[i] * s[-w];
        s2 += p_right[i] * s[-w + 1];
        s3 += p_left[i] * s[-1];
        s4 += p[i] * s[0];
        s5 += p_right[i] * s[1];
        s6 += p_left[i] * s[w - 1];
        s7 += p[i] * s[w];
        s8 += p_right[i] * s[w + 1];
        sz += p[i] * s[0] * gp[i];
      }
      dk[0] += s0, dk[1] += s1, dk[2] += s2, dk[3] += s3, dk[4] += s4;
      dk[5] += s5, dk[6] += s6, dk[7] += s7, dk[8] += s8, pz += sz;
    }
    for (int64_t j = 0; j < 9; ++j) gr.kernel[ch * 9 + j] = T(dk[j]);
    gr.sum_pz[ch] = T(pz);
  }

  // Gradients of x21 and of the means before its softmax; GroupNorm's
  // backward as dz = a * p + b * z + e.
  double dot = 0;
  for (int64_t ch = 0; ch < c; ++ch) {
    const double rstd = st.rstd[ch], mean = st.mean[ch];
    const double centred = gr.sum_pz[ch] - mean * sum_p;
    dx21[ch] = double(k.gn_w[ch]) * rstd * centred + k.gn_b[ch] * sum_p;
    dot += st.x21[ch] * dx21[ch];
    const double scale = double(k.gn_w[ch]) * rstd * st.x21[ch];
    const double mean_pz = rstd * centred / area;
    a[ch] = T(scale);
    b[ch] = T(-scale * rstd * mean_pz);
    e[ch] = T(-scale * sum_p / area + scale * rstd * mean_pz * mean);
  }
  for (int64_t o = 0; o < c; ++o) {
    gr.means3[o] = T(st.x21[o] * (dx21[o] - dot));
    m3[o] = gr.means3[o] / T(area);
  }

  // conv1x1's outputs: row and column sums of dz * z times 1 - gate.
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ gp = planes + ch * area;
    const T ac = a[ch], bc = b[ch], ec = e[ch];
#pragma omp simd
    for (int64_t i = 0; i < area; ++i) {
      const T z = gc[i] * gp[i];
      v[i] = (ac * p[i] + bc * z + ec) * z;
    }
    row_col_sums(v, h, w, row_sum, col_sum);
    const T* gh = st.gates + ch * len;
    T* pre = gr.pre1 + ch * gr.pre1_stride;
    for (int64_t y = 0; y < h; ++y) pre[y] = T(row_sum[y]) * (T(1) - gh[y]);
    for (int64_t x = 0; x < w; ++x)
      pre[h + x] = T(col_sum[x]) * (T(1) - gh[h + x]);
  }
  if (dx == nullptr) return;
  small_gemm(m3, 0, 1, k.w3, win, 1, c, k.c9_pad);

  // The pooled means' gradient: conv1x1 transposed,
  // dpooled[i][ch] = sum over o of pre1[o][i] * w1[o][ch].
  small_gemm(gr.pre1, 1, gr.pre1_stride, k.w1, dpooled, len, c, k.c_pad);
  for (int64_t ch = 0; ch < c; ++ch) {
    const T* __restrict__ gc = g + ch * area;
    const T* __restrict__ dc = dy + ch * area;
    const T* __restrict__ gp = planes + ch * area;
    const T* dp = dpooled + ch;  // stride c_pad
    const T* wc = win + ch * 9;
    for (int64_t x = 0; x < w; ++x) col[x] = dp[(h + x) * k.c_pad] / T(h);
    // Terms constant along rows or columns: the pooled means' gradient and
    // the window sums'. Row y lies in the windows of ky = 0 unless it is the
    // last row, of ky = 2 unless it is the first; column x likewise.
    for (int64_t y = 0; y < h; ++y) {
      T r[3];
      for (int64_t kx = 0; kx < 3; ++kx)
        r[kx] = (y + 1 < h ? wc[kx] : T(0)) + wc[3 + kx] +
                (y > 0 ? wc[6 + kx] : T(0));
      const T row_term = dp[y * k.c_pad] / T(w) + r[0] + r[1] + r[2];
      T* __restrict__ out = v + y * w;
#pragma omp simd
      for (int64_t x = 0; x < w; ++x) out[x] = row_term + col[x];
      out[0] -= r[2];
      out[w - 1] -= r[0];
    }
    T flipped[9];
    for (int64_t j = 0; j < 9; ++j) flipped[j] = k.kernel[ch * 9 + 8 - j];
    const T ac = a[ch], bc = b[ch], ec = e[ch];
    set_conv_plane(dx + ch * area, p, p_left, p_right, flipped, w, area,
                   next, ch * area, [&](int64_t i) {
                     const T z = gc[i] * gp[i];
                     return v[i] + dc[i] * attn[i] +
                            (ac * p[i] + bc * z + ec) * gp[i];
                   });
  }
}
