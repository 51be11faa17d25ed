// Copyright (c) mmema contributors. All rights reserved.
// EMA's fused CPU forward and backward, registered as torch.ops.mmema.*.
//
// Each channel group (c planes of h x w) is read from memory once per pass
// and processed in cache by ema_cpu_groups.h; groups are shared among
// torch's intra-op threads. The per-group kernels are compiled twice, for
// AVX2 + FMA and for the baseline instruction set, and picked at run time
// (MMEMA_CPU_BASELINE=1 forces the baseline ones; ema_cpu_isa() says which
// run).
// The parameter gradients come back as per-group shares that the caller
// sums (mmema/models/plugins/ema_paths/cpu.py), so results do not
// depend on the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <Python.h>
#include <torch/library.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "ema_cpu_args.h"

// The per-group kernels pass 32-byte vectors between inline functions of
// this one file, so GCC's note that their ABI differs without AVX does not
// apply. (It is issued where templates are instantiated, at the file's end.)
#pragma GCC diagnostic ignored "-Wpsabi"

namespace mmema {

namespace baseline {
#include "ema_cpu_groups.h"  // NOLINT(build/include)
}  // namespace baseline

#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
#include "ema_cpu_groups.h"  // NOLINT(build/include)
}  // namespace avx2
#pragma GCC pop_options
#else
namespace avx2 = baseline;  // no AVX2 build off x86-64 GCC
#endif

namespace {

bool baseline_forced() {
  const char* value = std::getenv("MMEMA_CPU_BASELINE");
  return value != nullptr && std::strcmp(value, "1") == 0;
}

bool cpu_has_avx2_fma() {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = !baseline_forced() &&
                          __builtin_cpu_supports("avx2") &&
                          __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

// The AVX2 + FMA build of a kernel where the CPU runs it, else the
// baseline one.
template <typename Kernel>
Kernel pick(Kernel baseline_kernel, Kernel avx2_kernel) {
  return cpu_has_avx2_fma() ? avx2_kernel : baseline_kernel;
}

void check_input(const at::Tensor& x, int64_t factor) {
  TORCH_CHECK(x.device().is_cpu(), "mmema.ema: expected a CPU tensor");
  TORCH_CHECK(x.dim() == 4 && x.is_contiguous(),
              "mmema.ema: expected a contiguous (B, C, H, W) tensor, got ",
              x.sizes());
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "mmema.ema: expected float32 or float64, got ", x.scalar_type());
  TORCH_CHECK(factor > 0 && x.size(1) % factor == 0, "mmema.ema: ", x.size(1),
              " channels are not divisible by factor ", factor);
}

void check_param(const at::Tensor& t, const at::Tensor& x, const char* name,
                 int64_t numel) {
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous() &&
                  t.scalar_type() == x.scalar_type() && t.numel() == numel,
              "mmema.ema: ", name, " must be a contiguous CPU tensor of ",
              numel, " ", x.scalar_type(), " values");
}

