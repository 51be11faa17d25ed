// Copyright (c) mmema contributors. All rights reserved.
// Arguments of the per-group EMA kernels in ema_cpu_groups.h.
#pragma once

#include <cstdint>

namespace mmema {

// What every group of one call shares: the module's parameters, the merged
// kernel of the x11 @ conv3x3 term and the plane size. A group has c
// channels of h x w; "taps" index a 3x3 window as ky * 3 + kx.
template <typename T>
struct EMAConsts {
  // The weights of the small per-group products, as matrices whose rows
  // are zero-padded to c_pad (or c9_pad) values, a multiple of 32 bytes.
  // The forward pass reads w1t and w3, the backward w1 and w3; w1t is null
  // in the backward, w1 in the forward.
  const T* w1;      // conv1x1.weight [o][ch], (c, c_pad)
  const T* w1t;     // conv1x1.weight transposed [ch][o], (c, c_pad)
  const T* b1;      // conv1x1.bias, (c)
  const T* w3;      // conv3x3.weight [o][ch * 9 + tap], (c, c9_pad)
  const T* b3;      // conv3x3.bias, (c)
  const T* gn_w;    // gn.weight, (c)
  const T* gn_b;    // gn.bias, (c)
  const T* kernel;  // sum_o x11[o] * w3[o], (c, 9)
  double kernel_bias;  // sum_o x11[o] * b3[o]
  double eps;          // gn.eps
  int64_t c, h, w;
  int64_t c_pad, c9_pad;
};

// What the forward pass keeps of one group for the backward pass.
template <typename T>
struct GroupState {
  T* logits;  // (h * w) cross-spatial logits, before the sigmoid
  T* gates;   // (c, h + w) row then column gates
  T* pooled;  // (c, h + w) row then column means of the input, channel ch
              // at pooled + ch * pooled_stride
  T* mean;    // (c) mean of z = g * gate_h * gate_w
  T* rstd;    // (c) reciprocal std of z
  T* x21;     // (c) softmax of the 3x3 branch's channel means
  T* window;  // (c, 9) sums of the input over each tap's window
  int64_t pooled_stride;
};

// One group's shares of the parameter gradients.
template <typename T>
struct GroupGrads {
  T* kernel;  // (c, 9) gradient of the merged kernel
  T* sum_p;   // (1) sum of the logits' gradient p
  T* means3;  // (c) gradient of the 3x3 branch's channel means
  T* sum_pz;  // (c) sum over the plane of p * z
  T* pre1;    // (c, h + w) gradient of conv1x1's outputs (pre-sigmoid),
              // channel ch at pre1 + ch * pre1_stride
  int64_t pre1_stride;
};

// The next group's maps, whose cache lines a group's compute loops hint a
// line at a time, so that fetching them overlaps the arithmetic. Offsets
// are from the start of the group; null pointers are skipped.
template <typename T>
struct NextGroup {
  const T* input;  // x
  const T* grad;   // backward: grad_y; forward: null
  T* output;       // y in forward, grad_x in backward (null if none)
};

// The column masks of the 3x3 taps over a flattened plane (i = y * w + x).
template <typename T>
struct PlaneMasks {
  const T* left;   // (h * w) 1 where x >= 1: taps kx = 0 read x - 1
  const T* right;  // (h * w) 1 where x <= w - 2: taps kx = 2 read x + 1
};

// Fill masks (2 * h * w values): left then right.
template <typename T>
PlaneMasks<T> make_masks(T* buf, int64_t h, int64_t w) {
  const int64_t area = h * w;
  for (int64_t i = 0; i < area; ++i) {
    const int64_t x = i % w;
    buf[i] = x >= 1 ? T(1) : T(0);
    buf[area + i] = x + 1 < w ? T(1) : T(0);
  }
  return {buf, buf + area};
}

}  // namespace mmema