// The tensor's data, or null for an undefined tensor.
template <typename T>
const T* ptr(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

// The weights as the matrices the per-group products take (see
// EMAConsts), rows zero-padded to whole 32-byte vectors (copies only where
// a row needs padding or the matrix transposing): the forward takes w1t
// and w3, the backward w1 and w3 (the other is left undefined).
struct PaddedWeights {
  at::Tensor w1, w1t, w3;
  int64_t c_pad, c9_pad;
};

PaddedWeights pad_weights(const at::Tensor& w1, const at::Tensor& w3,
                          int64_t c, bool transposed) {
  const int64_t lanes = 32 / w1.element_size();
  auto round_up = [lanes](int64_t n) {
    return (n + lanes - 1) / lanes * lanes;
  };
  auto pad = [](const at::Tensor& m, int64_t cols) {
    if (cols == m.size(1)) return m.contiguous();
    return at::constant_pad_nd(m, {0, cols - m.size(1)}).contiguous();
  };
  const int64_t c_pad = round_up(c), c9_pad = round_up(9 * c);
  const at::Tensor m1 = w1.view({c, c}), m3 = w3.view({c, 9 * c});
  if (transposed)
    return {{}, pad(m1.t(), c_pad), pad(m3, c9_pad), c_pad, c9_pad};
  return {pad(m1, c_pad), {}, pad(m3, c9_pad), c_pad, c9_pad};
}

// The forward's parameters, checked against x's group size c.
void check_forward_params(const at::Tensor& x, int64_t c, const at::Tensor& w1,
                          const at::Tensor& b1, const at::Tensor& w3,
                          const at::Tensor& b3, const at::Tensor& gn_w,
                          const at::Tensor& gn_b) {
  check_param(w1, x, "conv1x1.weight", c * c);
  check_param(b1, x, "conv1x1.bias", c);
  check_param(w3, x, "conv3x3.weight", c * c * 9);
  check_param(b3, x, "conv3x3.bias", c);
  check_param(gn_w, x, "gn.weight", c);
  check_param(gn_b, x, "gn.bias", c);
}

// The x11 @ conv3x3 term as one single-output 3x3 convolution
// (identities.cross_spatial_kernel): x11 = softmax(gn.bias), the kernel
// sum_o x11[o] * conv3x3.weight[o], (c, 9), and its bias
// sum_o x11[o] * conv3x3.bias[o].
struct MergedKernel {
  at::Tensor x11, kernel;
  double bias;
};

MergedKernel merged_kernel(const at::Tensor& w3, const at::Tensor& b3,
                           const at::Tensor& gn_b) {
  const int64_t c = gn_b.numel();
  MergedKernel merged{at::empty({c}, gn_b.options()),
                      at::empty({c, 9}, gn_b.options()), 0.0};
  AT_DISPATCH_FLOATING_TYPES(gn_b.scalar_type(), "mmema_merged_kernel", [&] {
    using T = scalar_t;
    const T* bias = ptr<T>(gn_b);
    T* x11 = merged.x11.data_ptr<T>();
    const double top = *std::max_element(bias, bias + c);
    double total = 0;
    for (int64_t o = 0; o < c; ++o) total += std::exp(bias[o] - top);
    for (int64_t o = 0; o < c; ++o)
      x11[o] = T(std::exp(bias[o] - top) / total);
    const T* weight = ptr<T>(w3);  // [o][ch * 9 + tap]
    T* kernel = merged.kernel.data_ptr<T>();
    std::fill(kernel, kernel + 9 * c, T(0));
    for (int64_t o = 0; o < c; ++o) {
      for (int64_t j = 0; j < 9 * c; ++j) kernel[j] += x11[o] * weight[j];
      weight += 9 * c;
      merged.bias += double(x11[o]) * ptr<T>(b3)[o];
    }
  });
  return merged;
}

// forward_group over the n = B * factor groups of x on torch's threads,
// writing y. state_of(i, scratch) gives group i's GroupState; scratch is
// the calling thread's, state_scratch values of T, for what a caller keeps
// only while the group runs.
template <typename T, typename StateOf>
void forward_groups(const at::Tensor& x, int64_t factor, at::Tensor& y,
                    const at::Tensor& w1, const at::Tensor& b1,
                    const at::Tensor& w3, const at::Tensor& b3,
                    const at::Tensor& gn_w, const at::Tensor& gn_b,
                    const MergedKernel& merged, double eps,
                    int64_t state_scratch, const StateOf& state_of) {
  const int64_t c = x.size(1) / factor, h = x.size(2), w = x.size(3);
  const int64_t n = x.size(0) * factor, area = h * w, len = h + w;
  const PaddedWeights pw = pad_weights(w1, w3, c, true);
  const EMAConsts<T> k{ptr<T>(pw.w1),   ptr<T>(pw.w1t),
                       ptr<T>(b1),      ptr<T>(pw.w3),
                       ptr<T>(b3),      ptr<T>(gn_w),
                       ptr<T>(gn_b),    ptr<T>(merged.kernel),
                       merged.bias,     eps,
                       c,               h,
                       w,               pw.c_pad,
                       pw.c9_pad};
  const auto run = pick(&baseline::forward_group<T>, &avx2::forward_group<T>);
  const T* xp = ptr<T>(x);
  T* yp = y.data_ptr<T>();
  at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> mask_buf(2 * area);
    const PlaneMasks<T> masks = make_masks(mask_buf.data(), h, w);
    std::vector<T> t((c + 2) * area + 2 * (w + 1) + k.c_pad * (len + 1),
                     T(0));
    std::vector<T> scratch(state_scratch);
    std::vector<double> d(len + c);
    for (int64_t i = begin; i < end; ++i) {
      const bool last = i + 1 == end;
      const NextGroup<T> next{last ? nullptr : xp + (i + 1) * c * area,
                              nullptr,
                              last ? nullptr : yp + (i + 1) * c * area};
      run(xp + i * c * area, yp + i * c * area, k,
          state_of(i, scratch.data()), masks, next, t.data(), d.data());
    }
  });
}

}  // namespace

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
           at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
ema_forward(const at::Tensor& x, int64_t factor, const at::Tensor& w1,
            const at::Tensor& b1, const at::Tensor& w3, const at::Tensor& b3,
            const at::Tensor& gn_w, const at::Tensor& gn_b, double eps) {
  check_input(x, factor);
  const int64_t c = x.size(1) / factor, h = x.size(2), w = x.size(3);
  const int64_t n = x.size(0) * factor, area = h * w, len = h + w;
  check_forward_params(x, c, w1, b1, w3, b3, gn_w, gn_b);
  const MergedKernel merged = merged_kernel(w3, b3, gn_b);
  const auto opts = x.options();
  at::Tensor y = at::empty_like(x);
  at::Tensor logits = at::empty({n, 1, h, w}, opts);
  at::Tensor gates = at::empty({n, c, len}, opts);
  // Channel-major, so that conv1x1's weight gradient is one product.
  at::Tensor pooled = at::empty({c, n, len}, opts);
  at::Tensor mean = at::empty({n, c}, opts);
  at::Tensor rstd = at::empty({n, c}, opts);
  at::Tensor x21 = at::empty({n, c}, opts);
  at::Tensor window = at::empty({n, c, 9}, opts);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mmema_ema_forward", [&] {
    using T = scalar_t;
    forward_groups<T>(x, factor, y, w1, b1, w3, b3, gn_w, gn_b, merged, eps,
                      0, [&](int64_t i, T*) {
                        return GroupState<T>{
                            logits.data_ptr<T>() + i * area,
                            gates.data_ptr<T>() + i * c * len,
                            pooled.data_ptr<T>() + i * len,
                            mean.data_ptr<T>() + i * c,
                            rstd.data_ptr<T>() + i * c,
                            x21.data_ptr<T>() + i * c,
                            window.data_ptr<T>() + i * c * 9,
                            n * len};
                      });
  });
  return {y,     logits, merged.x11, merged.kernel, gates,
          pooled, mean,   rstd,       x21,           window};
}

// The forward for inference: the output, and the logits only where
// keep_logits asks for them (else an empty tensor); what the backward would
// read stays in per-thread scratch. Takes any layout of x and the
// parameters in any floating dtype (converted to x's).
std::tuple<at::Tensor, at::Tensor> ema_inference(
    const at::Tensor& input, int64_t factor, const at::Tensor& conv1x1_w,
    const at::Tensor& conv1x1_b, const at::Tensor& conv3x3_w,
    const at::Tensor& conv3x3_b, const at::Tensor& gn_weight,
    const at::Tensor& gn_bias, double eps, bool keep_logits) {
  const at::Tensor x = input.contiguous();
  check_input(x, factor);
  const int64_t c = x.size(1) / factor, h = x.size(2), w = x.size(3);
  const int64_t n = x.size(0) * factor, area = h * w, len = h + w;
  auto like_x = [&](const at::Tensor& t) {
    return t.to(x.scalar_type()).contiguous();
  };
  const at::Tensor w1 = like_x(conv1x1_w), b1 = like_x(conv1x1_b),
                   w3 = like_x(conv3x3_w), b3 = like_x(conv3x3_b),
                   gn_w = like_x(gn_weight), gn_b = like_x(gn_bias);
  check_forward_params(x, c, w1, b1, w3, b3, gn_w, gn_b);
  const MergedKernel merged = merged_kernel(w3, b3, gn_b);
  at::Tensor y = at::empty_like(x);
  at::Tensor logits = at::empty({keep_logits ? n : 0, 1, h, w}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mmema_ema_inference", [&] {
    using T = scalar_t;
    // Per group: gates and pooled means (c, h + w) each, mean, rstd and
    // x21 (c) each, window sums (c, 9), and the logits unless kept.
    const int64_t scratch = 2 * c * len + 12 * c + (keep_logits ? 0 : area);
    T* kept = keep_logits ? logits.data_ptr<T>() : nullptr;
    forward_groups<T>(x, factor, y, w1, b1, w3, b3, gn_w, gn_b, merged, eps,
                      scratch, [&](int64_t i, T* s) {
                        T* gates = s;
                        T* pooled = gates + c * len;
                        T* stats = pooled + c * len;
                        return GroupState<T>{
                            kept != nullptr ? kept + i * area : stats + 12 * c,
                            gates,
                            pooled,
                            stats,
                            stats + c,
                            stats + 2 * c,
                            stats + 3 * c,
                            len};
                      });
  });
  return {y, logits};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
           at::Tensor>
ema_backward(const at::Tensor& grad_y, const at::Tensor& x, int64_t factor,
             const at::Tensor& w1, const at::Tensor& w3,
             const at::Tensor& gn_w, const at::Tensor& gn_b,
             const at::Tensor& kernel, const at::Tensor& logits,
             const at::Tensor& gates, const at::Tensor& mean,
             const at::Tensor& rstd, const at::Tensor& x21, bool input_grad) {
  check_input(x, factor);
  TORCH_CHECK(grad_y.sizes() == x.sizes() && grad_y.is_contiguous() &&
                  grad_y.scalar_type() == x.scalar_type(),
              "mmema.ema: grad_y must be contiguous and shaped like x");
  const int64_t c = x.size(1) / factor, h = x.size(2), w = x.size(3);
  const int64_t n = x.size(0) * factor, area = h * w, len = h + w;
  check_param(w1, x, "conv1x1.weight", c * c);
  check_param(w3, x, "conv3x3.weight", c * c * 9);
  check_param(gn_w, x, "gn.weight", c);
  check_param(gn_b, x, "gn.bias", c);
  check_param(kernel, x, "kernel", c * 9);
  check_param(logits, x, "logits", n * area);
  check_param(gates, x, "gates", n * c * len);
  check_param(mean, x, "mean", n * c);
  check_param(rstd, x, "rstd", n * c);
  check_param(x21, x, "x21", n * c);
  const auto opts = x.options();
  at::Tensor grad_x = input_grad ? at::empty_like(x) : at::empty({0}, opts);
  at::Tensor kernel_g = at::empty({n, c, 9}, opts);
  at::Tensor sum_p = at::empty({n}, opts);
  at::Tensor means3 = at::empty({n, c}, opts);
  at::Tensor sum_pz = at::empty({n, c}, opts);
  at::Tensor pre1 = at::empty({c, n, len}, opts);  // channel-major
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "mmema_ema_backward", [&] {
    using T = scalar_t;
    const PaddedWeights pw = pad_weights(w1, w3, c, false);
    const EMAConsts<T> k{ptr<T>(pw.w1),   ptr<T>(pw.w1t),
                         nullptr,         ptr<T>(pw.w3),
                         nullptr,         ptr<T>(gn_w),
                         ptr<T>(gn_b),    ptr<T>(kernel),
                         0.0,             0.0,
                         c,               h,
                         w,               pw.c_pad,
                         pw.c9_pad};
    const auto run =
        pick(&baseline::backward_group<T>, &avx2::backward_group<T>);
    const T* xp = ptr<T>(x);
    const T* dyp = ptr<T>(grad_y);
    T* dxp = input_grad ? grad_x.data_ptr<T>() : nullptr;
    at::parallel_for(0, n, 1, [&](int64_t begin, int64_t end) {
      std::vector<T> mask_buf(2 * area);
      const PlaneMasks<T> masks = make_masks(mask_buf.data(), h, w);
      std::vector<T> t((c + 6) * area + 8 * (w + 1) + k.c_pad * len +
                           k.c9_pad + 4 * c + w,
                       T(0));
      std::vector<double> d(len + c);
      for (int64_t i = begin; i < end; ++i) {
        const GroupState<T> st{logits.data_ptr<T>() + i * area,
                               gates.data_ptr<T>() + i * c * len,
                               nullptr,
                               mean.data_ptr<T>() + i * c,
                               rstd.data_ptr<T>() + i * c,
                               x21.data_ptr<T>() + i * c,
                               nullptr,
                               0};
        const GroupGrads<T> gr{kernel_g.data_ptr<T>() + i * c * 9,
                               sum_p.data_ptr<T>() + i,
                               means3.data_ptr<T>() + i * c,
                               sum_pz.data_ptr<T>() + i * c,
                               pre1.data_ptr<T>() + i * len, n * len};
        const bool last = i + 1 == end;
        const NextGroup<T> next{
            last ? nullptr : xp + (i + 1) * c * area,
            last ? nullptr : dyp + (i + 1) * c * area,
            last || dxp == nullptr ? nullptr : dxp + (i + 1) * c * area};
        run(xp + i * c * area, dyp + i * c * area,
            dxp == nullptr ? nullptr : dxp + i * c * area, k, st, gr, masks,
            next, t.data(), d.data());
      }
    });
  });
  return {grad_x, kernel_g, sum_p, means3, sum_pz, pre1};
}

std::string ema_cpu_isa() {
  return cpu_has_avx2_fma() ? "avx2" : "baseline";
}

TORCH_LIBRARY(mmema, m) {
  m.def("ema_cpu_isa() -> str", &ema_cpu_isa);
  m.def(
      "ema_forward(Tensor x, int factor, Tensor w1, Tensor b1, Tensor w3, "
      "Tensor b3, Tensor gn_w, Tensor gn_b, float eps) -> (Tensor, Tensor, "
      "Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  m.def(
      "ema_inference(Tensor x, int factor, Tensor w1, Tensor b1, Tensor w3, "
      "Tensor b3, Tensor gn_w, Tensor gn_b, float eps, bool keep_logits) -> "
      "(Tensor, Tensor)");
  m.def(
      "ema_backward(Tensor grad_y, Tensor x, int factor, Tensor w1, "
      "Tensor w3, Tensor gn_w, Tensor gn_b, Tensor kernel, Tensor logits, "
      "Tensor gates, Tensor mean, Tensor rstd, Tensor x21, bool input_grad) "
      "-> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
}

TORCH_LIBRARY_IMPL(mmema, CPU, m) {
  m.impl("ema_forward", &ema_forward);
  m.impl("ema_inference", &ema_inference);
  m.impl("ema_backward", &ema_backward);
}

}  // namespace mmema

// Importing mmema._ext loads the library, which registers the ops above.
extern "C" PyObject* PyInit__ext(void) {
  static PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ext", nullptr, -1,
                               nullptr};
  return PyModule_Create(&module);
}
